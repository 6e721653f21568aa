"""
Heartbeat classifier: one-lead ECG windows -> small 1-D CNN -> beat type.

The validation set comes from the labelled archive, stored class by class; it is scored every
eval_interval steps and once more at the end.
Run: python train.py
"""
import math
import time

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.utils.data import DataLoader, TensorDataset

# -----------------------------------------------------------------------------
# config
n_classes = 4          # beat types
window = 64            # samples per ECG window
n_channels = 16        # conv channels
n_train = 4096         # training windows
n_val_per_class = 256  # validation windows per beat type
batch_size = 64        # windows per optimizer step
val_batch_size = 256   # windows per validation forward
n_epochs = 3           # passes over the training set
eval_interval = 50     # steps between validation passes
learning_rate = 3e-3   # AdamW peak learning rate
weight_decay = 1e-4    # AdamW weight decay
dropout = 0.2          # dropout before the classifier
noise = 0.2            # sensor noise (std)
log_interval = 25      # steps between progress lines
task_seed = 1234       # fixes the beat shapes (the task itself)
seed = 0               # fixes the model init, the samples and the shuffling
# -----------------------------------------------------------------------------

torch.manual_seed(seed)
device = "cuda" if torch.cuda.is_available() else "mps" if torch.backends.mps.is_available() else "cpu"


# -----------------------------------------------------------------------------
# data: each beat type is a pattern of bumps with its own widths and heights, shifted at random
def make_beats(y, split_seed):
    g_task = torch.Generator().manual_seed(task_seed)
    centers = torch.rand(n_classes, 3, generator=g_task) * 0.5 + 0.25     # (K, 3) bump positions
    widths = torch.rand(n_classes, 3, generator=g_task) * 0.06 + 0.02     # (K, 3)
    heights = torch.randn(n_classes, 3, generator=g_task) * 1.5           # (K, 3)
    g = torch.Generator().manual_seed(split_seed)
    t = torch.linspace(0, 1, window)                                       # (T,)
    shift = (torch.rand(len(y), 1, generator=g) - 0.5) * 0.3               # (N, 1)
    bumps = torch.exp(-((t - centers[y][..., None] - shift[..., None]) / widths[y][..., None]) ** 2)  # (N, 3, T)
    x = (heights[y][..., None] * bumps).sum(dim=1)                         # (N, T)
    x = x + noise * torch.randn(len(y), window, generator=g)                 # (N, T)
    return x[:, None, :]                                                   # (N, 1, T)


y_train = torch.randint(0, n_classes, (n_train,), generator=torch.Generator().manual_seed(1))
x_train = make_beats(y_train, split_seed=1)
y_val = torch.arange(n_classes).repeat_interleave(n_val_per_class)       # class by class, as archived
x_val = make_beats(y_val, split_seed=2)
train_loader = DataLoader(TensorDataset(x_train, y_train), batch_size=batch_size, shuffle=True, drop_last=True)
val_loader = DataLoader(TensorDataset(x_val, y_val), batch_size=val_batch_size)


# -----------------------------------------------------------------------------
# model
class BeatCNN(nn.Module):
    def __init__(self):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv1d(1, n_channels, 7, padding=3), nn.BatchNorm1d(n_channels), nn.ReLU(),
            nn.Conv1d(n_channels, 2 * n_channels, 5, stride=2, padding=2), nn.BatchNorm1d(2 * n_channels), nn.ReLU(),
        )
        self.head = nn.Sequential(nn.Dropout(dropout), nn.Linear(2 * n_channels, n_classes))

    def forward(self, x):  # x: (B, 1, T)
        h = self.features(x)       # (B, 2C, T/2)
        h = h.mean(dim=-1)         # (B, 2C)
        return self.head(h)        # (B, K)


model = BeatCNN().to(device)
n_steps = n_epochs * len(train_loader)
optimizer = torch.optim.AdamW(model.parameters(), lr=learning_rate, weight_decay=weight_decay)
scheduler = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=learning_rate, total_steps=n_steps, pct_start=0.1)
print(f"{sum(p.numel() for p in model.parameters())} parameters on {device}, {n_steps} steps")


@torch.no_grad()
def evaluate():
    model.eval()
    correct, total = 0, 0
    for x, y in val_loader:
        x, y = x.to(device), y.to(device)
        correct += (model(x).argmax(dim=-1) == y).sum().item()
        total += len(y)
    return correct / total


# -----------------------------------------------------------------------------
# training loop
t0 = time.time()
step = 0
model.train()
for epoch in range(n_epochs):
    for x, y in train_loader:
        x, y = x.to(device), y.to(device)                                  # (B, 1, T), (B,)
        loss = F.cross_entropy(model(x), y)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        scheduler.step()
        step += 1
        if step % log_interval == 0:
            print(f"epoch {epoch} step {step:4d} | loss {loss.item():.4f} | lr {scheduler.get_last_lr()[0]:.2e}")
        if step % eval_interval == 0:
            print(f"epoch {epoch} step {step:4d} | val accuracy {evaluate():.3f}")

print(f"trained {n_steps} steps in {time.time() - t0:.1f}s | final val accuracy {evaluate():.3f}")
