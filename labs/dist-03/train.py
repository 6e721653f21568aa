"""
Delivery-time (ETA) regressor, trained data-parallel on two workers.

12 order and route features -> MLP -> minutes to delivery (standardised). The learning rate drops
when the validation loss stops improving; validation is sharded across the workers like training.
Run: torchrun --standalone --nproc-per-node 2 train.py
"""
import math
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
n_features = 12      # order and route features
n_hidden = 64        # MLP width
n_train = 2048       # training orders
n_val = 512          # validation orders
noise = 1.0          # spread of real delivery times around the expected one
batch_size = 64      # orders per rank per optimizer step
epochs = 12          # passes over the training set
learning_rate = 0.1  # SGD starting learning rate
momentum = 0.9       # SGD momentum
lr_factor = 0.2      # ReduceLROnPlateau: multiply the learning rate by this ...
lr_patience = 1      # ... after this many epochs without a better validation loss
task_seed = 1234     # fixes how delivery time depends on the features (the task itself)
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
# data: expected minutes are a smooth function of the features; real ones scatter around it
def make_data(n, split_seed):
    w = torch.randn(3, n_features, generator=torch.Generator().manual_seed(task_seed)) / math.sqrt(n_features)  # (3, D)
    g = torch.Generator().manual_seed(split_seed)
    x = torch.randn(n, n_features, generator=g)                          # (N, D)
    z = x @ w.T                                                          # (N, 3)
    y = z[:, 0] + torch.tanh(2 * z[:, 1]) + 0.3 * z[:, 2] ** 2 + noise * torch.randn(n, generator=g)  # (N,)
    return x, y


train_set = TensorDataset(*make_data(n_train, split_seed=1))
val_set = TensorDataset(*make_data(n_val, split_seed=2))
train_sampler = DistributedSampler(train_set, num_replicas=world_size, rank=rank, shuffle=True, seed=seed)
train_loader = DataLoader(train_set, batch_size=batch_size, sampler=train_sampler, drop_last=True)
val_loader = DataLoader(val_set, batch_size=256, sampler=DistributedSampler(val_set, num_replicas=world_size, rank=rank, shuffle=False))


# -----------------------------------------------------------------------------
# model
class EtaRegressor(nn.Module):
    def __init__(self):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(n_features, n_hidden), nn.GELU(), nn.Linear(n_hidden, n_hidden), nn.GELU(), nn.Linear(n_hidden, 1))

    def forward(self, x):  # x: (B, D)
        return self.net(x).squeeze(-1)  # (B, 1) -> (B,)


model = DDP(EtaRegressor().to(device))
optimizer = torch.optim.SGD(model.parameters(), lr=learning_rate, momentum=momentum)
scheduler = torch.optim.lr_scheduler.ReduceLROnPlateau(optimizer, mode="min", factor=lr_factor, patience=lr_patience)
if master:
    print(f"{sum(p.numel() for p in model.parameters())} parameters on {device}, {world_size} ranks")


@torch.no_grad()
def val_loss():
    """Mean squared error over the validation orders."""
    model.eval()
    loss_sum = torch.zeros((), device=device)
    count = torch.zeros((), device=device)
    for xb, yb in val_loader:
        xb, yb = xb.to(device), yb.to(device)                            # (B, D), (B,)
        loss_sum += F.mse_loss(model(xb), yb, reduction="sum")
        count += len(yb)
    model.train()
    return (loss_sum / count).item()


# -----------------------------------------------------------------------------
# training loop
t0 = time.time()
step = 0
for epoch in range(epochs):
    train_sampler.set_epoch(epoch)
    for xb, yb in train_loader:
        xb, yb = xb.to(device), yb.to(device)                            # (B, D), (B,)
        loss = F.mse_loss(model(xb), yb)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        step += 1
    val = val_loss()
    scheduler.step(val)
    if master:
        print(f"epoch {epoch:2d} | step {step:4d} | train loss {loss.item():.4f} | val loss {val:.4f} | lr {optimizer.param_groups[0]['lr']:.1e}")

if master:
    print(f"trained {step} steps in {time.time() - t0:.1f}s")
dist.destroy_process_group()
