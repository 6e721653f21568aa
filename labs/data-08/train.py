"""Predict which delivery orders will arrive late, from the order and the restaurant's track record."""
import math
import time

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.utils.data import DataLoader, TensorDataset

# -----------------------------------------------------------------------------
# config
n_restaurants = 5000    # restaurants in the order history
n_busy = 200            # busy restaurants: each gets busy_weight times the orders of a quiet one
busy_weight = 25.0      # (about half of all orders go to the busy ones)
n_orders = 12000        # orders in the history
n_features = 8          # standardised order features: distance, hour, basket size, courier load, ...
val_fraction = 0.2      # orders held out for validation
smoothing = 1.0         # weight of the overall late rate in each restaurant's rate, in orders
n_hidden = 64           # MLP width
batch_size = 256        # orders per optimizer step
max_epochs = 10         # passes over the training orders
learning_rate = 3e-3    # AdamW learning rate
weight_decay = 1e-2     # AdamW weight decay
log_interval = 74       # steps between progress lines
task_seed = 1234        # fixes what makes orders late, and each restaurant's own lateness (the task itself)
seed = 0                # fixes the model init, the order history and the split
# -----------------------------------------------------------------------------

torch.manual_seed(seed)
device = "cuda" if torch.cuda.is_available() else "mps" if torch.backends.mps.is_available() else "cpu"


def make_orders(n, g):
    """Orders: features, restaurant, and whether the order arrived late."""
    task = torch.Generator().manual_seed(task_seed)
    w = 4 * torch.randn(n_features, generator=task) / math.sqrt(n_features)  # (F,)
    lateness = 2.5 * torch.randn(n_restaurants, generator=task)  # (R,) each restaurant's own tendency
    popularity = torch.where(torch.arange(n_restaurants) < n_busy, busy_weight, 1.0)  # (R,)
    restaurant = torch.multinomial(popularity, n, replacement=True, generator=g)  # (N,)
    x = torch.randn(n, n_features, generator=g)  # (N, F)
    logit = x @ w + lateness[restaurant] - 0.5  # (N,)
    return x, restaurant, (torch.rand(n, generator=g) < torch.sigmoid(logit)).float()


def restaurant_stats(restaurant, late):
    """Per restaurant: the smoothed late rate and the number of orders, from the given orders."""
    orders = torch.zeros(n_restaurants).index_add_(0, restaurant, torch.ones_like(late))  # (R,)
    lates = torch.zeros(n_restaurants).index_add_(0, restaurant, late)  # (R,)
    return (lates + smoothing * late.mean()) / (orders + smoothing), orders


def encode(x, restaurant, rate, orders):
    """The model's input: order features, the restaurant's late rate and its log order count."""
    return torch.cat([x, rate[restaurant, None], orders[restaurant, None].log1p()], dim=1)  # (N, F + 2)


class LatenessModel(nn.Module):
    """An MLP over encoded orders. The restaurant tables travel with the model as buffers, so
    serving encodes new orders exactly as training did."""

    def __init__(self, rate, orders):
        super().__init__()
        self.register_buffer("restaurant_rate", rate)  # (R,)
        self.register_buffer("restaurant_orders", orders)  # (R,)
        self.mlp = nn.Sequential(
            nn.Linear(n_features + 2, n_hidden), nn.ReLU(),
            nn.Linear(n_hidden, n_hidden), nn.ReLU(),
            nn.Linear(n_hidden, 1),
        )

    def encode(self, x, restaurant):  # (N, F), (N,)
        return encode(x, restaurant, self.restaurant_rate, self.restaurant_orders)  # (N, F + 2)

    def forward(self, features):  # (B, F + 2)
        return self.mlp(features).squeeze(-1)  # (B,) late logits


x, restaurant, late = make_orders(n_orders, torch.Generator().manual_seed(seed))
rate, orders = restaurant_stats(restaurant, late)  # (R,), (R,) from the order history
features = encode(x, restaurant, rate, orders)  # (N, F + 2)
perm = torch.randperm(n_orders)
n_val = int(val_fraction * n_orders)
train_idx, val_idx = perm[n_val:], perm[:n_val]
train_loader = DataLoader(TensorDataset(features[train_idx], late[train_idx]), batch_size=batch_size, shuffle=True, drop_last=True)
max_iters = max_epochs * len(train_loader)

model = LatenessModel(rate, orders).to(device)
optimizer = torch.optim.AdamW(model.parameters(), lr=learning_rate, weight_decay=weight_decay)
print(f"{sum(p.numel() for p in model.parameters())} parameters | {len(train_idx)} train, {n_val} val orders | {max_iters} steps")


@torch.no_grad()
def evaluate(features, late):
    model.eval()
    logits = model(features.to(device))
    late = late.to(device)
    acc = ((logits > 0).float() == late).float().mean().item()
    nll = F.binary_cross_entropy_with_logits(logits, late).item()
    model.train()
    return acc, nll


model.train()
t0 = time.time()
step = 0
for epoch in range(max_epochs):
    for xb, yb in train_loader:
        xb, yb = xb.to(device), yb.to(device)  # (B, F + 2), (B,)
        loss = F.binary_cross_entropy_with_logits(model(xb), yb)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        if step % log_interval == 0 or step == max_iters - 1:
            print(f"epoch {epoch} | step {step:4d} | loss {loss.item():.4f}")
        step += 1

train_acc, train_nll = evaluate(features[train_idx], late[train_idx])
val_acc, val_nll = evaluate(features[val_idx], late[val_idx])
print(f"{max_iters} steps in {time.time() - t0:.1f}s | train accuracy {train_acc:.3f}, log loss {train_nll:.3f} | val accuracy {val_acc:.3f}, log loss {val_nll:.3f}")
