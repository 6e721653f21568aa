"""
Cell capacity regressor: 8 impedance features -> MLP -> capacity in Ah.

Each lab measurement comes with its instrument's standard error, so the loss weights every
sample by its inverse variance.
Run: python train.py
"""
import math
import time

import torch
import torch.nn as nn

# -----------------------------------------------------------------------------
# config
n_features = 8       # impedance features per cell
n_hidden = 64        # MLP width
n_train = 8192       # training cells
n_val = 2048         # validation cells
batch_size = 256     # cells per optimizer step
max_steps = 300      # optimizer steps
learning_rate = 3e-3 # AdamW peak learning rate
weight_decay = 1e-4  # AdamW weight decay
log_interval = 50    # steps between progress lines
seed = 0             # torch seed for init and batching
# -----------------------------------------------------------------------------

torch.manual_seed(seed)
device = "cuda" if torch.cuda.is_available() else "mps" if torch.backends.mps.is_available() else "cpu"


# -----------------------------------------------------------------------------
# data: capacity is a smooth function of the features, measured with per-cell noise
def make_data(n, split_seed):
    """Returns features, measured capacity and its standard error; the function is fixed, the cells depend on split_seed."""
    g_task = torch.Generator().manual_seed(1234)
    proj = torch.randn(n_features, 16, generator=g_task) / math.sqrt(n_features)  # (F, 16)
    coef = torch.randn(16, generator=g_task) / 4                                # (16,)
    g = torch.Generator().manual_seed(split_seed)
    x = torch.randn(n, n_features, generator=g)                                 # (N, F)
    capacity = 2.5 + torch.sin(x @ proj) @ coef                                 # (N,)
    sigma = 0.02 + 0.18 * torch.rand(n, generator=g)                            # (N,) standard error in Ah
    y = capacity + sigma * torch.randn(n, generator=g)                          # (N,)
    return x, y, sigma


x_train, y_train, sigma_train = make_data(n_train, split_seed=1)
x_val, y_val, _ = make_data(n_val, split_seed=2)
w_train = sigma_train.pow(-2)
w_train = w_train / w_train.mean()                                              # (N,) inverse-variance weights, mean 1
x_train, y_train, w_train, x_val, y_val = (t.to(device) for t in (x_train, y_train, w_train, x_val, y_val))


# -----------------------------------------------------------------------------
# model
class CapacityRegressor(nn.Module):
    def __init__(self):
        super().__init__()
        self.net = nn.Sequential(
            nn.Linear(n_features, n_hidden), nn.GELU(),
            nn.Linear(n_hidden, n_hidden), nn.GELU(),
            nn.Linear(n_hidden, 1),
        )

    def forward(self, x):  # x: (B, F)
        return self.net(x)  # (B, 1)


model = CapacityRegressor().to(device)
optimizer = torch.optim.AdamW(model.parameters(), lr=learning_rate, weight_decay=weight_decay)
scheduler = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=learning_rate, total_steps=max_steps, pct_start=0.1)
print(f"{sum(p.numel() for p in model.parameters())} parameters on {device}")


@torch.no_grad()
def r2_score(x, y):
    model.eval()
    pred = model(x).squeeze(-1)                                                 # (N,)
    model.train()
    return (1 - (y - pred).pow(2).sum() / (y - y.mean()).pow(2).sum()).item()


# -----------------------------------------------------------------------------
# training loop
t0 = time.time()
for step in range(max_steps):
    idx = torch.randint(0, n_train, (batch_size,), device=device)              # (B,)
    xb, yb, wb = x_train[idx], y_train[idx], w_train[idx]                       # (B, F), (B,), (B,)
    pred = model(xb)
    loss = (wb * (pred - yb) ** 2).mean()
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
    scheduler.step()
    if step % log_interval == 0 or step == max_steps - 1:
        print(f"step {step:4d} | loss {loss.item():.4f} | lr {scheduler.get_last_lr()[0]:.2e}")

print(f"trained {max_steps} steps in {time.time() - t0:.1f}s")
print(f"train R^2 {r2_score(x_train, y_train):.3f} | val R^2 {r2_score(x_val, y_val):.3f}")
