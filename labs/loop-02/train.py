"""
Churn model for the subscriptions team: 16 account features -> wide MLP -> will the account leave
this quarter (churn), downgrade, stay or upgrade.

Validates on the full held-out quarter every eval_interval steps and keeps the best weights.
Run: python train.py
"""
import math
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

# -----------------------------------------------------------------------------
# config
n_features = 16        # account features (usage, tenure, billing ...)
n_classes = 4          # churn / downgrade / stay / upgrade
n_hidden = 512         # MLP width
n_train = 16384        # training accounts
n_val = 81920          # held-out accounts (one quarter)
batch_size = 128       # accounts per optimizer step
val_batch_size = 4096  # accounts per validation forward
max_steps = 200        # optimizer steps
eval_interval = 100    # steps between validation passes
learning_rate = 2e-3   # AdamW peak learning rate
weight_decay = 1e-4    # AdamW weight decay
log_interval = 25      # steps between progress lines
task_seed = 1234       # fixes the rule that decides an account's class (the task itself)
seed = 0               # fixes the model init, the samples and the batching
# -----------------------------------------------------------------------------

torch.manual_seed(seed)
device = "cuda" if torch.cuda.is_available() else "mps" if torch.backends.mps.is_available() else "cpu"


# -----------------------------------------------------------------------------
# data: the class is the quadrant of two hidden scores, each a bent mix of the features
def make_data(n, split_seed):
    w = torch.randn(n_features, 2, generator=torch.Generator().manual_seed(task_seed))  # (D, 2)
    g = torch.Generator().manual_seed(split_seed)
    x = torch.randn(n, n_features, generator=g)                        # (N, D)
    score = torch.tanh(x @ w / math.sqrt(n_features) * 2) + 0.3 * (x[:, :2] ** 2 - 1)  # (N, 2)
    y = (score[:, 0] > 0).long() * 2 + (score[:, 1] > 0).long()      # (N,)
    return x, y


x_train, y_train = make_data(n_train, split_seed=1)
x_val, y_val = make_data(n_val, split_seed=2)
x_train, y_train, x_val, y_val = (t.to(device) for t in (x_train, y_train, x_val, y_val))


# -----------------------------------------------------------------------------
# model
class ChurnMLP(nn.Module):
    def __init__(self):
        super().__init__()
        self.net = nn.Sequential(
            nn.Linear(n_features, n_hidden), nn.LayerNorm(n_hidden), nn.GELU(), nn.Dropout(0.1),
            nn.Linear(n_hidden, n_classes),
        )

    def forward(self, x):  # x: (B, D)
        return self.net(x)  # (B, K)


model = ChurnMLP().to(device)
optimizer = torch.optim.AdamW(model.parameters(), lr=learning_rate, weight_decay=weight_decay)
scheduler = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=learning_rate, total_steps=max_steps, pct_start=0.1)
print(f"{sum(p.numel() for p in model.parameters())} parameters on {device}")


def evaluate():
    """Loss and accuracy over the whole validation quarter."""
    model.eval()
    logits = []
    for i in range(0, n_val, val_batch_size):
        logits.append(model(x_val[i : i + val_batch_size]))          # (Bv, K)
    logits = torch.cat(logits)                                         # (N, K)
    val_loss = F.cross_entropy(logits, y_val).item()
    val_acc = (logits.argmax(dim=-1) == y_val).float().mean().item()
    model.train()
    return val_loss, val_acc


# -----------------------------------------------------------------------------
# training loop
t0 = time.time()
best_loss, best_state = float("inf"), None
for step in range(max_steps):
    idx = torch.randint(0, n_train, (batch_size,), device=device)      # (B,)
    logits = model(x_train[idx])                                       # (B, K)
    loss = F.cross_entropy(logits, y_train[idx])
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    optimizer.step()
    scheduler.step()
    if step % log_interval == 0:
        print(f"step {step:4d} | loss {loss.item():.4f} | lr {scheduler.get_last_lr()[0]:.2e}")
    if (step + 1) % eval_interval == 0:
        val_loss, val_acc = evaluate()
        print(f"step {step:4d} | val loss {val_loss:.4f} | val accuracy {val_acc:.3f}")
        if val_loss < best_loss:
            best_loss, best_state = val_loss, {k: v.clone() for k, v in model.state_dict().items()}

print(f"trained {max_steps} steps in {time.time() - t0:.1f}s | best val loss {best_loss:.4f}")
model.load_state_dict(best_state)
