"""
Activity classifier for wrist-worn sensors, trained data-parallel on two workers.

16 sensor features per window -> MLP -> one of 4 activities. The training set is assembled from
one recording session per activity, so its rows arrive grouped by activity.
Run: torchrun --standalone --nproc-per-node 2 train.py
"""
import os
import time

import torch
import torch.distributed as dist
import torch.nn as nn
import torch.nn.functional as F
from torch.nn.parallel import DistributedDataParallel as DDP
from torch.utils.data import DataLoader, DistributedSampler, TensorDataset

# -----------------------------------------------------------------------------
# config
n_features = 16      # sensor features per window
n_classes = 4        # activities
n_hidden = 64        # MLP width
n_per_class = 1024   # training windows per activity
n_val = 2048         # validation windows
batch_size = 64      # windows per rank per optimizer step
epochs = 4           # passes over the training set
learning_rate = 0.1  # SGD learning rate
momentum = 0.9       # SGD momentum
log_interval = 32    # steps between progress lines
task_seed = 1234     # fixes where each activity sits in feature space (the task itself)
seed = 0             # fixes the model init and the data order
# -----------------------------------------------------------------------------

dist.init_process_group("nccl" if torch.cuda.is_available() else "gloo")
rank, world_size = dist.get_rank(), dist.get_world_size()
master = rank == 0  # rank 0 prints
device = f"cuda:{int(os.environ['LOCAL_RANK'])}" if torch.cuda.is_available() else "cpu"  # gloo has no mps
if device.startswith("cuda"):
    torch.cuda.set_device(device)
torch.manual_seed(seed)


# -----------------------------------------------------------------------------
# data: each activity is a blob in feature space; the sessions are concatenated, activity by activity
def make_data(n_per_class, split_seed):
    centers = 0.7 * torch.randn(n_classes, n_features, generator=torch.Generator().manual_seed(task_seed))  # (K, D)
    g = torch.Generator().manual_seed(split_seed)
    y = torch.arange(n_classes).repeat_interleave(n_per_class)           # (N,) grouped by activity
    x = centers[y] + torch.randn(len(y), n_features, generator=g)        # (N, D)
    return x, y


train_set = TensorDataset(*make_data(n_per_class, split_seed=1))
x_val, y_val = make_data(n_val // n_classes, split_seed=2)
sampler = DistributedSampler(train_set, num_replicas=world_size, rank=rank, shuffle=True, seed=seed)
loader = DataLoader(train_set, batch_size=batch_size, sampler=sampler, drop_last=True)


# -----------------------------------------------------------------------------
# model
class ActivityClassifier(nn.Module):
    def __init__(self):
        super().__init__()
        self.net = nn.Sequential(
            nn.Linear(n_features, n_hidden), nn.GELU(), nn.Linear(n_hidden, n_hidden), nn.GELU(), nn.Linear(n_hidden, n_classes)
        )

    def forward(self, x):  # x: (B, D)
        return self.net(x)  # (B, K)


model = DDP(ActivityClassifier().to(device))
optimizer = torch.optim.SGD(model.parameters(), lr=learning_rate, momentum=momentum)
if master:
    print(f"{sum(p.numel() for p in model.parameters())} parameters on {device}, {world_size} ranks, {len(loader)} steps per epoch")


@torch.no_grad()
def accuracy(x, y):
    model.eval()
    acc = (model(x.to(device)).argmax(dim=-1).cpu() == y).float().mean().item()
    model.train()
    return acc


# -----------------------------------------------------------------------------
# training loop
t0 = time.time()
step = 0
for epoch in range(epochs):
    for xb, yb in loader:
        xb, yb = xb.to(device), yb.to(device)                            # (B, D), (B,)
        loss = F.cross_entropy(model(xb), yb)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        if master and step % log_interval == 0:
            print(f"epoch {epoch} | step {step:4d} | loss {loss.item():.4f}")
        step += 1
    if master:
        print(f"epoch {epoch} done | val accuracy {accuracy(x_val, y_val):.3f}")

if master:
    print(f"trained {step} steps in {time.time() - t0:.1f}s")
dist.destroy_process_group()
