"""
Delivery-time regressor: an MLP predicts how many minutes an order takes from 16 order features.

Features and targets are standardised with the fixed constants the serving side uses.
Run: python train.py
"""
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

# -----------------------------------------------------------------------------
# config
n_features = 16       # order features (distance, basket size, hour, ...), standardised
n_hidden = 64         # MLP width
n_layer = 4           # hidden layers
n_train = 8192        # logged orders for training
n_val = 2048          # logged orders for validation
eta_mean = 30.0       # minutes: target = (minutes - eta_mean) / eta_scale
eta_scale = 10.0      # minutes
bulk_rate = 0.02      # share of orders that are bulk (catering, office) orders
bulk_scale = 20.0     # bulk orders' features sit this many standard deviations out
batch_size = 64       # orders per optimizer step
max_steps = 400       # optimizer steps
learning_rate = 0.05  # SGD learning rate
momentum = 0.9        # SGD momentum
log_interval = 50     # steps between progress lines
task_seed = 1234      # fixes the true delivery-time function
seed = 0              # fixes the model init, the samples and the batches
# -----------------------------------------------------------------------------

torch.manual_seed(seed)
device = "cuda" if torch.cuda.is_available() else "mps" if torch.backends.mps.is_available() else "cpu"


# -----------------------------------------------------------------------------
# data: delivery time is a smooth, saturating function of the order features
def make_data(n, sample_seed):
    """Standardised features (bulk orders far out in the tails) and standardised delivery minutes."""
    task = torch.Generator().manual_seed(task_seed)
    w_in = torch.randn(n_features, 8, generator=task) / 4              # (D, 8)
    w_out = torch.randn(8, generator=task)                             # (8,)
    g = torch.Generator().manual_seed(sample_seed)
    x = torch.randn(n, n_features, generator=g)                        # (N, D)
    bulk = torch.rand(n, generator=g) < bulk_rate                      # (N,)
    x = torch.where(bulk[:, None], bulk_scale * x, x)
    y = torch.tanh(x @ w_in) @ w_out + 0.1 * torch.randn(n, generator=g)  # (N,) = (minutes - eta_mean) / eta_scale
    return x, y


x_train, y_train = make_data(n_train, sample_seed=1)
x_val, y_val = make_data(n_val, sample_seed=2)
x_train, y_train, x_val, y_val = (t.to(device) for t in (x_train, y_train, x_val, y_val))


# -----------------------------------------------------------------------------
# model
class ETARegressor(nn.Module):
    def __init__(self):
        super().__init__()
        layers = [nn.Linear(n_features, n_hidden), nn.GELU()]
        for _ in range(n_layer - 1):
            layers += [nn.Linear(n_hidden, n_hidden), nn.GELU()]
        self.body = nn.Sequential(*layers)
        self.head = nn.Linear(n_hidden, 1)

    def forward(self, x):  # x: (B, D)
        return self.head(self.body(x)).squeeze(-1)                      # (B,)


model = ETARegressor().to(device)
optimizer = torch.optim.SGD(model.parameters(), lr=learning_rate, momentum=momentum)
print(f"{sum(p.numel() for p in model.parameters())} parameters on {device}")


@torch.no_grad()
def median_abs_error_minutes(x, y):
    model.eval()
    err = (model(x) - y).abs().median().item() * eta_scale
    model.train()
    return err


# -----------------------------------------------------------------------------
# training loop
t0 = time.time()
for step in range(max_steps):
    idx = torch.randint(0, n_train, (batch_size,), device=device)     # (B,)
    xb, yb = x_train[idx], y_train[idx]                                # (B, D), (B,)
    pred = model(xb)                                                   # (B,)
    loss = F.mse_loss(pred, yb)
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    optimizer.step()
    if step % log_interval == 0 or step == max_steps - 1:
        print(f"step {step:4d} | loss {loss.item():.4f}")

print(f"trained {max_steps} steps in {time.time() - t0:.1f}s")
print(f"val median abs error {median_abs_error_minutes(x_val, y_val):.2f} min")
