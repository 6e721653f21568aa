# doctor corpus: 1-D CNN (Conv1d + BatchNorm1d + Dropout) classifying synthetic ECG rhythm strips
# modelled on: PyTorch forums thread "Model.eval() vs with torch.no_grad()" (validation run under no_grad only, dropout and batchnorm left in training mode), https://discuss.pytorch.org/t/model-eval-vs-with-torch-no-grad/19615
# expect: eval-in-train-mode
import math

import numpy as np
import torch
import torch.nn as nn
from torch.utils.data import DataLoader, TensorDataset

# ---------------- config ----------------
SEED = 1
N_CLASSES = 3            # 0 = normal sinus, 1 = tachycardia, 2 = irregular rhythm
SIG_LEN = 256
FS = 100.0               # Hz
N_TRAIN = 1536
N_VAL = 512
BATCH = 32
EPOCHS = 4               # 48 steps per epoch
LR = 4e-3
LOG_EVERY = 24

np.random.seed(SEED)
torch.manual_seed(SEED)
device = "cuda" if torch.cuda.is_available() else "cpu"


# ---------------- synthetic ECG strips ----------------
def beat_train(beat_times, t):
    sig = np.zeros_like(t)
    for bt in beat_times:
        sig += 1.0 * np.exp(-((t - bt) ** 2) / (2 * 0.012 ** 2))          # R peak
        sig += 0.25 * np.exp(-((t - bt - 0.18) ** 2) / (2 * 0.04 ** 2))   # T wave
    return sig


def make_split(n):
    t = np.arange(SIG_LEN) / FS
    xs = np.zeros((n, 1, SIG_LEN), dtype=np.float32)
    ys = np.random.randint(0, N_CLASSES, size=n)
    for i, c in enumerate(ys):
        if c == 0:
            rr = np.full(8, np.random.uniform(0.75, 1.0))
        elif c == 1:
            rr = np.full(12, np.random.uniform(0.4, 0.55))
        else:
            rr = np.random.uniform(0.35, 1.1, size=12)
        beats = np.cumsum(rr) - np.random.uniform(0, rr[0])
        sig = beat_train(beats, t)
        sig += 0.15 * np.sin(2 * np.pi * np.random.uniform(0.1, 0.4) * t)    # baseline wander
        sig += 0.08 * np.random.randn(SIG_LEN)
        xs[i, 0] = sig
    return torch.from_numpy(xs), torch.from_numpy(ys).long()


x_train, y_train = make_split(N_TRAIN)   # (N, 1, L), (N,)
x_val, y_val = make_split(N_VAL)
train_loader = DataLoader(TensorDataset(x_train, y_train), batch_size=BATCH, shuffle=True)
val_loader = DataLoader(TensorDataset(x_val, y_val), batch_size=128)


# ---------------- model ----------------
def conv_block(c_in, c_out):
    return nn.Sequential(
        nn.Conv1d(c_in, c_out, kernel_size=5, padding=2),
        nn.BatchNorm1d(c_out),
        nn.ReLU(),
        nn.MaxPool1d(2),
    )


class ECGNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.features = nn.Sequential(conv_block(1, 8), conv_block(8, 16), conv_block(16, 32))
        self.head = nn.Sequential(nn.Dropout(0.3), nn.Linear(32 * 2, 64), nn.ReLU(), nn.Dropout(0.3), nn.Linear(64, N_CLASSES))

    def forward(self, x):                    # (B, 1, L)
        h = self.features(x)                 # (B, 32, L/8)
        h = torch.cat([h.mean(-1), h.amax(-1)], dim=1)   # (B, 64)
        return self.head(h)                  # (B, K)


model = ECGNet().to(device)
optimizer = torch.optim.Adam(model.parameters(), lr=LR)
criterion = nn.CrossEntropyLoss()


def validate():
    total_loss, correct, seen = 0.0, 0, 0
    with torch.no_grad():
        for xb, yb in val_loader:
            xb, yb = xb.to(device), yb.to(device)
            logits = model(xb)
            total_loss += criterion(logits, yb).item() * len(yb)
            correct += (logits.argmax(-1) == yb).sum().item()
            seen += len(yb)
    return total_loss / seen, correct / seen


# ---------------- training ----------------
print(f"chance loss ln({N_CLASSES}) = {math.log(N_CLASSES):.3f}")
step = 0
for epoch in range(EPOCHS):
    model.train()
    for xb, yb in train_loader:
        xb, yb = xb.to(device), yb.to(device)
        logits = model(xb)                   # (B, K)
        loss = criterion(logits, yb)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        step += 1
        if step % LOG_EVERY == 0:
            print(f"epoch {epoch} step {step:4d} | train loss {loss.item():.4f}")
    val_loss, val_acc = validate()
    print(f"epoch {epoch} | val loss {val_loss:.4f} | val acc {val_acc:.3f}")

print("done")
