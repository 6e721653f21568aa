"""
Crop-stress classifier from 16 spectral bands, as a deep residual MLP.

Bands -> 10 residual blocks (the first projects 16 -> 32) -> LayerNorm -> head -> 4 stress classes.
Run: python train.py
"""
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

# -----------------------------------------------------------------------------
# config
n_bands = 16         # spectral bands per pixel
n_classes = 4        # stress classes: water (no/yes) x nitrogen (no/yes)
n_width = 32         # width of the residual stream
n_blocks = 10        # residual blocks
n_train = 8192       # training pixels
n_val = 2048         # validation pixels
batch_size = 128     # pixels per optimizer step
max_steps = 200      # optimizer steps
learning_rate = 3e-3 # AdamW peak learning rate
weight_decay = 1e-4  # AdamW weight decay
log_interval = 40    # steps between progress lines
seed = 0             # torch seed for init and batching
# -----------------------------------------------------------------------------

torch.manual_seed(seed)
device = "cuda" if torch.cuda.is_available() else "mps" if torch.backends.mps.is_available() else "cpu"


# -----------------------------------------------------------------------------
# data: two stress indices mixed into all bands
def make_data(n, split_seed):
    """Class = 2 * (water index direction in the upper half) + (stress magnitude above 1.2)."""
    mixing, _ = torch.linalg.qr(torch.randn(n_bands, 2, generator=torch.Generator().manual_seed(2468)))  # (D, 2)
    g = torch.Generator().manual_seed(split_seed)
    x = torch.randn(n, n_bands, generator=g)                           # (N, D)
    z = x @ mixing                                                     # (N, 2)
    water = (torch.atan2(z[:, 1], z[:, 0]) > 0).long()                 # (N,)
    nitrogen = (z.norm(dim=1) > 1.2).long()                            # (N,)
    return x, water * 2 + nitrogen


x_train, y_train = make_data(n_train, split_seed=1)
x_val, y_val = make_data(n_val, split_seed=2)
x_train, y_train, x_val, y_val = (t.to(device) for t in (x_train, y_train, x_val, y_val))


# -----------------------------------------------------------------------------
# model
class ResidualBlock(nn.Module):
    """x -> x + fc2(gelu(fc1(x))), with a linear projection on the shortcut where the width changes."""

    def __init__(self, n_in, n_out):
        super().__init__()
        self.fc1 = nn.Linear(n_in, n_out)
        self.fc2 = nn.Linear(n_out, n_out)
        self.shortcut = nn.Linear(n_in, n_out, bias=False) if n_in != n_out else None

    def forward(self, x):  # x: (B, n_in)
        out = self.fc2(F.gelu(self.fc1(x)))                            # (B, n_out)
        if self.shortcut is not None:
            x = self.shortcut(x)                                       # (B, n_out)
            out = out + x
        return out


class StressNet(nn.Module):
    def __init__(self):
        super().__init__()
        widths = [n_bands] + [n_width] * n_blocks
        self.blocks = nn.Sequential(*[ResidualBlock(a, b) for a, b in zip(widths[:-1], widths[1:])])
        self.norm = nn.LayerNorm(n_width)
        self.head = nn.Linear(n_width, n_classes)

    def forward(self, x):  # x: (B, D)
        h = self.norm(self.blocks(x))                                  # (B, W)
        return self.head(h)                                            # (B, K)


model = StressNet().to(device)
optimizer = torch.optim.AdamW(model.parameters(), lr=learning_rate, weight_decay=weight_decay)
scheduler = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=learning_rate, total_steps=max_steps, pct_start=0.1)
print(f"{sum(p.numel() for p in model.parameters())} parameters in {n_blocks} blocks on {device}")


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
