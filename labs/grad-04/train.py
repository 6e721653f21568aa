"""
Hourly electricity demand of a portfolio of newly metered office buildings: a generalised additive model.

demand = base[building] + weekly profile[building, hour of week] + temperature response[temperature bin];
each shape function is a table of values, kept smooth by a roughness penalty because the meter data is sparse.
Run: python train.py
"""
import math
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

# -----------------------------------------------------------------------------
# config
n_buildings = 256    # buildings in the portfolio
n_hours = 168        # hour-of-week bins, Monday 00:00 = 0
n_temp_bins = 40     # 1-degree outdoor temperature bins from -5 to 35 C
n_metered = 200      # metered hours we have so far, per building
n_val = 50           # hours per building held out for validation
noise_std = 0.5      # meter noise, in demand units
smooth_weight = 0.3  # weight of the roughness penalty in the loss
max_steps = 300      # optimizer steps, full batch
learning_rate = 0.05 # Adam learning rate
log_interval = 50    # steps between progress lines
seed = 0             # torch seed
# -----------------------------------------------------------------------------

torch.manual_seed(seed)
device = "cuda" if torch.cuda.is_available() else "mps" if torch.backends.mps.is_available() else "cpu"


# -----------------------------------------------------------------------------
# data: a daily cycle per building, a weekly drift and a U-shaped heating/cooling response, plus meter noise
def true_demand(building, hour, temperature):
    g = torch.Generator().manual_seed(99)                              # the buildings themselves are fixed
    amplitude = 0.6 + 0.8 * torch.rand(n_buildings, generator=g)       # (NB,)
    opening = 6 + 4 * torch.rand(n_buildings, generator=g)             # (NB,) hour the working day starts
    daily = amplitude[building] * torch.sin(2 * math.pi * (hour - opening[building]) / 24)
    weekly = 0.5 * torch.sin(2 * math.pi * hour / n_hours)
    return daily + weekly + 0.004 * (temperature - 18) ** 2


def make_data(n_per_building, split_seed):
    """Random metered hours of every building: building, hour of week, temperature bin, noisy and noise-free demand."""
    g = torch.Generator().manual_seed(split_seed)
    building = torch.arange(n_buildings).repeat_interleave(n_per_building)  # (N,)
    hour = torch.randint(0, n_hours, building.shape, generator=g)      # (N,)
    temperature = torch.rand(building.shape, generator=g) * 40 - 5     # (N,) in C
    temp_bin = ((temperature + 5) / 40 * n_temp_bins).long().clamp(max=n_temp_bins - 1)  # (N,)
    clean = true_demand(building, hour.float(), temperature)           # (N,)
    return building, hour, temp_bin, clean + noise_std * torch.randn(clean.shape, generator=g), clean


*train_inputs, y_train, _ = make_data(n_metered, split_seed=1)
*val_inputs, _, clean_val = make_data(n_val, split_seed=2)
train_inputs, y_train = [t.to(device) for t in train_inputs], y_train.to(device)
val_inputs, clean_val = [t.to(device) for t in val_inputs], clean_val.to(device)


# -----------------------------------------------------------------------------
# model
class PortfolioGAM(nn.Module):
    def __init__(self):
        super().__init__()
        self.base = nn.Parameter(torch.zeros(n_buildings))             # one level per building
        self.weekly = nn.Parameter(torch.zeros(n_buildings, n_hours))  # one weekly profile per building
        self.temperature = nn.Parameter(torch.zeros(n_temp_bins))      # one response, shared

    def forward(self, building, hour, temp_bin):  # (B,), (B,), (B,)
        return self.base[building] + self.weekly[building, hour] + self.temperature[temp_bin]  # (B,)


def roughness(model):
    """Squared second differences between neighbouring bins, summed along each shape function and
    averaged over the curves (a weekly profile per building, one temperature response)."""
    total = 0.0
    for name, table in model.state_dict().items():
        if name in ("weekly", "temperature"):                          # (..., K)
            second_diff = table[..., 2:] - 2 * table[..., 1:-1] + table[..., :-2]  # (..., K-2)
            total = total + second_diff.pow(2).sum(dim=-1).mean()
    return total


model = PortfolioGAM().to(device)
optimizer = torch.optim.Adam(model.parameters(), lr=learning_rate)


# -----------------------------------------------------------------------------
# training loop (full batch: the whole meter history fits in one step)
t0 = time.time()
for step in range(max_steps):
    pred = model(*train_inputs)                                        # (N,)
    fit = F.mse_loss(pred, y_train)
    loss = fit + smooth_weight * roughness(model)
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
    if step % log_interval == 0 or step == max_steps - 1:
        print(f"step {step:4d} | loss {loss.item():.4f} | fit {fit.item():.4f}")

print(f"trained {max_steps} steps in {time.time() - t0:.1f}s")
with torch.no_grad():
    val_rmse = F.mse_loss(model(*val_inputs), clean_val).sqrt().item()
print(f"train rmse {fit.sqrt().item():.3f} (meter noise {noise_std}) | val rmse vs clean demand {val_rmse:.3f}")
