"""Train an embedding network for re-identification with a batch-hard triplet loss, then report recall@1.

Shapes: N samples, B batch (P identities x K samples each), D input features, E embedding width.
"""
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

# -----------------------------------------------------------------------------
# config
n_ids = 64             # identities in the training set
n_per_id = 64          # samples per identity
n_features = 64        # input features per sample (a sensor's descriptor)
n_latent = 16          # dimensions that carry the identity
ids_per_batch = 16     # P: identities per batch
per_id = 4             # K: samples of each identity per batch
hidden = 128           # width of the hidden layer
emb_dim = 32           # embedding width
margin = 0.2           # triplet margin (embeddings have unit length)
max_steps = 300        # optimizer steps
learning_rate = 2e-3   # AdamW peak learning rate
weight_decay = 1e-4    # AdamW weight decay
log_interval = 50      # steps between progress lines
task_seed = 1234       # fixes the identities and the sensor (the task itself)
seed = 0               # fixes the model init, the samples and the batches
# -----------------------------------------------------------------------------

torch.manual_seed(seed)
device = "cuda" if torch.cuda.is_available() else "mps" if torch.backends.mps.is_available() else "cpu"
batch_size = ids_per_batch * per_id


def make_samples(n_per, sample_seed):
    """Identities come in look-alike pairs; each sample mixes its identity with strong nuisance factors."""
    task = torch.Generator().manual_seed(task_seed)
    pairs = torch.randn(n_ids // 2, n_latent, generator=task)  # (n_ids/2, L)
    centers = pairs.repeat_interleave(2, dim=0) + 0.35 * torch.randn(n_ids, n_latent, generator=task)  # (n_ids, L)
    sensor = torch.randn(n_features, n_features, generator=task) / n_features**0.5  # (D, D)
    g = torch.Generator().manual_seed(sample_seed)
    y = torch.arange(n_ids).repeat_interleave(n_per)  # (N,)
    identity = centers[y] + 0.15 * torch.randn(len(y), n_latent, generator=g)  # (N, L)
    nuisance = 1.2 * torch.randn(len(y), n_features - n_latent, generator=g)  # (N, D-L)
    return torch.cat([identity, nuisance], dim=1) @ sensor, y  # (N, D), (N,)


def batch_hard_triplet_loss(emb, labels):
    """Each anchor against its farthest positive and its nearest negative in the batch (Hermans et al., 2017)."""
    losses = []
    for i in range(emb.size(0)):
        dist = (emb - emb[i]).norm(dim=1)  # (B,)
        same = labels == labels[i]  # (B,)
        same[i] = False
        hardest_pos = dist[same].max()
        hardest_neg = dist[labels != labels[i]].min()
        losses.append(F.relu(hardest_pos - hardest_neg + margin))
    return torch.stack(losses).mean()


class Embedder(nn.Module):
    def __init__(self):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(n_features, hidden), nn.GELU(), nn.Linear(hidden, emb_dim))

    def forward(self, x):  # x: (B, D)
        return F.normalize(self.net(x), dim=-1)  # (B, E) on the unit sphere


x_train, y_train = make_samples(n_per_id, sample_seed=seed)
x_train, y_train = x_train.to(device), y_train.to(device)
by_id = torch.arange(len(y_train), device=device).view(n_ids, n_per_id)  # (n_ids, n_per_id) sample indices
model = Embedder().to(device)
optimizer = torch.optim.AdamW(model.parameters(), lr=learning_rate, weight_decay=weight_decay)
scheduler = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=learning_rate, total_steps=max_steps, pct_start=0.1)
print(f"{sum(p.numel() for p in model.parameters())} parameters on {device}, batches of {ids_per_batch} x {per_id}")


@torch.no_grad()
def recall_at_1(x, y):
    """Share of samples whose nearest other sample belongs to the same identity."""
    model.eval()
    emb = model(x)  # (N, E)
    dist = torch.cdist(emb, emb).fill_diagonal_(float("inf"))  # (N, N)
    model.train()
    return (y[dist.argmin(dim=1)] == y).float().mean().item()


# -----------------------------------------------------------------------------
# training loop: P identities x K samples per batch
t0 = time.time()
for step in range(max_steps):
    ids = torch.randperm(n_ids, device=device)[:ids_per_batch]  # (P,)
    picks = torch.rand(ids_per_batch, n_per_id, device=device).argsort(dim=1)[:, :per_id]  # (P, K)
    idx = by_id[ids[:, None], picks].flatten()  # (B,)
    emb = model(x_train[idx])  # (B, E)
    loss = batch_hard_triplet_loss(emb, y_train[idx])
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    optimizer.step()
    scheduler.step()
    if step % log_interval == 0 or step == max_steps - 1:
        print(f"step {step:4d} | loss {loss.item():.4f} | {1000 * (time.time() - t0) / (step + 1):.1f} ms/step")

x_val, y_val = make_samples(16, sample_seed=seed + 1)
print(f"val recall@1 {recall_at_1(x_val.to(device), y_val.to(device)):.3f}")
