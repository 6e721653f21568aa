"""
Delivery-time model with two heads: minutes to delivery and first-attempt success.

One MLP trunk reads 12 order features; one head predicts the minutes until delivery (regression),
the other whether the courier finds someone home at the first attempt (binary). The two losses
live on different scales (squared minutes in the thousands, cross-entropy below 1), so each is
divided by its running mean before they are added: both tasks then pull on the trunk equally.
Shapes: N orders, B batch, F features, C channels, K = 2 tasks.
Run: python train.py
"""
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

# -----------------------------------------------------------------------------
# config
n_features = 12      # order features (distance, hour, weather, ...), standardised
n_embd = 64          # trunk width
batch_size = 256     # orders per optimizer step
max_steps = 200      # optimizer steps
learning_rate = 3e-3 # AdamW learning rate
weight_decay = 1e-4  # AdamW weight decay
ema_decay = 0.9      # decay of the running mean of each task's loss
log_interval = 50    # steps between progress lines
seed = 0             # torch seed for init and batching
# -----------------------------------------------------------------------------

torch.manual_seed(seed)
device = "cuda" if torch.cuda.is_available() else "mps" if torch.backends.mps.is_available() else "cpu"
dtype = torch.bfloat16  # autocast dtype of the forward pass; parameters and losses stay float32
ctx = torch.autocast(device_type=device, dtype=dtype)


# -----------------------------------------------------------------------------
# data: minutes grow with distance and rush hour; someone is home when two habits agree
def make_data(n, split_seed):
    g = torch.Generator().manual_seed(split_seed)
    x = torch.randn(n, n_features, generator=g)                                       # (N, F)
    minutes = 45 + 20 * x[:, 0] + 10 * x[:, 1] * x[:, 4] + 5 * torch.randn(n, generator=g)  # (N,)
    home = (x[:, 2] * x[:, 3] > 0).long()                                              # (N,)
    return x, minutes, home


train_set = [t.to(device) for t in make_data(32768, split_seed=1)]
val_set = [t.to(device) for t in make_data(4096, split_seed=2)]


# -----------------------------------------------------------------------------
# model
class DeliveryNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.trunk = nn.Sequential(
            nn.Linear(n_features, n_embd), nn.GELU(),
            nn.Linear(n_embd, n_embd), nn.GELU(),
        )
        self.minutes_head = nn.Linear(n_embd, 1)
        self.home_head = nn.Linear(n_embd, 2)

    def forward(self, x):  # (B, F)
        h = self.trunk(x)                                        # (B, C)
        return self.minutes_head(h).squeeze(-1), self.home_head(h)  # (B,), (B, 2)


model = DeliveryNet().to(device)
optimizer = torch.optim.AdamW(model.parameters(), lr=learning_rate, weight_decay=weight_decay)
print(f"{sum(p.numel() for p in model.parameters())} parameters on {device}")


@torch.no_grad()
def evaluate(x, minutes, home):
    model.eval()
    with ctx:
        pred, logits = model(x)
    model.train()
    mae = (pred.float() - minutes).abs().mean().item()
    acc = (logits.argmax(dim=-1) == home).float().mean().item()
    return mae, acc


# -----------------------------------------------------------------------------
# training loop
running = None  # running mean of each task's loss, (K,)
t0 = time.time()
for step in range(max_steps):
    idx = torch.randint(0, len(train_set[0]), (batch_size,), device=device)  # (B,)
    x, minutes, home = (t[idx] for t in train_set)                           # (B, F), (B,), (B,)
    with ctx:
        pred, logits = model(x)                                              # (B,), (B, 2)
    losses = torch.stack([F.mse_loss(pred.float(), minutes), F.cross_entropy(logits.float(), home)])  # (K,)
    running = losses if running is None else ema_decay * running + (1 - ema_decay) * losses
    loss = (losses / running).sum()  # each task contributes about 1, whatever its units
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    optimizer.step()
    if step % log_interval == 0 or step == max_steps - 1:
        mse, ce = losses.tolist()
        print(f"step {step:4d} | loss {loss.item():.4f} | minutes mse {mse:8.2f} | home ce {ce:.4f}")

print(f"trained {max_steps} steps in {time.time() - t0:.1f}s")
mae, acc = evaluate(*val_set)
print(f"val: minutes MAE {mae:.2f} | first-attempt accuracy {acc:.3f}")
