"""Risk classifier for card transactions that takes raw features: a Standardize layer learns
running statistics of the raw columns, then an MLP scores 4 risk levels. Exports the weights for
the serving job, which rebuilds the model and scores the validation set. Run: python train.py

Shapes: N transactions, B batch, D raw features, H hidden width, K risk levels.
"""
import io

import torch
import torch.nn as nn
import torch.nn.functional as F

# -----------------------------------------------------------------------------
# config
n_features = 16        # raw columns per transaction (amounts, counts, hours, ...)
n_classes = 4          # risk levels
n_hidden = 64          # MLP width
n_train = 8192         # training transactions
n_val = 2048           # validation transactions
batch_size = 128       # transactions per optimizer step
max_steps = 300        # optimizer steps
learning_rate = 3e-3   # AdamW learning rate
weight_decay = 1e-2    # AdamW weight decay
stats_momentum = 0.05  # how fast the running statistics follow the batches
log_interval = 50      # steps between progress lines
task_seed = 1234       # fixes the columns' units and the risk rule (the task itself)
seed = 0               # fixes the model init, the samples and the batches
# -----------------------------------------------------------------------------

torch.manual_seed(seed)
device = "cuda" if torch.cuda.is_available() else "mps" if torch.backends.mps.is_available() else "cpu"


def make_dataset(n, sample_seed):
    """Raw columns in their own units (offsets in the hundreds); the risk rule reads them standardised."""
    task = torch.Generator().manual_seed(task_seed)
    offset = 400 * torch.rand(n_features, generator=task) - 100  # (D,)
    scale = 1 + 99 * torch.rand(n_features, generator=task)  # (D,)
    w1 = torch.randn(n_features, 32, generator=task) / n_features ** 0.5  # (D, 32)
    w2 = torch.randn(32, n_classes, generator=task) / 32 ** 0.5  # (32, K)
    g = torch.Generator().manual_seed(sample_seed)
    z = torch.randn(n, n_features, generator=g)  # (N, D)
    y = (torch.tanh(z @ w1) @ w2).argmax(dim=-1)  # (N,)
    return offset + scale * z, y


x_train, y_train = make_dataset(n_train, sample_seed=seed + 1)
x_val, y_val = make_dataset(n_val, sample_seed=seed + 2)
x_train, y_train = x_train.to(device), y_train.to(device)


class Standardize(nn.Module):
    """Per-column standardisation: batch statistics while training, running statistics at eval."""

    def __init__(self, n_features, momentum, eps=1e-5):
        super().__init__()
        self.momentum, self.eps = momentum, eps
        self.running_mean = torch.zeros(n_features)
        self.running_var = torch.ones(n_features)

    def forward(self, x):  # x: (B, D)
        if self.training:
            mean, var = x.mean(dim=0), x.var(dim=0, unbiased=False)  # (D,), (D,)
            self.running_mean = torch.lerp(self.running_mean, mean.detach(), self.momentum)
            self.running_var = torch.lerp(self.running_var, var.detach(), self.momentum)
        else:
            mean, var = self.running_mean, self.running_var
        return (x - mean) * torch.rsqrt(var + self.eps)  # (B, D)


class RiskMLP(nn.Module):
    def __init__(self, n_features, n_hidden, n_classes):
        super().__init__()
        self.standardize = Standardize(n_features, stats_momentum)
        self.net = nn.Sequential(
            nn.Linear(n_features, n_hidden), nn.GELU(),
            nn.Linear(n_hidden, n_hidden), nn.GELU(),
            nn.Linear(n_hidden, n_classes),
        )

    def forward(self, x):  # x: (B, D) raw columns
        return self.net(self.standardize(x))  # (B, K)


with torch.device(device):
    model = RiskMLP(n_features, n_hidden, n_classes)
optimizer = torch.optim.AdamW(model.parameters(), lr=learning_rate, weight_decay=weight_decay)
print(f"{sum(p.numel() for p in model.parameters())} parameters on {device}")


@torch.no_grad()
def accuracy(m, x, y):
    m.eval()
    return (m(x).argmax(dim=-1) == y).float().mean().item()


for step in range(max_steps):
    idx = torch.randint(0, n_train, (batch_size,), device=device)  # (B,)
    xb, yb = x_train[idx], y_train[idx]  # (B, D), (B,)
    loss = F.cross_entropy(model(xb), yb)
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    optimizer.step()
    if step % log_interval == 0 or step == max_steps - 1:
        print(f"step {step:4d} | loss {loss.item():.4f}")

print(f"val accuracy (trained model) {accuracy(model, x_val.to(device), y_val.to(device)):.3f}")

# export the weights, then score the validation set the way the serving job does: on the CPU,
# with a model rebuilt from the code and the exported state_dict
checkpoint = io.BytesIO()
torch.save(model.state_dict(), checkpoint)
checkpoint.seek(0)
served = RiskMLP(n_features, n_hidden, n_classes)
served.load_state_dict(torch.load(checkpoint, map_location="cpu"))
print(f"val accuracy (served model)  {accuracy(served, x_val, y_val):.3f}")
