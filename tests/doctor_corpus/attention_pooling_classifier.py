# doctor corpus: a set classifier with additive attention pooling: which of 4 signature events hides among 12 noisy log events
# modelled on: PyTorch forums / Stack Overflow "attention weights softmax over the wrong dimension" -- F.softmax(scores, dim=0) on a (batch, seq) score tensor, so weights normalise across the batch (https://discuss.pytorch.org/)
# expect: batch-axis-normalisation
import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

# ---------------- config ----------------
SEED = 17
SET_SIZE = 12             # events per sample
EVENT_DIM = 16
N_CLASSES = 4
N_TRAIN, N_VAL = 4096, 1024
BATCH_SIZE = 64
EPOCHS = 5
LR = 2e-3
HIDDEN = 64
device = "cuda" if torch.cuda.is_available() else "cpu"

torch.manual_seed(SEED)
rng = np.random.default_rng(SEED)

# ---------------- data ----------------
signatures = rng.standard_normal((N_CLASSES, EVENT_DIM)) * 1.5


def make_sets(n):
    x = rng.standard_normal((n, SET_SIZE, EVENT_DIM))            # (N, T, E) background events
    y = rng.integers(0, N_CLASSES, size=n)
    pos = rng.integers(0, SET_SIZE, size=n)
    x[np.arange(n), pos] = signatures[y] + 0.3 * rng.standard_normal((n, EVENT_DIM))
    return torch.as_tensor(x, dtype=torch.float32), torch.as_tensor(y)


x_tr, y_tr = make_sets(N_TRAIN)
x_va, y_va = make_sets(N_VAL)
x_tr, y_tr, x_va, y_va = x_tr.to(device), y_tr.to(device), x_va.to(device), y_va.to(device)


# ---------------- model ----------------
class AttentionPool(nn.Module):
    def __init__(self, dim, attn_dim=32):
        super().__init__()
        self.proj = nn.Linear(dim, attn_dim)
        self.score = nn.Linear(attn_dim, 1, bias=False)

    def forward(self, h):                                  # h: (B, T, H)
        scores = self.score(torch.tanh(self.proj(h))).squeeze(-1)   # (B, T)
        weights = F.softmax(scores, dim=0)                 # (B, T)
        return torch.einsum("bt,bth->bh", weights, h), weights      # (B, H)


class SetClassifier(nn.Module):
    def __init__(self, in_dim, hidden, n_classes):
        super().__init__()
        self.encoder = nn.Sequential(nn.Linear(in_dim, hidden), nn.ReLU(), nn.Linear(hidden, hidden))
        self.pool = AttentionPool(hidden)
        self.classifier = nn.Sequential(nn.ReLU(), nn.Linear(hidden, n_classes))

    def forward(self, x):                                  # x: (B, T, E)
        h = self.encoder(x)                                # (B, T, H)
        pooled, _ = self.pool(h)                           # (B, H)
        return self.classifier(pooled)                     # (B, K)


model = SetClassifier(EVENT_DIM, HIDDEN, N_CLASSES).to(device)
optimizer = torch.optim.Adam(model.parameters(), lr=LR)
criterion = nn.CrossEntropyLoss()

# ---------------- training ----------------
step = 0
for epoch in range(EPOCHS):
    model.train()
    perm = torch.randperm(N_TRAIN, device=device)
    for start in range(0, N_TRAIN, BATCH_SIZE):
        idx = perm[start:start + BATCH_SIZE]
        logits = model(x_tr[idx])                          # (B, K)
        loss = criterion(logits, y_tr[idx])

        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        step += 1
        if step % 40 == 0:
            print(f"epoch {epoch + 1} step {step:4d}  loss {loss.item():.4f}")

# ---------------- evaluation ----------------
model.eval()
with torch.no_grad():
    logits = model(x_va)                                   # whole validation set as one batch
    val_loss = criterion(logits, y_va).item()
    val_acc = (logits.argmax(1) == y_va).float().mean().item()
print(f"val loss {val_loss:.4f} (chance {np.log(N_CLASSES):.4f})  val acc {val_acc:.3f}")
