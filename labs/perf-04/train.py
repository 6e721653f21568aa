"""Train a residual MLP to predict the failure mode of a pump from its sensor summary, then report accuracy.

Shapes: N samples, B batch, F features, D width, K failure modes.
"""
import math
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

# -----------------------------------------------------------------------------
# config
n_features = 64        # sensor summary statistics per pump
n_classes = 8          # failure modes (0 = healthy)
n_train = 65536        # training samples
n_val = 4096           # validation samples
width = 256            # residual stream width
n_blocks = 3           # residual MLP blocks
max_steps = 120        # optimizer steps
learning_rate = 2e-3   # AdamW peak learning rate
weight_decay = 0.05    # AdamW weight decay
log_interval = 30      # steps between progress lines
task_seed = 1234       # fixes the failure signatures (the task itself)
seed = 0               # fixes the model init, the samples and the batches
# -----------------------------------------------------------------------------

torch.manual_seed(seed)
device = "cuda" if torch.cuda.is_available() else "mps" if torch.backends.mps.is_available() else "cpu"
batch_size = 65536 if device == "cuda" else 64  # samples per optimizer step: a GPU takes a full batch, a laptop a small one
# bf16 autocast where the GPU supports it (matmuls on the tensor cores, weights and optimizer in fp32)
dtype = "bfloat16" if device == "cuda" and torch.cuda.is_bf16_supported() else "float32"
ptdtype = {"float32": torch.float32, "bfloat16": torch.bfloat16}[dtype]
ctx = torch.autocast(device_type=device, dtype=ptdtype, enabled=ptdtype == "bfloat16")


def make_samples(n, sample_seed):
    """Each failure mode shifts the sensors along its own signature; a hidden nonlinearity mixes them."""
    task = torch.Generator().manual_seed(task_seed)
    signature = torch.randn(n_classes, n_features, generator=task) / math.sqrt(n_features)  # (K, F)
    mix = torch.randn(n_features, n_features, generator=task) / math.sqrt(n_features)  # (F, F)
    g = torch.Generator().manual_seed(sample_seed)
    y = torch.randint(0, n_classes, (n,), generator=g)  # (N,)
    z = 2.5 * signature[y] + torch.randn(n, n_features, generator=g)  # (N, F)
    x = torch.tanh(z @ mix) + 0.3 * z  # (N, F)
    return x, y


x_train, y_train = make_samples(n_train, sample_seed=seed)
x_val, y_val = make_samples(n_val, sample_seed=seed + 1)
x_train, y_train, x_val, y_val = (t.to(device) for t in (x_train, y_train, x_val, y_val))


class Block(nn.Module):
    def __init__(self):
        super().__init__()
        self.norm = nn.LayerNorm(width)
        self.up = nn.Linear(width, 2 * width)
        self.down = nn.Linear(2 * width, width)

    def forward(self, h):  # h: (B, D)
        return h + self.down(F.gelu(self.up(self.norm(h))))  # (B, D)


class PumpMLP(nn.Module):
    def __init__(self):
        super().__init__()
        self.embed = nn.Linear(n_features, width)
        self.blocks = nn.Sequential(*[Block() for _ in range(n_blocks)])
        self.norm = nn.LayerNorm(width)
        self.head = nn.Linear(width, n_classes)

    def forward(self, x):  # x: (B, F)
        h = self.blocks(self.embed(x))  # (B, D)
        return self.head(self.norm(h))  # (B, K)


model = PumpMLP().to(device)
optimizer = torch.optim.AdamW(model.parameters(), lr=learning_rate, weight_decay=weight_decay)
scheduler = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=learning_rate, total_steps=max_steps, pct_start=0.1)
print(f"{sum(p.numel() for p in model.parameters())} parameters on {device}, autocast {dtype}, batch {batch_size}")


@torch.no_grad()
def accuracy(x, y):
    model.eval()
    with ctx:
        acc = (model(x).argmax(dim=-1) == y).float().mean().item()
    model.train()
    return acc


# -----------------------------------------------------------------------------
# training loop
model.train()
running_loss = torch.zeros((), device=device)
t0 = time.time()
for step in range(max_steps):
    idx = torch.randint(0, n_train, (batch_size,), device=device)  # (B,)
    xb, yb = x_train[idx], y_train[idx]  # (B, F), (B,)
    with ctx:
        logits = model(xb)  # (B, K)
        loss = F.cross_entropy(logits, yb)
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    optimizer.step()
    scheduler.step()

    running_loss += loss.detach()
    if (step + 1) % log_interval == 0:
        print(f"step {step + 1:4d} | loss {running_loss.item() / log_interval:.4f}")
        running_loss.zero_()

print(f"trained {max_steps} steps in {time.time() - t0:.1f}s")
print(f"val accuracy {accuracy(x_val, y_val):.3f}")
