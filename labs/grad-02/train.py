"""
Risk-tier classifier for 16 account features.

Features -> MLP of our own Linear layers with LayerNorm and GELU -> one of 3 risk tiers.
Run: python train.py
"""
import math
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

# -----------------------------------------------------------------------------
# config
n_features = 16      # account features per sample
n_classes = 3        # risk tiers
n_hidden = 64        # MLP width
n_train = 8192       # training samples
n_val = 2048         # validation samples
batch_size = 256     # samples per optimizer step
max_steps = 300      # optimizer steps
learning_rate = 3e-3 # AdamW learning rate
weight_decay = 1e-4  # AdamW weight decay
log_interval = 50    # steps between progress lines
seed = 0             # torch seed for init and batching
# -----------------------------------------------------------------------------

torch.manual_seed(seed)
device = "cuda" if torch.cuda.is_available() else "mps" if torch.backends.mps.is_available() else "cpu"


# -----------------------------------------------------------------------------
# data: the tier is set by a 2-d risk signature spread over all features
def make_data(n, split_seed):
    """Tier = angle sector of the signature; the basis is fixed, the samples depend on split_seed."""
    basis, _ = torch.linalg.qr(torch.randn(n_features, 2, generator=torch.Generator().manual_seed(1234)))  # (D, 2)
    g = torch.Generator().manual_seed(split_seed)
    x = torch.randn(n, n_features, generator=g)                        # (N, D)
    z = x @ basis                                                      # (N, 2)
    angle = torch.atan2(z[:, 1], z[:, 0]) + math.pi                    # (N,) in [0, 2pi]
    y = (angle * n_classes / (2 * math.pi)).long().clamp(max=n_classes - 1)  # (N,)
    return x, y


x_train, y_train = make_data(n_train, split_seed=1)
x_val, y_val = make_data(n_val, split_seed=2)
x_train, y_train, x_val, y_val = (t.to(device) for t in (x_train, y_train, x_val, y_val))


# -----------------------------------------------------------------------------
# model
class Linear(nn.Module):
    """y = x W^T + b in nn.Linear's layout, with LeCun-normal weights (std 1/sqrt(fan_in)) and a zero bias."""

    def __init__(self, n_in, n_out):
        super().__init__()
        self.weight = torch.empty(n_out, n_in, requires_grad=True)
        self.bias = torch.zeros(n_out, requires_grad=True)
        nn.init.normal_(self.weight, std=n_in ** -0.5)

    def forward(self, x):  # x: (B, n_in)
        return x @ self.weight.T + self.bias                           # (B, n_out)


class RiskMLP(nn.Module):
    def __init__(self):
        super().__init__()
        self.net = nn.Sequential(
            Linear(n_features, n_hidden), nn.LayerNorm(n_hidden), nn.GELU(),
            Linear(n_hidden, n_hidden), nn.LayerNorm(n_hidden), nn.GELU(),
            Linear(n_hidden, n_classes),
        )

    def forward(self, x):  # x: (B, D)
        return self.net(x)                                             # (B, K)


with torch.device(device):  # build the weights where they will train
    model = RiskMLP()
optimizer = torch.optim.AdamW(model.parameters(), lr=learning_rate, weight_decay=weight_decay)
print(f"{sum(p.numel() for p in model.parameters())} parameters on {device}")


@torch.no_grad()
def accuracy(x, y):
    model.eval()
    acc = (model(x).argmax(dim=-1) == y).float().mean().item()
    model.train()
    return acc


# -----------------------------------------------------------------------------
# training loop
t0 = time.time()
for step in range(max_steps):
    idx = torch.randint(0, n_train, (batch_size,), device=device)     # (B,)
    xb, yb = x_train[idx], y_train[idx]                                # (B, D), (B,)
    logits = model(xb)                                                 # (B, K)
    loss = F.cross_entropy(logits, yb)
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
    if step % log_interval == 0 or step == max_steps - 1:
        print(f"step {step:4d} | loss {loss.item():.4f}")

print(f"trained {max_steps} steps in {time.time() - t0:.1f}s")
print(f"train accuracy {accuracy(x_train, y_train):.3f} | val accuracy {accuracy(x_val, y_val):.3f}")
