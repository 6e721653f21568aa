"""Train a product-category classifier on image embeddings streamed from shard files through a shuffle buffer."""
import glob
import math
import os
import random
import tempfile
import time

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.utils.data import DataLoader, IterableDataset

# -----------------------------------------------------------------------------
# config
n_features = 32         # embedding width
n_classes = 4           # product categories
radius = 3.5            # how far apart the categories sit, in noise standard deviations
shards_per_class = 32   # shard files the vendor exported per category
shard_size = 64         # examples per shard file
buffer_size = 512       # shuffle buffer, in examples (what the loader nodes can hold)
batch_size = 32         # examples per optimizer step
n_hidden = 64           # MLP width
learning_rate = 3e-3    # AdamW learning rate
weight_decay = 1e-4     # AdamW weight decay
log_interval = 32       # steps between progress lines
task_seed = 1234        # fixes where each category sits (the task itself)
seed = 0                # fixes the model init, the exported examples and the stream's shuffling
# -----------------------------------------------------------------------------

torch.manual_seed(seed)
device = "cuda" if torch.cuda.is_available() else "mps" if torch.backends.mps.is_available() else "cpu"


def make_examples(labels, g):
    """Each category clusters around its own point of a plane inside the embedding space."""
    task = torch.Generator().manual_seed(task_seed)
    basis, _ = torch.linalg.qr(torch.randn(n_features, 2, generator=task))  # (D, 2) orthonormal
    angle = 2 * math.pi * labels / n_classes  # (N,)
    centre = radius * torch.stack([angle.cos(), angle.sin()], dim=1) @ basis.T  # (N, D)
    return centre + torch.randn(len(labels), n_features, generator=g)  # (N, D)


def export_shards(folder, g):
    """The vendor's export: shard files of shard_size examples, written category by category."""
    for label in range(n_classes):
        for k in range(shards_per_class):
            y = torch.full((shard_size,), label)  # (S,)
            torch.save({"x": make_examples(y, g), "y": y}, os.path.join(folder, f"cat{label}-{k:03d}.pt"))


class ShardStream(IterableDataset):
    """Streams (embedding, label) pairs shard by shard through a shuffle buffer; only one shard and the buffer are in memory."""

    def __init__(self, paths, buffer_size, seed):
        self.paths, self.buffer_size, self.seed = paths, buffer_size, seed

    def __iter__(self):
        rng = random.Random(self.seed)
        buffer = []
        for path in self.paths:
            shard = torch.load(path)
            for example in zip(shard["x"], shard["y"]):
                buffer.append(example)
                if len(buffer) == self.buffer_size:
                    yield buffer.pop(rng.randrange(self.buffer_size))
        rng.shuffle(buffer)
        yield from buffer


shard_dir = tempfile.TemporaryDirectory()
export_shards(shard_dir.name, torch.Generator().manual_seed(seed))
paths = sorted(glob.glob(os.path.join(shard_dir.name, "*.pt")))
n_examples = len(paths) * shard_size
train_loader = DataLoader(ShardStream(paths, buffer_size, seed), batch_size=batch_size)
max_iters = n_examples // batch_size

val_g = torch.Generator().manual_seed(seed + 1)
y_val = torch.randint(n_classes, (2048,), generator=val_g)  # (V,)
x_val = make_examples(y_val, val_g)  # (V, D)

model = nn.Sequential(nn.Linear(n_features, n_hidden), nn.ReLU(), nn.Linear(n_hidden, n_classes)).to(device)
optimizer = torch.optim.AdamW(model.parameters(), lr=learning_rate, weight_decay=weight_decay)
print(f"{sum(p.numel() for p in model.parameters())} parameters | {len(paths)} shards, {n_examples} examples | {max_iters} steps")


@torch.no_grad()
def accuracy(x, y):
    model.eval()
    acc = (model(x.to(device)).argmax(dim=-1) == y.to(device)).float().mean().item()
    model.train()
    return acc


model.train()
t0 = time.time()
for step, (x, y) in enumerate(train_loader):
    x, y = x.to(device), y.to(device)  # (B, D), (B,)
    loss = F.cross_entropy(model(x), y)
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    optimizer.step()
    if step % log_interval == 0 or step == max_iters - 1:
        print(f"step {step:4d} | loss {loss.item():.4f}")

print(f"{max_iters} steps in {time.time() - t0:.1f}s | val accuracy {accuracy(x_val, y_val):.3f}")
shard_dir.cleanup()
