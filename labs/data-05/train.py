"""Train a small 1-d CNN to recognise four gestures from 6-axis IMU windows (wrist sensor)."""
import math
import time

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.utils.data import DataLoader, Dataset

# -----------------------------------------------------------------------------
# config
n_axes = 6              # accelerometer xyz + gyroscope xyz
window = 256            # readings per window (about 5 s at 50 Hz)
n_classes = 4           # gestures
n_train = 256           # recorded training windows
n_val = 512             # recorded validation windows
batch_size = 32         # windows per optimizer step
max_epochs = 30         # passes over the training windows
gain_jitter = 0.2       # augmentation: sensor gain drawn from 1 +- gain_jitter
noise_std = 0.8         # augmentation: extra sensor noise (same units as the readings)
learning_rate = 3e-3    # AdamW learning rate
weight_decay = 1e-2     # AdamW weight decay
log_interval = 60       # steps between progress lines
task_seed = 1234        # fixes each gesture's rhythm on each axis (the task itself)
seed = 0                # fixes the model init, the recordings, the shuffling and the augmentation
# -----------------------------------------------------------------------------

torch.manual_seed(seed)
device = "cuda" if torch.cuda.is_available() else "mps" if torch.backends.mps.is_available() else "cpu"


def make_recordings(n, sample_seed):
    """Each gesture moves each axis at its own rhythm; the phase and strength vary per recording."""
    task = torch.Generator().manual_seed(task_seed)
    freq = 2 + 10 * torch.rand(n_classes, n_axes, 1, generator=task)  # (K, A, 1) cycles per window
    g = torch.Generator().manual_seed(sample_seed)
    y = torch.randint(n_classes, (n,), generator=g)  # (N,)
    phase = 2 * math.pi * torch.rand(n, n_axes, 1, generator=g)  # (N, A, 1)
    strength = 0.5 + torch.rand(n, 1, 1, generator=g)  # (N, 1, 1)
    t = torch.linspace(0, 1, window)  # (W,)
    x = strength * torch.sin(2 * math.pi * freq[y] * t + phase)  # (N, A, W)
    return x + 0.5 * torch.randn(n, n_axes, window, generator=g), y


class IMUWindows(Dataset):
    """Recorded windows kept in memory; training draws a new gain and noise for every read."""

    def __init__(self, windows, labels, augment):
        self.windows, self.labels, self.augment = windows, labels, augment

    def __len__(self):
        return len(self.windows)

    def __getitem__(self, i):
        x = self.windows[i]  # (A, W)
        if self.augment:
            x *= 1 + gain_jitter * (2 * torch.rand(1) - 1)
            x += noise_std * torch.randn_like(x)
        return x, self.labels[i]


class GestureNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv1d(n_axes, 16, kernel_size=9, stride=4, padding=4), nn.ReLU(),  # (B, 16, W/4)
            nn.Conv1d(16, 32, kernel_size=5, stride=2, padding=2), nn.ReLU(),  # (B, 32, W/8)
        )
        self.head = nn.Linear(32, n_classes)

    def forward(self, x):  # x: (B, A, W)
        h = self.features(x).mean(dim=-1)  # (B, 32) average over time
        return self.head(h)  # (B, K)


train_set = IMUWindows(*make_recordings(n_train, sample_seed=seed), augment=True)
val_set = IMUWindows(*make_recordings(n_val, sample_seed=seed + 1), augment=False)
train_loader = DataLoader(train_set, batch_size=batch_size, shuffle=True, drop_last=True)
max_iters = max_epochs * len(train_loader)

model = GestureNet().to(device)
optimizer = torch.optim.AdamW(model.parameters(), lr=learning_rate, weight_decay=weight_decay)
print(f"{sum(p.numel() for p in model.parameters())} parameters | {len(train_set)} windows | {max_iters} steps")


@torch.no_grad()
def accuracy(dataset):
    model.eval()
    x = torch.stack([dataset[i][0] for i in range(len(dataset))]).to(device)  # (N, A, W)
    y = dataset.labels.to(device)  # (N,)
    acc = (model(x).argmax(dim=-1) == y).float().mean().item()
    model.train()
    return acc


model.train()
t0 = time.time()
step = 0
for epoch in range(max_epochs):
    for x, y in train_loader:
        x, y = x.to(device), y.to(device)  # (B, A, W), (B,)
        loss = F.cross_entropy(model(x), y)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        if step % log_interval == 0 or step == max_iters - 1:
            print(f"epoch {epoch:2d} | step {step:4d} | loss {loss.item():.4f}")
        step += 1

print(f"{max_iters} steps in {time.time() - t0:.1f}s | val accuracy {accuracy(val_set):.3f}")
