"""
Symbol classifier for a 16-antenna receiver.

Antenna readings -> MLP with our memory-efficient Mish -> one of 4 symbols.
Run: python train.py
"""
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

# -----------------------------------------------------------------------------
# config
n_antennas = 16      # readings per sample
n_classes = 4        # symbols: phase half x amplitude level
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
# data: a 2-d I/Q signature spread over all antennas
def make_data(n, split_seed):
    """Symbol = (phase in the upper half) * 2 + (amplitude above 1.2); the antenna mixing is fixed."""
    mixing, _ = torch.linalg.qr(torch.randn(n_antennas, 2, generator=torch.Generator().manual_seed(4321)))  # (D, 2)
    g = torch.Generator().manual_seed(split_seed)
    x = torch.randn(n, n_antennas, generator=g)                        # (N, D)
    iq = x @ mixing                                                    # (N, 2)
    upper = (torch.atan2(iq[:, 1], iq[:, 0]) > 0).long()               # (N,)
    loud = (iq.norm(dim=1) > 1.2).long()                               # (N,)
    return x, upper * 2 + loud


x_train, y_train = make_data(n_train, split_seed=1)
x_val, y_val = make_data(n_val, split_seed=2)
x_train, y_train, x_val, y_val = (t.to(device) for t in (x_train, y_train, x_val, y_val))


# -----------------------------------------------------------------------------
# model
class MemoryEfficientMishFunction(torch.autograd.Function):
    """Mish(x) = x * tanh(softplus(x)). Saves only x and recomputes the rest in backward, so each
    activation keeps one tensor alive for backward instead of three."""

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return x * torch.tanh(F.softplus(x))

    @staticmethod
    def backward(ctx, grad_output):
        (x,) = ctx.saved_tensors
        tsp = torch.tanh(F.softplus(x))
        return grad_output * (tsp + x * (1 - tsp * tsp))


class Mish(nn.Module):
    def forward(self, x):
        return MemoryEfficientMishFunction.apply(x)


class SymbolMLP(nn.Module):
    def __init__(self):
        super().__init__()
        self.net = nn.Sequential(
            nn.Linear(n_antennas, n_hidden), Mish(),
            nn.Linear(n_hidden, n_hidden), Mish(),
            nn.Linear(n_hidden, n_hidden), Mish(),
            nn.Linear(n_hidden, n_classes),
        )

    def forward(self, x):  # x: (B, D)
        return self.net(x)                                             # (B, K)


model = SymbolMLP().to(device)
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
