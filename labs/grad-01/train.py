"""
Fault classifier for a 32-channel vibration sensor.

Raw channels -> linear encoder -> FeatureNorm -> MLP head -> one of 4 fault classes.
Run: python train.py
"""
import math
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

# -----------------------------------------------------------------------------
# config
n_channels = 32      # raw sensor channels per sample
n_classes = 4        # fault types
n_embd = 8           # encoder output width
n_hidden = 64        # head MLP width
n_train = 8192       # training samples
n_val = 2048         # validation samples
batch_size = 256     # samples per optimizer step
max_steps = 300      # optimizer steps
learning_rate = 3e-3 # AdamW peak learning rate
weight_decay = 1e-4  # AdamW weight decay
log_interval = 50    # steps between progress lines
seed = 0             # torch seed for init and batching
# -----------------------------------------------------------------------------

torch.manual_seed(seed)
device = "cuda" if torch.cuda.is_available() else "mps" if torch.backends.mps.is_available() else "cpu"


# -----------------------------------------------------------------------------
# data: a 2-d fault signature mixed into all channels with sensor noise
def make_data(n, split_seed):
    """Class = angle sector of the fault signature; the mixing is fixed, the samples depend on split_seed."""
    mixing, _ = torch.linalg.qr(torch.randn(n_channels, n_channels, generator=torch.Generator().manual_seed(1234)))
    g = torch.Generator().manual_seed(split_seed)
    z = torch.randn(n, 2, generator=g)                                 # (N, 2)
    angle = torch.atan2(z[:, 1], z[:, 0]) + math.pi                    # (N,) in [0, 2pi]
    y = (angle * n_classes / (2 * math.pi)).long().clamp(max=n_classes - 1)  # (N,)
    noise = torch.randn(n, n_channels - 2, generator=g)                # (N, D-2)
    x = torch.cat([3.0 * z, noise], dim=1) @ mixing.T                  # (N, D)
    return x, y


x_train, y_train = make_data(n_train, split_seed=1)
x_val, y_val = make_data(n_val, split_seed=2)
x_train, y_train, x_val, y_val = (t.to(device) for t in (x_train, y_train, x_val, y_val))


# -----------------------------------------------------------------------------
# model
class FeatureNorm(nn.Module):
    """Per-channel standardisation as in BatchNorm1d: batch statistics while training, running averages at eval."""

    def __init__(self, n_features, momentum=0.1, eps=1e-5):
        super().__init__()
        self.momentum, self.eps = momentum, eps
        self.weight = nn.Parameter(torch.ones(n_features))
        self.bias = nn.Parameter(torch.zeros(n_features))
        self.register_buffer("running_mean", torch.zeros(n_features))
        self.register_buffer("running_var", torch.ones(n_features))

    def forward(self, x):  # x: (B, C)
        if self.training:
            mean = x.mean(dim=0)                                       # (C,)
            var = x.var(dim=0, unbiased=False)                         # (C,)
            with torch.no_grad():
                self.running_mean.lerp_(mean, self.momentum)
                self.running_var.lerp_(var, self.momentum)
                x = (x - mean) * torch.rsqrt(var + self.eps)           # (B, C)
        else:
            x = (x - self.running_mean) * torch.rsqrt(self.running_var + self.eps)
        return x * self.weight + self.bias


class FaultClassifier(nn.Module):
    def __init__(self):
        super().__init__()
        self.encoder = nn.Linear(n_channels, n_embd, bias=False)  # the norm removes any bias
        self.norm = FeatureNorm(n_embd)
        self.head = nn.Sequential(nn.Linear(n_embd, n_hidden), nn.GELU(), nn.Linear(n_hidden, n_classes))

    def forward(self, x):  # x: (B, D)
        h = self.norm(self.encoder(x))                                 # (B, E)
        return self.head(h)                                            # (B, K)


model = FaultClassifier().to(device)
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
t0 = time.time()
for step in range(max_steps):
    idx = torch.randint(0, n_train, (batch_size,), device=device)     # (B,)
    xb, yb = x_train[idx], y_train[idx]                                # (B, D), (B,)
    logits = model(xb)                                                 # (B, K)
    loss = F.cross_entropy(logits, yb)
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
    scheduler.step()
    if step % log_interval == 0 or step == max_steps - 1:
        print(f"step {step:4d} | loss {loss.item():.4f} | lr {scheduler.get_last_lr()[0]:.2e}")

print(f"trained {max_steps} steps in {time.time() - t0:.1f}s")
print(f"train accuracy {accuracy(x_train, y_train):.3f} | val accuracy {accuracy(x_val, y_val):.3f}")
