# doctor corpus: a multi-label product tagger (8 tags) over bag-of-words count vectors
# modelled on: PyTorch forums / Stack Overflow "loss becomes nan after some iterations" with a custom BCE written as -(y*log(p) + (1-y)*log(1-p)) on sigmoid outputs (https://discuss.pytorch.org/)
# expect: non-finite
import numpy as np
import torch
import torch.nn as nn

# ---------------- config ----------------
SEED = 13
VOCAB = 300
N_TAGS = 8
WORDS_PER_TAG = 6
DOC_WORDS = 40
N_TRAIN, N_VAL = 3000, 600
BATCH_SIZE = 50
EPOCHS = 6
LR = 5e-3
device = "cuda" if torch.cuda.is_available() else "cpu"

torch.manual_seed(SEED)
rng = np.random.default_rng(SEED)

# ---------------- data ----------------
tag_words = rng.choice(VOCAB, size=(N_TAGS, WORDS_PER_TAG), replace=False)   # indicator words per tag


def make_products(n):
    tags = (rng.random((n, N_TAGS)) < 0.3).astype(np.float32)               # (N, T) multi-hot
    counts = np.zeros((n, VOCAB), dtype=np.float32)                           # (N, V) word counts
    for i in range(n):
        words = list(rng.integers(0, VOCAB, size=DOC_WORDS))
        for t in np.flatnonzero(tags[i]):
            words += list(rng.choice(tag_words[t], size=3))
        np.add.at(counts[i], words, 1.0)
    return torch.from_numpy(counts), torch.from_numpy(tags)


x_tr, y_tr = make_products(N_TRAIN)
x_va, y_va = make_products(N_VAL)
x_tr, y_tr, x_va, y_va = x_tr.to(device), y_tr.to(device), x_va.to(device), y_va.to(device)


# ---------------- model ----------------
class Tagger(nn.Module):
    def __init__(self, vocab, n_tags, hidden=128):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(vocab, hidden), nn.ReLU(), nn.Linear(hidden, n_tags))

    def forward(self, counts):                       # counts: (B, V)
        return torch.sigmoid(self.net(counts))       # (B, T) tag probabilities


def binary_cross_entropy(p, y):
    return -(y * torch.log(p) + (1 - y) * torch.log(1 - p)).mean()


model = Tagger(VOCAB, N_TAGS).to(device)
optimizer = torch.optim.Adam(model.parameters(), lr=LR)

# ---------------- training ----------------
step = 0
for epoch in range(EPOCHS):
    model.train()
    perm = torch.randperm(N_TRAIN, device=device)
    for start in range(0, N_TRAIN, BATCH_SIZE):
        idx = perm[start:start + BATCH_SIZE]
        probs = model(x_tr[idx])                     # (B, T)
        loss = binary_cross_entropy(probs, y_tr[idx])

        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        step += 1
        if step % 30 == 0:
            print(f"epoch {epoch + 1} step {step:4d}  bce {loss.item():.4f}")

# ---------------- evaluation ----------------
model.eval()
with torch.no_grad():
    probs = model(x_va)
    val_bce = binary_cross_entropy(probs, y_va).item()
    pred = probs > 0.5
    tp = (pred & (y_va > 0)).sum().item()
    f1 = 2 * tp / max(pred.sum().item() + (y_va > 0).sum().item(), 1)
prior = y_tr.mean().item()
chance = -(prior * np.log(prior) + (1 - prior) * np.log(1 - prior))
print(f"val bce {val_bce:.4f} (prior-only {chance:.4f})  micro-F1 {f1:.3f}")
