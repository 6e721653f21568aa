"""Churn classifier for subscription accounts: an MLP over 24 usage features, 5 outcome classes,
trained with SGD and a step learning-rate schedule. Run: python train.py

Shapes: N accounts, B batch, D features, H hidden width, K classes.
"""
import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.utils.data import DataLoader, TensorDataset

# -----------------------------------------------------------------------------
# config
n_features = 24        # usage features per account
n_classes = 5          # outcome classes
n_hidden = 128         # MLP width
n_train = 8192         # training accounts
n_val = 2048           # validation accounts
batch_size = 128       # accounts per optimizer step
epochs = 5             # passes over the training set
learning_rate = 0.1    # SGD learning rate at the start
momentum = 0.9         # SGD momentum
weight_decay = 5e-4    # SGD weight decay
lr_decay_every = 2     # epochs between learning-rate decays
lr_decay = 0.1         # factor applied at each decay
log_interval = 40      # steps between progress lines
task_seed = 1234       # fixes the labelling rule (the task itself)
seed = 0               # fixes the model init, the samples and the shuffling
# -----------------------------------------------------------------------------

torch.manual_seed(seed)
device = "cuda" if torch.cuda.is_available() else "mps" if torch.backends.mps.is_available() else "cpu"


def make_dataset(n, sample_seed):
    """Accounts with Gaussian features; the outcome is decided by a fixed random two-layer rule."""
    task = torch.Generator().manual_seed(task_seed)
    w1 = torch.randn(n_features, 32, generator=task) / n_features ** 0.5  # (D, 32)
    w2 = torch.randn(32, n_classes, generator=task) / 32 ** 0.5  # (32, K)
    g = torch.Generator().manual_seed(sample_seed)
    x = torch.randn(n, n_features, generator=g)  # (N, D)
    y = (torch.tanh(x @ w1) @ w2).argmax(dim=-1)  # (N,)
    return x, y


x_train, y_train = make_dataset(n_train, sample_seed=seed + 1)
x_val, y_val = make_dataset(n_val, sample_seed=seed + 2)
train_loader = DataLoader(TensorDataset(x_train, y_train), batch_size=batch_size, shuffle=True, drop_last=True)


class ChurnMLP(nn.Module):
    def __init__(self):
        super().__init__()
        self.net = nn.Sequential(
            nn.Linear(n_features, n_hidden), nn.ReLU(),
            nn.Linear(n_hidden, n_hidden), nn.ReLU(),
            nn.Linear(n_hidden, n_classes),
        )

    def forward(self, x):  # x: (B, D)
        return self.net(x)  # (B, K)


model = ChurnMLP().to(device)
optimizer = torch.optim.SGD(model.parameters(), lr=learning_rate, momentum=momentum, weight_decay=weight_decay)
scheduler = torch.optim.lr_scheduler.StepLR(optimizer, step_size=lr_decay_every, gamma=lr_decay)
print(f"{sum(p.numel() for p in model.parameters())} parameters on {device}, {epochs * len(train_loader)} steps")


@torch.no_grad()
def accuracy(x, y):
    model.eval()
    preds = model(x.to(device)).argmax(dim=-1)  # (N,)
    model.train()
    return (preds == y.to(device)).float().mean().item()


step = 0
for epoch in range(epochs):
    for xb, yb in train_loader:
        xb, yb = xb.to(device), yb.to(device)  # (B, D), (B,)
        loss = F.cross_entropy(model(xb), yb)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        scheduler.step()
        if step % log_interval == 0:
            print(f"epoch {epoch} | step {step:4d} | loss {loss.item():.4f}")
        step += 1
    print(f"epoch {epoch} done | val accuracy {accuracy(x_val, y_val):.3f}")

print(f"train accuracy {accuracy(x_train, y_train):.3f} | val accuracy {accuracy(x_val, y_val):.3f}")
