"""
Card-fraud detector: 16 features of a card transaction -> MLP -> logit of "fraud".

About 2.5% of transactions are fraud, and a missed fraud costs the bank about as much as 40 false
alarms, so every fraud counts fraud_weight times in the loss.
Shapes: N transactions, B batch, D features.
Run: python train.py
"""
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

# -----------------------------------------------------------------------------
# config
n_features = 16        # features per transaction
n_hidden = 64          # MLP width
n_train = 32768        # labelled training transactions
n_val = 8192           # validation transactions
fraud_weight = 40.0    # a missed fraud costs about 40 false alarms
batch_size = 256       # transactions per optimizer step
max_steps = 300        # optimizer steps
learning_rate = 3e-3   # AdamW peak learning rate
weight_decay = 1e-4    # AdamW weight decay
log_interval = 50      # steps between progress lines
task_seed = 1234       # fixes how fraud depends on the features (the task itself)
seed = 0               # torch seed for init and batching
# -----------------------------------------------------------------------------

torch.manual_seed(seed)
device = "cuda" if torch.cuda.is_available() else "mps" if torch.backends.mps.is_available() else "cpu"


# -----------------------------------------------------------------------------
# data: a transaction is fraud when a hidden risk score, seen through noise, is high
def make_data(n, split_seed):
    gt = torch.Generator().manual_seed(task_seed)
    w_in = torch.randn(n_features, 32, generator=gt)                        # (D, 32)
    w_out = torch.randn(32, generator=gt)                                   # (32,)
    g = torch.Generator().manual_seed(split_seed)
    x = torch.randn(n, n_features, generator=g)                             # (N, D)
    risk = torch.tanh(x @ w_in / n_features**0.5) @ w_out / 32**0.5 * 4     # (N,)
    y = (risk + torch.randn(n, generator=g) > 6.0).float()                  # (N,) 1 = fraud
    return x, y


x_train, y_train = make_data(n_train, split_seed=1)
x_val, y_val = make_data(n_val, split_seed=2)
x_train, y_train, x_val, y_val = (t.to(device) for t in (x_train, y_train, x_val, y_val))
print(f"fraud rate: train {y_train.mean().item():.3f} | val {y_val.mean().item():.3f}")


# -----------------------------------------------------------------------------
# model
class FraudDetector(nn.Module):
    def __init__(self):
        super().__init__()
        self.net = nn.Sequential(
            nn.Linear(n_features, n_hidden), nn.GELU(),
            nn.Linear(n_hidden, n_hidden), nn.GELU(),
            nn.Linear(n_hidden, 1),
        )

    def forward(self, x):  # x: (B, D)
        return self.net(x).squeeze(-1)  # (B,) logits


model = FraudDetector().to(device)
optimizer = torch.optim.AdamW(model.parameters(), lr=learning_rate, weight_decay=weight_decay)
scheduler = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=learning_rate, total_steps=max_steps, pct_start=0.1)
print(f"{sum(p.numel() for p in model.parameters())} parameters on {device}")


@torch.no_grad()
def recall_and_false_alarms(x, y):
    model.eval()
    flagged = model(x) > 0                                                  # (N,) probability above 0.5
    model.train()
    return flagged[y == 1].float().mean().item(), flagged[y == 0].float().mean().item()


# -----------------------------------------------------------------------------
# training loop
t0 = time.time()
for step in range(max_steps):
    idx = torch.randint(0, n_train, (batch_size,), device=device)          # (B,)
    x, y = x_train[idx], y_train[idx]                                      # (B, D), (B,)
    weight = torch.where(y == 1, fraud_weight, 1.0)                        # (B,)
    logits = model(x)                                                      # (B,)
    loss = (F.binary_cross_entropy_with_logits(logits, y) * weight).mean()
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    optimizer.step()
    scheduler.step()
    if step % log_interval == 0 or step == max_steps - 1:
        print(f"step {step:4d} | loss {loss.item():.4f} | lr {scheduler.get_last_lr()[0]:.2e}")

print(f"trained {max_steps} steps in {time.time() - t0:.1f}s")
recall, false_alarms = recall_and_false_alarms(x_val, y_val)
print(f"val: frauds caught {recall:.3f} | legitimate transactions flagged {false_alarms:.3f}")
