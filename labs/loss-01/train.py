"""
Pump fault classifier: 8 vibration and temperature readings -> MLP -> one of 32 fault codes.

Ported from the team's Keras model; like the original, it returns class probabilities.
Shapes: N samples, B batch, D readings, K fault codes.
Run: python train.py
"""
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

# -----------------------------------------------------------------------------
# config
n_readings = 8         # sensor readings per sample
n_codes = 32           # fault codes (the classes)
n_hidden = 128         # MLP width
n_train = 16384        # labelled training samples
n_val = 4096           # validation samples
batch_size = 128       # samples per optimizer step
max_steps = 300        # optimizer steps
learning_rate = 1e-2   # AdamW peak learning rate
weight_decay = 1e-4    # AdamW weight decay
log_interval = 50      # steps between progress lines
task_seed = 1234       # fixes how the fault code depends on the readings (the task itself)
seed = 0               # torch seed for init and batching
# -----------------------------------------------------------------------------

torch.manual_seed(seed)
device = "cuda" if torch.cuda.is_available() else "mps" if torch.backends.mps.is_available() else "cpu"


# -----------------------------------------------------------------------------
# data: the fault code is the strongest of 32 responses to a few hidden mixtures of the readings
def make_data(n, split_seed):
    gt = torch.Generator().manual_seed(task_seed)
    w_mix = 0.5 * torch.randn(n_readings, 32, generator=gt)                 # (D, 32)
    w_code = torch.randn(32, n_codes, generator=gt)                         # (32, K)
    x = torch.randn(n, n_readings, generator=torch.Generator().manual_seed(split_seed))  # (N, D)
    y = (torch.tanh(x @ w_mix / n_readings**0.5) @ w_code).argmax(dim=-1)   # (N,)
    return x, y


x_train, y_train = make_data(n_train, split_seed=1)
x_val, y_val = make_data(n_val, split_seed=2)
x_train, y_train, x_val, y_val = (t.to(device) for t in (x_train, y_train, x_val, y_val))


# -----------------------------------------------------------------------------
# model
class FaultClassifier(nn.Module):
    def __init__(self):
        super().__init__()
        self.net = nn.Sequential(
            nn.Linear(n_readings, n_hidden), nn.GELU(),
            nn.Linear(n_hidden, n_hidden), nn.GELU(),
            nn.Linear(n_hidden, n_codes),
            nn.Softmax(dim=-1),
        )

    def forward(self, x):  # x: (B, D)
        return self.net(x)  # (B, K)


model = FaultClassifier().to(device)
criterion = nn.CrossEntropyLoss()
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
    idx = torch.randint(0, n_train, (batch_size,), device=device)  # (B,)
    out = model(x_train[idx])                                      # (B, K)
    loss = criterion(out, y_train[idx])
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    optimizer.step()
    scheduler.step()
    if step % log_interval == 0 or step == max_steps - 1:
        print(f"step {step:4d} | loss {loss.item():.4f} | lr {scheduler.get_last_lr()[0]:.2e}")

print(f"trained {max_steps} steps in {time.time() - t0:.1f}s")
print(f"train accuracy {accuracy(x_train[:n_val], y_train[:n_val]):.3f} | val accuracy {accuracy(x_val, y_val):.3f}")
