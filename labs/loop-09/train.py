"""
Weld inspection: 32 ultrasonic echo features per weld -> MLP with BatchNorm and dropout -> sound / flawed.

Training welds come shuffled from the labelling tool. The validation welds are the inspection
archive's export, which writes one folder per verdict ("flawed/", then "sound/"); the loader
reads them in that order. Validation runs after every epoch.
Run: python train.py
"""
import time

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.utils.data import DataLoader, TensorDataset

# -----------------------------------------------------------------------------
# config
n_features = 32        # echo features per weld
n_classes = 2          # 0 = sound, 1 = flawed
n_train = 4096         # training welds
n_val_flawed = 1024    # archived flawed welds (validation)
n_val_sound = 2048     # archived sound welds (validation)
n_hidden = 64          # MLP width
dropout = 0.3          # dropout before the classifier
batch_size = 64        # welds per optimizer step and per validation forward
n_epochs = 6           # passes over the training set
learning_rate = 3e-3   # AdamW learning rate
weight_decay = 1e-4    # AdamW weight decay
log_interval = 64      # steps between progress lines
task_seed = 1234       # fixes the echo signatures (the task itself)
seed = 0               # fixes the model init, the samples and the shuffling
# -----------------------------------------------------------------------------

torch.manual_seed(seed)
device = "cuda" if torch.cuda.is_available() else "mps" if torch.backends.mps.is_available() else "cpu"


# -----------------------------------------------------------------------------
# data: sound and flawed welds have different mean echoes; each probe reading adds noise
def make_welds(y, split_seed):
    g_task = torch.Generator().manual_seed(task_seed)
    baseline = 1.0 + 3.0 * torch.rand(n_features, generator=g_task)      # (D,) echo of a sound weld
    echo = baseline + 0.8 * torch.randn(n_classes, n_features, generator=g_task)  # (K, D)
    g = torch.Generator().manual_seed(split_seed)
    return echo[y] + torch.randn(len(y), n_features, generator=g)      # (N, D)


y_train = torch.randint(0, n_classes, (n_train,), generator=torch.Generator().manual_seed(1))
x_train = make_welds(y_train, split_seed=1)
y_val = torch.cat([torch.ones(n_val_flawed, dtype=torch.long), torch.zeros(n_val_sound, dtype=torch.long)])  # flawed/, then sound/
x_val = make_welds(y_val, split_seed=2)
train_loader = DataLoader(TensorDataset(x_train, y_train), batch_size=batch_size, shuffle=True, drop_last=True)
val_loader = DataLoader(TensorDataset(x_val, y_val), batch_size=batch_size)


# -----------------------------------------------------------------------------
# model
class WeldClassifier(nn.Module):
    def __init__(self):
        super().__init__()
        self.net = nn.Sequential(
            nn.Linear(n_features, n_hidden), nn.BatchNorm1d(n_hidden), nn.ReLU(),
            nn.Linear(n_hidden, n_hidden), nn.BatchNorm1d(n_hidden), nn.ReLU(),
            nn.Dropout(dropout), nn.Linear(n_hidden, n_classes),
        )

    def forward(self, x):  # x: (B, D)
        return self.net(x)  # (B, K)


model = WeldClassifier().to(device)
optimizer = torch.optim.AdamW(model.parameters(), lr=learning_rate, weight_decay=weight_decay)
print(f"{sum(p.numel() for p in model.parameters())} parameters on {device}")


@torch.no_grad()
def evaluate():
    correct, total = 0, 0
    for x, y in val_loader:
        x, y = x.to(device), y.to(device)
        correct += (model(x).argmax(dim=-1) == y).sum().item()
        total += len(y)
    return correct / total


# -----------------------------------------------------------------------------
# training loop
t0 = time.time()
step = 0
model.train()
for epoch in range(n_epochs):
    for x, y in train_loader:
        x, y = x.to(device), y.to(device)  # (B, D), (B,)
        loss = F.cross_entropy(model(x), y)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        step += 1
        if step % log_interval == 0:
            print(f"epoch {epoch} step {step:4d} | loss {loss.item():.4f}")
    print(f"epoch {epoch} | val accuracy {evaluate():.3f}")

print(f"trained {step} steps in {time.time() - t0:.1f}s")
