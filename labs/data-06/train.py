"""Classify a pump's condition from short windows of long vibration recordings."""
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.utils.data import DataLoader, Dataset

# -----------------------------------------------------------------------------
# config
n_conditions = 4        # healthy, imbalance, misalignment, bearing wear
n_recordings = 8        # lab recordings per condition
recording_len = 4096    # readings per recording
window = 128            # readings per training window
noise_std = 1.25        # augmentation: extra sensor noise, as the field sensors add
windows_per_epoch = 256 # random windows drawn per epoch
batch_size = 16         # windows per optimizer step
max_epochs = 10         # passes of windows_per_epoch
num_workers = 2         # loader processes (the real recordings are decoded from FLAC)
prefetch_factor = 8     # batches each worker prepares ahead
n_hidden = 256          # MLP width
learning_rate = 3e-3    # AdamW learning rate
weight_decay = 1e-2     # AdamW weight decay
log_interval = 32       # steps between progress lines
task_seed = 1234        # fixes each condition's vibration spectrum (the task itself)
seed = 0                # fixes the model init, the recordings and the augmentation
# -----------------------------------------------------------------------------

torch.manual_seed(seed)
device = "cuda" if torch.cuda.is_available() else "mps" if torch.backends.mps.is_available() else "cpu"


def make_recordings(n, sample_seed):
    """Each condition shakes the pump at three frequencies of its own; phase and strength vary per recording."""
    freqs = np.random.default_rng(task_seed).uniform(4, 40, size=(n_conditions, 1, 3, 1))  # (K, 1, 3, 1) cycles per window
    rng = np.random.default_rng(sample_seed)
    phase = rng.uniform(0, 2 * np.pi, size=(n_conditions, n, 3, 1))  # (K, R, 3, 1)
    strength = rng.uniform(0.3, 1.0, size=(n_conditions, n, 3, 1))  # (K, R, 3, 1)
    t = np.arange(recording_len) / window  # (L,)
    x = (strength * np.sin(2 * np.pi * freqs * t + phase)).sum(axis=2)  # (K, R, L)
    return (x + 0.5 * rng.standard_normal(x.shape)).astype(np.float32)


class RandomWindows(Dataset):
    """Every item is a new random draw: a condition, one of its recordings, a window of it and
    sensor noise on top. An epoch is n_windows such draws."""

    def __init__(self, recordings, n_windows, seed):
        self.recordings = recordings  # (K, R, L)
        self.n_windows = n_windows
        self.rng = np.random.default_rng(seed)

    def __len__(self):
        return self.n_windows

    def __getitem__(self, i):
        label = self.rng.integers(n_conditions)
        r = self.rng.integers(self.recordings.shape[1])
        start = self.rng.integers(recording_len - window + 1)
        x = self.recordings[label, r, start:start + window]  # (W,)
        x = x + noise_std * self.rng.standard_normal(window, dtype=np.float32)  # (W,)
        return torch.from_numpy(x), int(label)


def sample_windows(recordings, n, sample_seed):
    """A fixed set of windows at random offsets, for validation."""
    rng = np.random.default_rng(sample_seed)
    label = rng.integers(n_conditions, size=n)  # (N,)
    r = rng.integers(recordings.shape[1], size=n)  # (N,)
    start = rng.integers(recording_len - window + 1, size=n)  # (N,)
    x = np.stack([recordings[k, j, s:s + window] for k, j, s in zip(label, r, start)])  # (N, W)
    return torch.from_numpy(x), torch.from_numpy(label)


train_set = RandomWindows(make_recordings(n_recordings, sample_seed=seed), windows_per_epoch, seed)
train_loader = DataLoader(train_set, batch_size=batch_size, num_workers=num_workers, prefetch_factor=prefetch_factor)
x_val, y_val = sample_windows(make_recordings(2, sample_seed=seed + 1), 1024, seed + 1)  # (V, W), (V,)
max_iters = max_epochs * len(train_loader)

model = nn.Sequential(
    nn.Linear(window, n_hidden), nn.ReLU(),
    nn.Linear(n_hidden, n_hidden), nn.ReLU(),
    nn.Linear(n_hidden, n_conditions),
).to(device)
optimizer = torch.optim.AdamW(model.parameters(), lr=learning_rate, weight_decay=weight_decay)
print(f"{sum(p.numel() for p in model.parameters())} parameters | {windows_per_epoch} windows per epoch | {max_iters} steps")


@torch.no_grad()
def accuracy(x, y):
    model.eval()
    acc = (model(x.to(device)).argmax(dim=-1) == y.to(device)).float().mean().item()
    model.train()
    return acc


model.train()
t0 = time.time()
step = 0
for epoch in range(max_epochs):
    for x, y in train_loader:
        x, y = x.to(device), y.to(device)  # (B, W), (B,)
        loss = F.cross_entropy(model(x), y)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        if step % log_interval == 0 or step == max_iters - 1:
            print(f"epoch {epoch} | step {step:4d} | loss {loss.item():.4f}")
        step += 1

print(f"{max_iters} steps in {time.time() - t0:.1f}s | val accuracy {accuracy(x_val, y_val):.3f}")
