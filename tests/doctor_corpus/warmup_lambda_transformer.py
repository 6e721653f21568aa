# doctor corpus: a 2-layer Transformer encoder classifying which of 6 symbols dominates a 16-token sequence, with LR warmup
# modelled on: PyTorch forums / GitHub issues on LambdaLR warmup "loss explodes after warmup" -- the warmup lambda step / warmup_steps is never capped at 1, so the LR keeps rising linearly (https://pytorch.org/docs/stable/generated/torch.optim.lr_scheduler.LambdaLR.html)
# expect: lr-explosion
import math

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

# ---------------- config ----------------
SEED = 4
VOCAB = 6
SEQ_LEN = 16
N_TRAIN, N_VAL = 8192, 1024
BATCH_SIZE = 32
TOTAL_STEPS = 200
WARMUP_STEPS = 8
LR = 2e-3
D_MODEL, N_HEADS, N_LAYERS = 32, 4, 2
device = "cuda" if torch.cuda.is_available() else "cpu"

torch.manual_seed(SEED)
rng = np.random.default_rng(SEED)


# ---------------- data ----------------
def make_sequences(n):
    """Tokens drawn from a random skewed distribution; the label is the most frequent token."""
    probs = rng.dirichlet(np.full(VOCAB, 0.7), size=n)                         # (N, V)
    cdf = probs.cumsum(1)[:, None, :]                                         # (N, 1, V)
    toks = (rng.random((n, SEQ_LEN, 1)) > cdf).sum(-1).clip(max=VOCAB - 1)    # (N, T)
    counts = np.stack([(toks == v).sum(1) for v in range(VOCAB)], 1)          # (N, V)
    labels = (counts + 1e-3 * rng.random(counts.shape)).argmax(1)             # random tie break
    return torch.as_tensor(toks), torch.as_tensor(labels)


x_tr, y_tr = make_sequences(N_TRAIN)
x_va, y_va = make_sequences(N_VAL)
x_tr, y_tr, x_va, y_va = x_tr.to(device), y_tr.to(device), x_va.to(device), y_va.to(device)


# ---------------- model ----------------
class MajorityTransformer(nn.Module):
    def __init__(self):
        super().__init__()
        self.tok = nn.Embedding(VOCAB, D_MODEL)
        self.pos = nn.Parameter(torch.randn(1, SEQ_LEN, D_MODEL) * 0.02)
        layer = nn.TransformerEncoderLayer(D_MODEL, N_HEADS, dim_feedforward=4 * D_MODEL,
                                           dropout=0.0, batch_first=True)
        self.encoder = nn.TransformerEncoder(layer, N_LAYERS, enable_nested_tensor=False)
        self.norm = nn.LayerNorm(D_MODEL)
        self.head = nn.Linear(D_MODEL, VOCAB)

    def forward(self, tokens):                          # tokens: (B, T)
        h = self.tok(tokens) + self.pos                 # (B, T, D)
        h = self.encoder(h)                             # (B, T, D)
        return self.head(self.norm(h.mean(1)))          # (B, V)


model = MajorityTransformer().to(device)
optimizer = torch.optim.AdamW(model.parameters(), lr=LR, weight_decay=0.01)
scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lr_lambda=lambda step: (step + 1) / WARMUP_STEPS)

# ---------------- training ----------------
model.train()
running = 0.0
for step in range(TOTAL_STEPS):
    idx = torch.randint(0, N_TRAIN, (BATCH_SIZE,), device=device)
    logits = model(x_tr[idx])                           # (B, V)
    loss = F.cross_entropy(logits, y_tr[idx])

    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
    scheduler.step()

    running += loss.item()
    if (step + 1) % 25 == 0:
        print(f"step {step + 1:4d}  loss {running / 25:.4f}  lr {scheduler.get_last_lr()[0]:.2e}")
        running = 0.0

# ---------------- evaluation ----------------
model.eval()
with torch.no_grad():
    logits = model(x_va)
    val_loss = F.cross_entropy(logits, y_va).item()
    val_acc = (logits.argmax(1) == y_va).float().mean().item()
print(f"val loss {val_loss:.4f} (chance {math.log(VOCAB):.4f})  val acc {val_acc:.3f}")
