"""Train a small CNN to classify land cover in satellite tiles streamed from host memory, then report accuracy.

Shapes: N tiles, B batch, C bands, H height, W width, K classes.
"""
import math
import os
import time

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.utils.data import DataLoader, TensorDataset

# -----------------------------------------------------------------------------
# config
n_bands = 3            # spectral bands per tile
tile = 48              # tile height and width in pixels
n_classes = 10         # land-cover classes
n_train = 2048         # training tiles (the real archive does not fit on the GPU: it streams from host memory)
n_val = 512            # validation tiles
max_steps = 120        # optimizer steps
channels = 24          # width of the first conv layer (doubles twice)
learning_rate = 3e-3   # AdamW peak learning rate
weight_decay = 1e-2    # AdamW weight decay
num_workers = min(4, os.cpu_count())  # loader processes
log_interval = 30      # steps between progress lines
task_seed = 1234       # fixes each class's texture (the task itself)
seed = 0               # fixes the model init, the tiles and the batches
# -----------------------------------------------------------------------------

torch.manual_seed(seed)
device = "cuda" if torch.cuda.is_available() else "mps" if torch.backends.mps.is_available() else "cpu"
batch_size = 512 if device == "cuda" else 32  # tiles per optimizer step: a GPU takes a full batch, a laptop a small one


def make_tiles(n, sample_seed):
    """Each land-cover class has its own texture: a grating with a class orientation and period, per-band gains, and noise."""
    task = torch.Generator().manual_seed(task_seed)
    angle = math.pi * torch.rand(n_classes, generator=task)  # (K,)
    period = 3.0 + 6.0 * torch.rand(n_classes, generator=task)  # (K,)
    gain = torch.randn(n_classes, n_bands, generator=task)  # (K, C)
    g = torch.Generator().manual_seed(sample_seed)
    y = torch.randint(0, n_classes, (n,), generator=g)  # (N,)
    coords = torch.arange(tile, dtype=torch.float32)  # (H,)
    u = coords[:, None] * torch.cos(angle[y])[:, None, None] + coords[None, :] * torch.sin(angle[y])[:, None, None]  # (N, H, W)
    phase = 2 * math.pi * torch.rand(n, 1, 1, generator=g)  # (N, 1, 1)
    grating = torch.sin(2 * math.pi * u / period[y][:, None, None] + phase)  # (N, H, W)
    x = gain[y][:, :, None, None] * grating[:, None]  # (N, C, H, W)
    x = x + 3.0 * torch.randn(n, n_bands, tile, tile, generator=g)  # (N, C, H, W)
    return x, y


x_train, y_train = make_tiles(n_train, sample_seed=seed)
x_val, y_val = make_tiles(n_val, sample_seed=seed + 1)
train_loader = DataLoader(TensorDataset(x_train, y_train), batch_size=batch_size, shuffle=True, drop_last=True,
                          num_workers=num_workers, persistent_workers=True)


class TileCNN(nn.Module):
    def __init__(self):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(n_bands, channels, 4, stride=4), nn.BatchNorm2d(channels), nn.ReLU(),  # 4x4 patches
            nn.Conv2d(channels, 2 * channels, 3, stride=2, padding=1), nn.BatchNorm2d(2 * channels), nn.ReLU(),
            nn.Conv2d(2 * channels, 4 * channels, 3, stride=2, padding=1), nn.BatchNorm2d(4 * channels), nn.ReLU(),
        )
        self.head = nn.Linear(4 * channels, n_classes)

    def forward(self, x):  # x: (B, C, H, W)
        h = self.features(x)  # (B, 4c, H/16, W/16)
        return self.head(h.mean(dim=(-2, -1)))  # (B, K)


model = TileCNN().to(device)
optimizer = torch.optim.AdamW(model.parameters(), lr=learning_rate, weight_decay=weight_decay)
scheduler = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=learning_rate, total_steps=max_steps, pct_start=0.1)
print(f"{sum(p.numel() for p in model.parameters())} parameters on {device}, batch {batch_size}")


@torch.no_grad()
def accuracy(x, y):
    model.eval()
    acc = (model(x.to(device)).argmax(dim=-1).cpu() == y).float().mean().item()
    model.train()
    return acc


# -----------------------------------------------------------------------------
# training loop
model.train()
running_loss = torch.zeros((), device=device)
step, t0 = 0, time.time()
while step < max_steps:
    for xb, yb in train_loader:
        xb = xb.to(device, non_blocking=True)  # (B, C, H, W)
        yb = yb.to(device, non_blocking=True)  # (B,)
        logits = model(xb)  # (B, K)
        loss = F.cross_entropy(logits, yb)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        scheduler.step()

        running_loss += loss.detach()
        step += 1
        if step % log_interval == 0:
            print(f"step {step:4d} | loss {running_loss.item() / log_interval:.4f}")
            running_loss.zero_()
        if step == max_steps:
            break

print(f"trained {max_steps} steps in {time.time() - t0:.1f}s")
print(f"val accuracy {accuracy(x_val, y_val):.3f}")
