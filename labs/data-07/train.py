"""Train the feed's click model on a week of events streamed from shard files."""
import glob
import math
import os
import tempfile
import time

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.utils.data import DataLoader, IterableDataset

# -----------------------------------------------------------------------------
# config
n_users = 128           # users in the week's export
n_features = 4          # item features (topic mix of the post)
n_embd = 16             # width of the user and item embeddings
events_per_user = 64    # events per user in the week
n_shards = 16           # shard files; the export buckets users by user_id % n_shards
shards_in_memory = 2    # shards loaded and shuffled together
batch_size = 128        # events per optimizer step
num_workers = 2         # loader processes that read and decode the shards
prefetch_factor = 64    # batches each worker reads ahead
learning_rate = 5e-2    # AdamW peak learning rate
warmup_iters = 10       # linear warmup, then cosine decay to learning_rate / 10
log_interval = 8        # steps between progress lines
task_seed = 1234        # fixes every user's taste (the task itself)
seed = 0                # fixes the model init, the exported events and the stream's shuffling
# -----------------------------------------------------------------------------

torch.manual_seed(seed)
device = "cuda" if torch.cuda.is_available() else "mps" if torch.backends.mps.is_available() else "cpu"


def make_events(users, g):
    """Each user clicks on posts whose topic mix matches their taste."""
    taste = torch.randn(n_users, n_features, generator=torch.Generator().manual_seed(task_seed))  # (U, F)
    items = torch.randn(len(users), n_features, generator=g)  # (N, F)
    affinity = 10 * (taste[users] * items).sum(dim=1) / math.sqrt(n_features)  # (N,)
    return items, (torch.rand(len(users), generator=g) < torch.sigmoid(affinity)).float()


def export_shards(folder, g):
    """The event export: one shard file per bucket of users, events in time order."""
    for s in range(n_shards):
        users = torch.arange(s, n_users, n_shards).repeat(events_per_user)  # (S,)
        users = users[torch.randperm(len(users), generator=g)]
        items, clicks = make_events(users, g)
        torch.save({"user": users, "item": items, "click": clicks}, os.path.join(folder, f"events-{s:02d}.pt"))


class ShardStream(IterableDataset):
    """Streams batches of (user, item, click) events from the shard files: a few shards at a time
    are loaded, their events shuffled together and cut into batches, so memory only ever holds
    those shards."""

    def __init__(self, paths, shards_in_memory, batch_size, seed):
        self.paths, self.shards_in_memory, self.batch_size, self.seed = paths, shards_in_memory, batch_size, seed

    def __iter__(self):
        g = torch.Generator().manual_seed(self.seed)
        paths = [self.paths[j] for j in torch.randperm(len(self.paths), generator=g)]
        for i in range(0, len(paths), self.shards_in_memory):
            shards = [torch.load(path) for path in paths[i:i + self.shards_in_memory]]
            user, item, click = (torch.cat([shard[key] for shard in shards]) for key in ("user", "item", "click"))  # (S,), (S, F), (S,)
            for idx in torch.randperm(len(user), generator=g).split(self.batch_size):
                yield user[idx], item[idx], click[idx]  # (B,), (B, F), (B,)


class ClickModel(nn.Module):
    def __init__(self):
        super().__init__()
        self.user_emb = nn.Embedding(n_users, n_embd)
        self.item_proj = nn.Linear(n_features, n_embd)
        nn.init.normal_(self.user_emb.weight, std=0.02)

    def forward(self, user, item):  # (B,), (B, F)
        return (self.user_emb(user) * self.item_proj(item)).sum(dim=-1)  # (B,) click logits


def get_lr(it):
    if it < warmup_iters:
        return learning_rate * (it + 1) / warmup_iters
    progress = (it - warmup_iters) / (max_steps - warmup_iters)
    return learning_rate * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * progress)))


shard_dir = tempfile.TemporaryDirectory()
export_shards(shard_dir.name, torch.Generator().manual_seed(seed))
paths = sorted(glob.glob(os.path.join(shard_dir.name, "*.pt")))
n_events = n_users * events_per_user  # from the export's manifest
max_steps = n_events // batch_size  # one pass over the week
train_loader = DataLoader(ShardStream(paths, shards_in_memory, batch_size, seed), batch_size=None, num_workers=num_workers, prefetch_factor=prefetch_factor)

val_g = torch.Generator().manual_seed(seed + 1)
val_users = torch.arange(n_users).repeat(16)  # (V,) the next week: 16 events per user
val_items, val_clicks = make_events(val_users, val_g)  # (V, F), (V,)

model = ClickModel().to(device)
optimizer = torch.optim.AdamW(model.parameters(), lr=learning_rate, weight_decay=0.0)
print(f"{sum(p.numel() for p in model.parameters())} parameters | {len(paths)} shards, {n_events} events | {max_steps} steps")

model.train()
t0 = time.time()
batches = iter(train_loader)
for step in range(max_steps):
    for group in optimizer.param_groups:
        group["lr"] = get_lr(step)
    user, item, click = next(batches)
    user, item, click = user.to(device), item.to(device), click.to(device)  # (B,), (B, F), (B,)
    loss = F.binary_cross_entropy_with_logits(model(user, item), click)
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    optimizer.step()
    if step % log_interval == 0 or step == max_steps - 1:
        print(f"step {step:4d} | loss {loss.item():.4f} | lr {get_lr(step):.2e}")

model.eval()
with torch.no_grad():
    val_acc = ((model(val_users.to(device), val_items.to(device)) > 0).float() == val_clicks.to(device)).float().mean().item()
print(f"{max_steps} steps in {time.time() - t0:.1f}s | val accuracy {val_acc:.3f}")
shard_dir.cleanup()
