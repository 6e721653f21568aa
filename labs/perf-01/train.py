"""Train a 1-d CNN to recognise activities from 3-axis accelerometer windows, then report accuracy.

Shapes: N windows, B batch, A axes, L readings per window, K activities.
"""
import math
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

# -----------------------------------------------------------------------------
# config
n_axes = 3             # accelerometer axes
window = 64            # readings per window (1.28 s at 50 Hz)
n_classes = 6          # activities
n_train = 6144         # training windows
n_val = 1024           # validation windows
batch_size = 32        # windows per optimizer step
max_steps = 200        # optimizer steps
channels = 16          # width of the first conv layer (the second is twice as wide)
learning_rate = 3e-3   # AdamW peak learning rate
weight_decay = 1e-2    # AdamW weight decay
log_interval = 40      # steps between progress lines
task_seed = 1234       # fixes each activity's rhythm (the task itself)
seed = 0               # fixes the model init, the windows and the batches
# -----------------------------------------------------------------------------

torch.manual_seed(seed)
device = "cuda" if torch.cuda.is_available() else "mps" if torch.backends.mps.is_available() else "cpu"
dtype = torch.float32


def make_windows(n, sample_seed):
    """Each activity moves at its own cadence: two harmonics per axis, with random phase, gain and noise."""
    task = torch.Generator().manual_seed(task_seed)
    cadence = 0.02 + 0.10 * torch.rand(n_classes, 1, generator=task)  # (K, 1) cycles per reading
    harmonic = torch.tensor([1.0, 2.0])  # (2,)
    weight = torch.randn(n_classes, n_axes, 2, generator=task)  # (K, A, 2)
    g = torch.Generator().manual_seed(sample_seed)
    y = torch.randint(0, n_classes, (n,), generator=g)  # (N,)
    freq = cadence[y] * harmonic * (1 + 0.1 * torch.randn(n, 1, generator=g))  # (N, 2)
    phase = 2 * math.pi * torch.rand(n, 1, 1, generator=g)  # (N, 1, 1)
    t = torch.arange(window, dtype=torch.float32)  # (L,)
    waves = torch.sin(2 * math.pi * freq[:, :, None] * t + phase)  # (N, 2, L)
    gain = 0.5 + torch.rand(n, 1, 1, generator=g)  # (N, 1, 1)
    x = gain * torch.einsum("nah,nhl->nal", weight[y], waves)  # (N, A, L)
    x = x + 1.2 * torch.randn(n, n_axes, window, generator=g)  # (N, A, L)
    return x.to(dtype), y


x_train, y_train = make_windows(n_train, sample_seed=seed)
x_val, y_val = make_windows(n_val, sample_seed=seed + 1)
x_train, y_train, x_val, y_val = (t.to(device) for t in (x_train, y_train, x_val, y_val))


class ActivityCNN(nn.Module):
    def __init__(self):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv1d(n_axes, channels, kernel_size=9, padding=4), nn.GELU(), nn.MaxPool1d(2),
            nn.Conv1d(channels, 2 * channels, kernel_size=5, padding=2), nn.GELU(),
        )
        self.head = nn.Linear(2 * channels, n_classes)

    def forward(self, x):  # x: (B, A, L)
        h = self.features(x)  # (B, 2C, L/2)
        return self.head(h.mean(dim=-1))  # (B, K)


model = ActivityCNN().to(device)
optimizer = torch.optim.AdamW(model.parameters(), lr=learning_rate, weight_decay=weight_decay)
scheduler = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=learning_rate, total_steps=max_steps, pct_start=0.1)
print(f"{sum(p.numel() for p in model.parameters())} parameters on {device}")


@torch.no_grad()
def accuracy(x, y):
    model.eval()
    acc = (model(x).argmax(dim=-1) == y).float().mean().item()
    model.train()
    return acc


# -----------------------------------------------------------------------------
# training loop
model.train()
running_loss, running_correct = 0.0, 0
t0 = time.time()
for step in range(max_steps):
    idx = torch.randint(0, n_train, (batch_size,), device=device)  # (B,)
    xb, yb = x_train[idx], y_train[idx]  # (B, A, L), (B,)
    logits = model(xb)  # (B, K)
    loss = F.cross_entropy(logits, yb)
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    optimizer.step()
    scheduler.step()

    running_loss += loss.item()
    running_correct += (logits.argmax(dim=-1) == yb).sum().item()
    if (step + 1) % log_interval == 0:
        print(f"step {step + 1:4d} | loss {running_loss / log_interval:.4f} "
              f"| train acc {running_correct / (log_interval * batch_size):.3f}")
        running_loss, running_correct = 0.0, 0

print(f"trained {max_steps} steps in {time.time() - t0:.1f}s")
print(f"val accuracy {accuracy(x_val, y_val):.3f}")
