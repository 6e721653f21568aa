"""
Delivery-time estimate for a food-delivery app.

From the order log (when the order was placed, distance, items, rain) the model predicts how many
minutes the delivery will take. Some couriers forget to tap "delivered", and the app closes the
order on its own an hour or more later; the Huber loss keeps those few records from dragging the
estimate up. Validation uses audited orders, whose delivery times were confirmed by GPS.
Shapes: N orders, B batch, D features.
Run: python train.py
"""
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

# -----------------------------------------------------------------------------
# config
n_train = 8192       # logged orders
forgotten_rate = 0.08 # share of logged orders closed late because the courier forgot to tap "delivered"
n_hidden = 64        # MLP width
huber_delta = 5.0    # minutes: errors beyond this count linearly
batch_size = 256     # orders per optimizer step
max_steps = 300      # optimizer steps
learning_rate = 3e-3 # AdamW peak learning rate
weight_decay = 1e-4  # AdamW weight decay
log_interval = 50    # steps between progress lines
seed = 0             # torch seed for init and batching
# -----------------------------------------------------------------------------

torch.manual_seed(seed)
device = "cuda" if torch.cuda.is_available() else "mps" if torch.backends.mps.is_available() else "cpu"


# -----------------------------------------------------------------------------
# data: the order log, as the app records it (timestamps in epoch seconds)
def make_log(n, split_seed, forgotten_rate):
    g = torch.Generator().manual_seed(split_seed)
    placed_at = torch.randint(1_700_000_000, 1_730_000_000, (n,), generator=g)   # (N,)
    distance_km = 0.5 + 9.5 * torch.rand(n, generator=g)                        # (N,)
    items = torch.randint(1, 9, (n,), generator=g)                              # (N,)
    raining = torch.rand(n, generator=g) < 0.2                                  # (N,)
    hour = placed_at // 3600 % 24                                               # (N,) UTC = local here
    rush = ((hour >= 11) & (hour <= 13)) | ((hour >= 18) & (hour <= 20))        # (N,)
    minutes = 10 + 3 * distance_km + 1.5 * items + 8 * rush + 1.5 * distance_km * raining
    minutes = minutes + 2 * torch.randn(n, generator=g)                         # (N,) true duration
    forgotten = torch.rand(n, generator=g) < forgotten_rate                     # (N,)
    late = forgotten * (60 + 120 * torch.rand(n, generator=g))                  # (N,) auto-closed later
    delivered_at = placed_at + (60 * (minutes + late)).long()                   # (N,)
    return {"placed_at": placed_at, "delivered_at": delivered_at, "distance_km": distance_km, "items": items, "raining": raining}


def features(log):
    hour = log["placed_at"] // 3600 % 24                                        # (N,)
    x = torch.cat([
        log["distance_km"][:, None] / 10,
        log["items"][:, None] / 8,
        log["raining"][:, None].float(),
        F.one_hot(hour, 24).float(),
    ], dim=1)                                                                   # (N, D)
    minutes = (log["delivered_at"] - log["placed_at"]) // 60                    # (N,)
    return x.to(device), minutes.to(device)


x_train, y_train = features(make_log(n_train, split_seed=1, forgotten_rate=forgotten_rate))
x_val, y_val = features(make_log(2048, split_seed=2, forgotten_rate=0.0))       # audited orders
n_features = x_train.size(1)


# -----------------------------------------------------------------------------
# model
class DeliveryTime(nn.Module):
    def __init__(self):
        super().__init__()
        self.net = nn.Sequential(
            nn.Linear(n_features, n_hidden), nn.GELU(),
            nn.Linear(n_hidden, n_hidden), nn.GELU(),
            nn.Linear(n_hidden, 1),
        )

    def forward(self, x):  # x: (B, D)
        return self.net(x).squeeze(-1)  # (B,) minutes


model = DeliveryTime().to(device)
criterion = nn.HuberLoss(delta=huber_delta)
optimizer = torch.optim.AdamW(model.parameters(), lr=learning_rate, weight_decay=weight_decay)
scheduler = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=learning_rate, total_steps=max_steps, pct_start=0.1)
print(f"{sum(p.numel() for p in model.parameters())} parameters on {device}")


@torch.no_grad()
def mean_abs_error(x, y):
    model.eval()
    mae = (model(x) - y).abs().mean().item()
    model.train()
    return mae


# -----------------------------------------------------------------------------
# training loop
t0 = time.time()
for step in range(max_steps):
    idx = torch.randint(0, n_train, (batch_size,), device=device)       # (B,)
    xb, yb = x_train[idx], y_train[idx]                                  # (B, D), (B,)
    loss = criterion(model(xb), yb)
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    optimizer.step()
    scheduler.step()
    if step % log_interval == 0 or step == max_steps - 1:
        print(f"step {step:4d} | loss {loss.item():.4f} | lr {scheduler.get_last_lr()[0]:.2e}")

print(f"trained {max_steps} steps in {time.time() - t0:.1f}s")
print(f"val MAE {mean_abs_error(x_val, y_val):.2f} minutes")
