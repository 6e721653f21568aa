"""
Hourly electricity demand of a newly metered office building: a generalised additive model.

demand = base + weekly profile[hour of week] + temperature response[temperature bin]; each shape
function is a table of values, kept smooth by a roughness penalty because the meter data is sparse.
Run: python train.py
"""
import math
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

# -----------------------------------------------------------------------------
# config
n_hours = 168        # hour-of-week bins, Monday 00:00 = 0
n_temp_bins = 40     # 1-degree outdoor temperature bins from -5 to 35 C
n_train = 200        # metered hours we have so far
n_val = 1000         # hours held out for validation
noise_std = 0.5      # meter noise, in demand units
smooth_weight = 0.3  # weight of the roughness penalty in the loss
max_steps = 1000     # optimizer steps, full batch
learning_rate = 0.02 # Adam learning rate
log_interval = 200   # steps between progress lines
seed = 0             # torch seed
# -----------------------------------------------------------------------------

torch.manual_seed(seed)
device = "cuda" if torch.cuda.is_available() else "mps" if torch.backends.mps.is_available() else "cpu"


# -----------------------------------------------------------------------------
# data: a daily cycle, a weekly drift and a U-shaped heating/cooling response, plus meter noise
def true_demand(hour, temperature):
    daily = torch.sin(2 * math.pi * (hour - 8) / 24)
    weekly = 0.5 * torch.sin(2 * math.pi * hour / n_hours)
    return daily + weekly + 0.004 * (temperature - 18) ** 2


def make_data(n, split_seed):
    """Random metered hours; returns hour-of-week, temperature bin, noisy demand and noise-free demand."""
    g = torch.Generator().manual_seed(split_seed)
    hour = torch.randint(0, n_hours, (n,), generator=g)                # (N,)
    temperature = torch.rand(n, generator=g) * 40 - 5                  # (N,) in C
    temp_bin = ((temperature + 5) / 40 * n_temp_bins).long().clamp(max=n_temp_bins - 1)  # (N,)
    clean = true_demand(hour.float(), temperature)                     # (N,)
    return hour, temp_bin, clean + noise_std * torch.randn(n, generator=g), clean


hour_train, bin_train, y_train, _ = make_data(n_train, split_seed=1)
hour_val, bin_val, _, clean_val = make_data(n_val, split_seed=2)
hour_train, bin_train, y_train = (t.to(device) for t in (hour_train, bin_train, y_train))
hour_val, bin_val, clean_val = (t.to(device) for t in (hour_val, bin_val, clean_val))


# -----------------------------------------------------------------------------
# model
class DemandGAM(nn.Module):
    def __init__(self):
        super().__init__()
        self.base = nn.Parameter(torch.zeros(1))
        self.weekly = nn.Embedding(n_hours, 1)                         # one value per hour of week
        self.temperature = nn.Embedding(n_temp_bins, 1)                # one value per temperature bin
        nn.init.zeros_(self.weekly.weight)
        nn.init.zeros_(self.temperature.weight)

    def forward(self, hour, temp_bin):  # (B,), (B,)
        return self.base + (self.weekly(hour) + self.temperature(temp_bin)).squeeze(-1)  # (B,)


def roughness(model):
    """Sum over the shape functions of the squared second differences between neighbouring bins."""
    total = 0.0
    for name, table in model.state_dict().items():
        if name.endswith(".weight"):                                   # (K, 1)
            second_diff = table[2:] - 2 * table[1:-1] + table[:-2]     # (K-2, 1)
            total = total + second_diff.pow(2).sum()
    return total


model = DemandGAM().to(device)
optimizer = torch.optim.Adam(model.parameters(), lr=learning_rate)


# -----------------------------------------------------------------------------
# training loop (full batch: the whole meter history fits in one step)
t0 = time.time()
for step in range(max_steps):
    pred = model(hour_train, bin_train)                                # (N,)
    fit = F.mse_loss(pred, y_train)
    loss = fit + smooth_weight * roughness(model)
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
    if step % log_interval == 0 or step == max_steps - 1:
        print(f"step {step:4d} | loss {loss.item():.4f} | fit {fit.item():.4f}")

print(f"trained {max_steps} steps in {time.time() - t0:.1f}s")
with torch.no_grad():
    val_rmse = F.mse_loss(model(hour_val, bin_val), clean_val).sqrt().item()
print(f"train rmse {fit.sqrt().item():.3f} (meter noise {noise_std}) | val rmse vs clean demand {val_rmse:.3f}")
