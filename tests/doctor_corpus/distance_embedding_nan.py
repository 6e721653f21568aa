# doctor corpus: embedding network trained with a batch-hard triplet loss on synthetic speaker-style identity vectors
# modelled on: batch-hard triplet loss NaN reports; blog/code "Triplet Loss and Online Triplet Mining" (omoindrot/tensorflow-triplet-loss, _pairwise_distances: the sqrt gradient is infinite where a distance is exactly 0, e.g. on the diagonal, so ports that drop its epsilon train on NaN), https://omoindrot.github.io/triplet-loss
# expect: non-finite
import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

# ---------------- config ----------------
SEED = 4
N_IDENTITIES = 40
D_IN = 64
EMB = 16
P, K = 8, 4              # identities per batch, samples per identity -> batch of 32
MARGIN = 0.3
STEPS = 300
LR = 1e-3
LOG_EVERY = 30

np.random.seed(SEED)
torch.manual_seed(SEED)
device = "cuda" if torch.cuda.is_available() else "cpu"

# ---------------- synthetic identities ----------------
prototypes = torch.randn(N_IDENTITIES, 24)
lift = torch.randn(24, D_IN) / 24 ** 0.5
train_ids = torch.arange(30)             # identities seen in training
test_ids = torch.arange(30, 40)          # unseen identities for retrieval eval


def sample(ids, per_id):
    labels = ids.repeat_interleave(per_id)                                     # (P*K,)
    latent = prototypes[labels] + 0.6 * torch.randn(len(labels), 24)
    x = torch.tanh(latent @ lift) + 0.1 * torch.randn(len(labels), D_IN)      # (P*K, D_IN)
    return x, labels


# ---------------- model ----------------
class Embedder(nn.Module):
    def __init__(self):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(D_IN, 128), nn.ReLU(), nn.Linear(128, 128), nn.ReLU(), nn.Linear(128, EMB))

    def forward(self, x):                        # (B, D_IN)
        return F.normalize(self.net(x), dim=-1)  # (B, EMB), unit norm


def pairwise_distances(emb):                     # (B, E)
    diff = emb[:, None, :] - emb[None, :, :]     # (B, B, E)
    return torch.sqrt((diff ** 2).sum(-1))       # (B, B)


def batch_hard_triplet_loss(emb, labels, margin):
    dist = pairwise_distances(emb)                               # (B, B)
    same = labels[:, None] == labels[None, :]                    # (B, B)
    eye = torch.eye(len(labels), dtype=torch.bool, device=emb.device)
    pos_mask = (same & ~eye).float()
    hardest_pos = (dist * pos_mask).max(dim=1).values            # (B,)
    hardest_neg = (dist + 4.0 * same.float()).min(dim=1).values  # (B,)
    return F.relu(hardest_pos - hardest_neg + margin).mean()


model = Embedder().to(device)
optimizer = torch.optim.Adam(model.parameters(), lr=LR)

# ---------------- training ----------------
model.train()
running = 0.0
for step in range(1, STEPS + 1):
    batch_ids = train_ids[torch.randperm(len(train_ids))[:P]]
    x, y = sample(batch_ids, K)
    x, y = x.to(device), y.to(device)
    loss = batch_hard_triplet_loss(model(x), y, MARGIN)
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
    running += loss.item()
    if step % LOG_EVERY == 0:
        print(f"step {step:4d} | triplet loss {running / LOG_EVERY:.4f}")
        running = 0.0


# ---------------- evaluation: recall@1 on unseen identities ----------------
model.eval()
with torch.no_grad():
    x, y = sample(test_ids, 20)
    emb = model(x.to(device))
    d = torch.cdist(emb, emb)
    d.fill_diagonal_(float("inf"))
    nearest = d.argmin(dim=1).cpu()
    recall1 = (y[nearest] == y).float().mean().item()
print(f"recall@1 on {len(test_ids)} unseen identities: {recall1:.3f} (chance {1 / len(test_ids):.3f})")
