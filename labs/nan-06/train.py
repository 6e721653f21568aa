"""
Gesture decoder for a forearm EMG band: which of 4 hand gestures is the wearer making?

A window is 128 samples (64 ms at 2 kHz) of 16 surface-EMG electrodes in microvolts, as the band
sends them. The model learns spatial filters (a linear map of the electrodes), summarises the
filtered window by its covariance (log-variances and correlations of the filters, as in CSP and
Riemannian EMG pipelines) and classifies that summary with a small MLP. Trained with float16 autocast.
Shapes: N windows, B batch, T samples, E electrodes, F filters, K classes.
Run: python train.py
"""
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

# -----------------------------------------------------------------------------
# config
n_electrodes = 16    # EMG channels (E)
n_samples = 128      # samples per window (T)
n_classes = 4        # gestures: fist, open hand, pinch, point (K)
n_filters = 8        # learned spatial filters (F)
batch_size = 32      # windows per optimizer step
max_steps = 150      # optimizer steps
learning_rate = 3e-3 # AdamW learning rate
log_interval = 25    # steps between progress lines
task_seed = 1234     # fixes the electrode patterns of the muscles (the task itself)
seed = 0             # torch seed for init and batching
# -----------------------------------------------------------------------------

torch.manual_seed(seed)
device = "cuda" if torch.cuda.is_available() else "mps" if torch.backends.mps.is_available() else "cpu"
amp_dtype = torch.float16  # autocast dtype of the forward; parameters stay in full precision


# -----------------------------------------------------------------------------
# data: 4 muscle groups seen through fixed electrode patterns; the gesture drives its group hard and
# the others lightly. Plus electrode noise and a small DC offset per electrode, all in microvolts.
def make_data(n, split_seed):
    task = torch.Generator().manual_seed(task_seed)
    patterns = torch.randn(n_classes, n_electrodes, generator=task)               # (K, E)
    g = torch.Generator().manual_seed(split_seed)
    y = torch.randint(0, n_classes, (n,), generator=g)                             # (N,)
    effort = 0.5 + torch.rand(n, 1, generator=g)                                   # (N, 1) how hard the wearer grips
    power = effort * (60.0 + 240.0 * F.one_hot(y, n_classes))                      # (N, K) muscle activity in uV RMS
    activity = power[:, None, :] * torch.randn(n, n_samples, n_classes, generator=g)  # (N, T, K)
    noise = 20.0 * torch.randn(n, n_samples, n_electrodes, generator=g)            # (N, T, E)
    offset = 50.0 * torch.randn(n, 1, n_electrodes, generator=g)                   # (N, 1, E)
    return activity @ patterns + noise + offset, y                                 # (N, T, E), (N,)


x_train, y_train = make_data(8192, split_seed=1)
x_val, y_val = make_data(2048, split_seed=2)
x_train, y_train, x_val, y_val = (t.to(device) for t in (x_train, y_train, x_val, y_val))


# -----------------------------------------------------------------------------
# model
class CovariancePool(nn.Module):
    """Log-variances and correlations of the filtered signals over the window."""

    def forward(self, h):  # h: (B, T, F)
        B, T, nf = h.size()
        h = h - h.mean(dim=1, keepdim=True)                                       # (B, T, F)
        cov = h.transpose(1, 2) @ h / (T - 1)                                      # (B, F, F)
        std = cov.diagonal(dim1=1, dim2=2).sqrt()                                  # (B, F)
        corr = cov / (std[:, :, None] * std[:, None, :])                           # (B, F, F)
        i, j = torch.triu_indices(nf, nf, offset=1, device=h.device)
        return torch.cat([2 * std.log(), corr[:, i, j]], dim=-1)                   # (B, F + F(F-1)/2)


class GestureNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.spatial = nn.Linear(n_electrodes, n_filters, bias=False)
        self.pool = CovariancePool()
        n_features = n_filters + n_filters * (n_filters - 1) // 2
        self.head = nn.Sequential(nn.LayerNorm(n_features), nn.Linear(n_features, 64), nn.GELU(), nn.Linear(64, n_classes))

    def forward(self, x):  # x: (B, T, E)
        return self.head(self.pool(self.spatial(x)))                              # (B, K)


model = GestureNet().to(device)
optimizer = torch.optim.AdamW(model.parameters(), lr=learning_rate)
print(f"{sum(p.numel() for p in model.parameters())} parameters on {device}, autocast {amp_dtype}")


@torch.no_grad()
def accuracy(x, y):
    model.eval()
    with torch.autocast(device_type=device, dtype=amp_dtype):
        acc = (model(x).argmax(dim=-1) == y).float().mean().item()
    model.train()
    return acc


# -----------------------------------------------------------------------------
# training loop
t0 = time.time()
for step in range(max_steps):
    idx = torch.randint(0, len(x_train), (batch_size,), device=device)          # (B,)
    xb, yb = x_train[idx], y_train[idx]                                          # (B, T, E), (B,)
    with torch.autocast(device_type=device, dtype=amp_dtype):
        logits = model(xb)                                                       # (B, K)
        loss = F.cross_entropy(logits, yb)
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    optimizer.step()
    if step % log_interval == 0 or step == max_steps - 1:
        print(f"step {step:4d} | loss {loss.item():.4f}")

print(f"trained {max_steps} steps in {time.time() - t0:.1f}s")
print(f"val accuracy {accuracy(x_val, y_val):.3f}")
