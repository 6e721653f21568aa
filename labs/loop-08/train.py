"""
Material classifier for the recycling line: 32-band reflectance spectrum -> MLP -> material.

The recipe (batch 256, SGD with momentum, one-cycle schedule to a peak rate of 0.5) was tuned on a
workstation. The line's edge box fits 32 spectra at a time, so the loop accumulates the gradients
of 8 micro-batches and steps once per 256 spectra, as the recipe does.
Run: python train.py
"""
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

# -----------------------------------------------------------------------------
# config
n_bands = 32           # reflectance bands per spectrum
n_materials = 8        # target classes
n_finishes = 4         # surface finishes per material (each has its own spectrum)
noise = 1.0            # sensor noise (std)
n_hidden = 64          # MLP width
n_train = 16384        # training spectra
n_val = 2048           # validation spectra
batch_size = 256       # spectra per optimizer step (the recipe's batch)
micro_batch = 32       # spectra per forward/backward (what the edge box fits)
accum_steps = batch_size // micro_batch
max_steps = 120        # optimizer steps
learning_rate = 0.5    # SGD peak learning rate (the recipe's)
momentum = 0.9         # SGD momentum
weight_decay = 5e-4    # SGD weight decay
log_interval = 20      # steps between progress lines
task_seed = 1234       # fixes the material spectra (the task itself)
seed = 0               # fixes the model init, the samples and the batching
# -----------------------------------------------------------------------------

torch.manual_seed(seed)
device = "cuda" if torch.cuda.is_available() else "mps" if torch.backends.mps.is_available() else "cpu"
assert batch_size % micro_batch == 0, "batch_size must be a whole number of micro-batches"


# -----------------------------------------------------------------------------
# data: every material has one reference spectrum per surface finish; the sensor adds noise
def make_data(n, split_seed):
    g_task = torch.Generator().manual_seed(task_seed)
    spectra = torch.randn(n_materials, n_finishes, n_bands, generator=g_task)  # (K, F, D)
    g = torch.Generator().manual_seed(split_seed)
    y = torch.randint(0, n_materials, (n,), generator=g)                       # (N,)
    finish = torch.randint(0, n_finishes, (n,), generator=g)                   # (N,)
    x = spectra[y, finish] + noise * torch.randn(n, n_bands, generator=g)      # (N, D)
    return x, y


x_train, y_train = make_data(n_train, split_seed=1)
x_val, y_val = make_data(n_val, split_seed=2)
x_train, y_train, x_val, y_val = (t.to(device) for t in (x_train, y_train, x_val, y_val))


# -----------------------------------------------------------------------------
# model
class SpectrumClassifier(nn.Module):
    def __init__(self):
        super().__init__()
        self.net = nn.Sequential(
            nn.Linear(n_bands, n_hidden), nn.GELU(),
            nn.Linear(n_hidden, n_hidden), nn.GELU(),
            nn.Linear(n_hidden, n_materials),
        )

    def forward(self, x):  # x: (B, D)
        return self.net(x)  # (B, K)


model = SpectrumClassifier().to(device)
optimizer = torch.optim.SGD(model.parameters(), lr=learning_rate, momentum=momentum, weight_decay=weight_decay)
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
    for micro_step in range(accum_steps):
        idx = torch.randint(0, n_train, (micro_batch,), device=device)  # (B,)
        logits = model(x_train[idx])                                     # (B, K)
        loss = F.cross_entropy(logits, y_train[idx])
        loss.backward()
    optimizer.step()
    scheduler.step()
    optimizer.zero_grad(set_to_none=True)
    if step % log_interval == 0 or step == max_steps - 1:
        print(f"step {step:4d} | loss {loss.item():.4f} | lr {scheduler.get_last_lr()[0]:.2e}")

print(f"trained {max_steps} steps in {time.time() - t0:.1f}s")
print(f"train accuracy {accuracy(x_train, y_train):.3f} | val accuracy {accuracy(x_val, y_val):.3f}")
