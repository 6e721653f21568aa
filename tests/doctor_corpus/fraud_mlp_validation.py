# doctor corpus: MLP with Dropout scoring synthetic card transactions as fraud / not fraud
# modelled on: Stack Overflow "What does model.eval() do in pytorch?" (answers warn to switch back with model.train() after the eval step; validation left the model in eval mode for later epochs), https://stackoverflow.com/questions/60018578/what-does-model-eval-do-in-pytorch
# expect: training-in-eval-mode
import numpy as np
import torch
import torch.nn as nn
from torch.utils.data import DataLoader, TensorDataset

# ---------------- config ----------------
SEED = 7
N_FEATURES = 24
N_TRAIN = 6000
N_VAL = 1500
BATCH = 100
EPOCHS = 6               # 60 steps per epoch
LR = 1e-3
WEIGHT_DECAY = 1e-4
DROPOUT = 0.3
LOG_EVERY = 30

np.random.seed(SEED)
torch.manual_seed(SEED)
device = "cuda" if torch.cuda.is_available() else "cpu"

# ---------------- synthetic transactions ----------------
# features: standardised amount, hour-of-day encodings, merchant risk, velocity counts, ...
rng = np.random.default_rng(SEED)
w1 = rng.normal(size=(N_FEATURES,))
w2 = rng.normal(size=(N_FEATURES,))


def make_split(n):
    x = rng.normal(size=(n, N_FEATURES)).astype(np.float32)
    amount, velocity, risk = x[:, 0], x[:, 1], x[:, 2]
    score = 1.5 * amount * velocity + 1.2 * np.maximum(risk, 0) + 0.4 * (x @ w1) * np.tanh(x @ w2) / 3
    score += 0.3 * rng.normal(size=n)
    y = (score > np.quantile(score, 0.7)).astype(np.float32)    # ~30% fraud
    return torch.from_numpy(x), torch.from_numpy(y)


x_train, y_train = make_split(N_TRAIN)   # (N, F), (N,)
x_val, y_val = make_split(N_VAL)
mean, std = x_train.mean(0), x_train.std(0)
x_train, x_val = (x_train - mean) / std, (x_val - mean) / std

train_loader = DataLoader(TensorDataset(x_train, y_train), batch_size=BATCH, shuffle=True)
val_loader = DataLoader(TensorDataset(x_val, y_val), batch_size=500)


# ---------------- model ----------------
class FraudMLP(nn.Module):
    def __init__(self, d_in, hidden=128):
        super().__init__()
        self.net = nn.Sequential(
            nn.Linear(d_in, hidden), nn.ReLU(), nn.Dropout(DROPOUT),
            nn.Linear(hidden, hidden), nn.ReLU(), nn.Dropout(DROPOUT),
            nn.Linear(hidden, 1),
        )

    def forward(self, x):                # (B, F)
        return self.net(x).squeeze(-1)   # (B,)


model = FraudMLP(N_FEATURES).to(device)
optimizer = torch.optim.AdamW(model.parameters(), lr=LR, weight_decay=WEIGHT_DECAY)
criterion = nn.BCEWithLogitsLoss()


def evaluate(loader):
    model.eval()
    tot, correct, n = 0.0, 0, 0
    with torch.no_grad():
        for xb, yb in loader:
            xb, yb = xb.to(device), yb.to(device)
            logits = model(xb)
            tot += criterion(logits, yb).item() * len(yb)
            correct += ((logits > 0).float() == yb).sum().item()
            n += len(yb)
    return tot / n, correct / n


# ---------------- training ----------------
base_rate = y_train.mean().item()
chance = -(base_rate * np.log(base_rate) + (1 - base_rate) * np.log(1 - base_rate))
print(f"fraud rate {base_rate:.3f} | constant-predictor BCE {chance:.4f}")

model.train()
step = 0
for epoch in range(EPOCHS):
    for xb, yb in train_loader:
        xb, yb = xb.to(device), yb.to(device)
        logits = model(xb)               # (B,)
        loss = criterion(logits, yb)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        step += 1
        if step % LOG_EVERY == 0:
            print(f"epoch {epoch} step {step:4d} | train loss {loss.item():.4f}")
    val_loss, val_acc = evaluate(val_loader)
    print(f"epoch {epoch} | val loss {val_loss:.4f} | val acc {val_acc:.3f}")

print(f"final val loss {val_loss:.4f} | val acc {val_acc:.3f}")
