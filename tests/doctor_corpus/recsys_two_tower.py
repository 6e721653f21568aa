# doctor corpus: two-tower retrieval model (user tower / item tower, dot-product score) on implicit feedback with BCE
# modelled on: PyTorch FAQ "Don't accumulate history across your training loop" (a smoothed running loss kept for the progress log)
# expect: leaked-graph
import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

# ---------------- config ----------------
SEED = 7
N_USERS, N_ITEMS = 600, 900
TRUE_DIM = 6            # latent dimension of the synthetic preferences
USER_FEATS, ITEM_FEATS = 12, 10
EMB_DIM = 32
N_TRAIN, N_VAL = 60_000, 8_000
BATCH = 256
STEPS = 400
LR = 3e-3
LOG_EVERY = 50

torch.manual_seed(SEED)
rng = np.random.default_rng(SEED)
device = "cuda" if torch.cuda.is_available() else "cpu"

# ---------------- synthetic interactions ----------------
U = rng.normal(size=(N_USERS, TRUE_DIM)).astype(np.float32)
V = rng.normal(size=(N_ITEMS, TRUE_DIM)).astype(np.float32)
# side features are noisy projections of the hidden factors
user_x = U @ rng.normal(size=(TRUE_DIM, USER_FEATS)).astype(np.float32) + 0.3 * rng.normal(size=(N_USERS, USER_FEATS)).astype(np.float32)
item_x = V @ rng.normal(size=(TRUE_DIM, ITEM_FEATS)).astype(np.float32) + 0.3 * rng.normal(size=(N_ITEMS, ITEM_FEATS)).astype(np.float32)


def sample_pairs(n):
    u = rng.integers(0, N_USERS, size=n)
    i = rng.integers(0, N_ITEMS, size=n)
    score = (U[u] * V[i]).sum(1)
    y = (score > np.quantile(score, 0.75)).astype(np.float32)   # ~25% positives
    return torch.from_numpy(u), torch.from_numpy(i), torch.from_numpy(y)


tr_u, tr_i, tr_y = sample_pairs(N_TRAIN)
va_u, va_i, va_y = sample_pairs(N_VAL)
user_x_t = torch.from_numpy(user_x).to(device)   # (N_USERS, USER_FEATS)
item_x_t = torch.from_numpy(item_x).to(device)   # (N_ITEMS, ITEM_FEATS)


# ---------------- model ----------------
class Tower(nn.Module):
    def __init__(self, n_ids, n_feats, dim):
        super().__init__()
        self.emb = nn.Embedding(n_ids, dim)
        self.mlp = nn.Sequential(nn.Linear(dim + n_feats, 64), nn.ReLU(), nn.Linear(64, dim))
        nn.init.normal_(self.emb.weight, std=0.05)

    def forward(self, ids, feats):
        h = torch.cat([self.emb(ids), feats], dim=-1)     # (B, dim + n_feats)
        return self.mlp(h)                                # (B, dim)


class TwoTower(nn.Module):
    def __init__(self):
        super().__init__()
        self.user = Tower(N_USERS, USER_FEATS, EMB_DIM)
        self.item = Tower(N_ITEMS, ITEM_FEATS, EMB_DIM)
        self.bias = nn.Parameter(torch.zeros(1))

    def forward(self, u, i):
        eu = self.user(u, user_x_t[u])                    # (B, D)
        ei = self.item(i, item_x_t[i])                    # (B, D)
        return (eu * ei).sum(-1) / EMB_DIM ** 0.5 + self.bias   # (B,)


def auc(scores, labels):
    order = torch.argsort(scores)
    ranks = torch.empty_like(order, dtype=torch.float32)
    ranks[order] = torch.arange(1, len(scores) + 1, dtype=torch.float32)
    n_pos = labels.sum()
    n_neg = len(labels) - n_pos
    return ((ranks[labels == 1].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg)).item()


model = TwoTower().to(device)
opt = torch.optim.Adam(model.parameters(), lr=LR)

# ---------------- training ----------------
smooth_loss = None
for step in range(1, STEPS + 1):
    idx = torch.randint(0, N_TRAIN, (BATCH,))
    u, i, y = tr_u[idx].to(device), tr_i[idx].to(device), tr_y[idx].to(device)

    logits = model(u, i)                                  # (B,)
    loss = F.binary_cross_entropy_with_logits(logits, y)

    opt.zero_grad()
    loss.backward()
    opt.step()

    smooth_loss = loss if smooth_loss is None else 0.95 * smooth_loss + 0.05 * loss
    if step % LOG_EVERY == 0:
        print(f"step {step:4d}  loss(smoothed) {smooth_loss.item():.4f}")

# ---------------- evaluation ----------------
model.eval()
with torch.no_grad():
    scores = model(va_u.to(device), va_i.to(device)).cpu()
    val_loss = F.binary_cross_entropy_with_logits(scores, va_y).item()
print(f"val loss {val_loss:.4f}  val AUC {auc(scores, va_y):.3f}")
