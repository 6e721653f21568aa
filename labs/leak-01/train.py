"""Train an MLP classifier on a synthetic tabular dataset (one pass), then report validation accuracy.

Shapes: N samples, B batch, D features, K clusters.
"""
import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.utils.data import DataLoader, TensorDataset

# -----------------------------------------------------------------------------
# config
n_features = 32        # input features per sample
n_classes = 8          # target classes
n_clusters = 3         # Gaussian clusters per class
n_train = 12800        # training samples (one pass over them)
n_val = 2048           # validation samples
batch_size = 64        # samples per optimizer step
hidden = 256           # width of the hidden layers
dropout = 0.1          # dropout after each hidden layer
learning_rate = 3e-3   # AdamW learning rate
weight_decay = 1e-4    # AdamW weight decay
log_interval = 40      # steps between progress lines
task_seed = 1234       # fixes the class clusters (the task itself)
seed = 0               # fixes the model init, the samples and the shuffling
# -----------------------------------------------------------------------------

torch.manual_seed(seed)
device = "cuda" if torch.cuda.is_available() else "mps" if torch.backends.mps.is_available() else "cpu"
dtype = torch.float32


def make_dataset(n, sample_seed):
    """Samples from a fixed mixture: each class owns n_clusters Gaussian clusters."""
    task = torch.Generator().manual_seed(task_seed)
    centers = 0.8 * torch.randn(n_classes * n_clusters, n_features, generator=task)  # (K, D)
    g = torch.Generator().manual_seed(sample_seed)
    cluster = torch.randint(0, n_classes * n_clusters, (n,), generator=g)  # (N,)
    x = centers[cluster] + torch.randn(n, n_features, generator=g)  # (N, D)
    y = cluster % n_classes  # (N,)
    return x.to(dtype), y


x_train, y_train = make_dataset(n_train, sample_seed=seed)
x_val, y_val = make_dataset(n_val, sample_seed=seed + 1)
train_loader = DataLoader(TensorDataset(x_train, y_train), batch_size=batch_size, shuffle=True, drop_last=True)
assert n_train % batch_size == 0, "n_train must be a multiple of batch_size: drop_last would skip samples"


class MLP(nn.Module):
    def __init__(self):
        super().__init__()
        self.net = nn.Sequential(
            nn.Linear(n_features, hidden), nn.GELU(), nn.Dropout(dropout),
            nn.Linear(hidden, hidden), nn.GELU(), nn.Dropout(dropout),
            nn.Linear(hidden, n_classes),
        )

    def forward(self, x):  # x: (B, D)
        return self.net(x)  # (B, n_classes)


model = MLP().to(device)
optimizer = torch.optim.AdamW(model.parameters(), lr=learning_rate, weight_decay=weight_decay)
n_steps = len(train_loader)
scheduler = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=learning_rate, total_steps=n_steps)

model.train()
running_loss = 0.0
for step, (x, y) in enumerate(train_loader):
    x, y = x.to(device), y.to(device)  # (B, D), (B,)
    logits = model(x)  # (B, n_classes)
    loss = F.cross_entropy(logits, y)
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    optimizer.step()
    scheduler.step()

    running_loss += loss
    if step % log_interval == 0 or step == n_steps - 1:
        print(f"step {step:4d} | loss {loss.item():.4f} | avg {running_loss / (step + 1):.4f}")


@torch.no_grad()
def accuracy(x, y):
    model.eval()
    preds = model(x.to(device)).argmax(dim=-1)  # (N,)
    return (preds == y.to(device)).float().mean().item()


print(f"train loss (epoch average) {running_loss / n_steps:.4f} | val accuracy {accuracy(x_val, y_val):.3f}")
