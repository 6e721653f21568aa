"""
Next-hour electricity load forecaster, trained data-parallel on two workers.

24 hourly load lags + 8 weather and calendar features -> MLP -> next hour's load (standardised).
The checkpoint in out_dir is what the nightly job resumes from and what serving loads.
Run: torchrun --standalone --nproc-per-node 2 train.py
"""
import math
import os
import tempfile
import time

import torch
import torch.distributed as dist
import torch.nn as nn
import torch.nn.functional as F
from torch.nn.parallel import DistributedDataParallel as DDP
from torch.utils.data import DataLoader, DistributedSampler, TensorDataset

# -----------------------------------------------------------------------------
# config
n_features = 32      # 24 load lags + 8 weather/calendar features
n_hidden = 64        # MLP width
n_train = 4096       # training hours
n_val = 1024         # validation hours
batch_size = 64      # hours per rank per optimizer step
epochs = 4           # passes over the training set
learning_rate = 3e-3 # AdamW learning rate
weight_decay = 1e-4  # AdamW weight decay
log_interval = 32    # steps between progress lines
task_seed = 1234     # fixes how load depends on the features (the task itself)
seed = 0             # fixes the model init and the data order
out_dir = os.path.join(tempfile.gettempdir(), "load-forecast", os.environ.get("TORCHELASTIC_RUN_ID", "local"))  # one folder per launch
# -----------------------------------------------------------------------------

dist.init_process_group("nccl" if torch.cuda.is_available() else "gloo")
rank, world_size = dist.get_rank(), dist.get_world_size()
master = rank == 0  # rank 0 prints
device = f"cuda:{int(os.environ['LOCAL_RANK'])}" if torch.cuda.is_available() else "cpu"  # gloo has no mps
if device.startswith("cuda"):
    torch.cuda.set_device(device)
torch.manual_seed(seed)
os.makedirs(out_dir, exist_ok=True)
ckpt_path = os.path.join(out_dir, "ckpt.pt")


# -----------------------------------------------------------------------------
# data: load is a smooth nonlinear function of the features plus noise
def make_data(n, split_seed):
    w = torch.randn(2, n_features, generator=torch.Generator().manual_seed(task_seed)) / math.sqrt(n_features)  # (2, D)
    g = torch.Generator().manual_seed(split_seed)
    x = torch.randn(n, n_features, generator=g)                          # (N, D)
    z = x @ w.T                                                          # (N, 2)
    y = torch.sin(2 * z[:, 0]) + 0.5 * z[:, 1] ** 2 + 0.1 * torch.randn(n, generator=g)  # (N,)
    return x, y


train_set = TensorDataset(*make_data(n_train, split_seed=1))
x_val, y_val = make_data(n_val, split_seed=2)
sampler = DistributedSampler(train_set, num_replicas=world_size, rank=rank, shuffle=True, seed=seed)
loader = DataLoader(train_set, batch_size=batch_size, sampler=sampler, drop_last=True)


# -----------------------------------------------------------------------------
# model
class LoadForecaster(nn.Module):
    def __init__(self):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(n_features, n_hidden), nn.GELU(), nn.Linear(n_hidden, n_hidden), nn.GELU(), nn.Linear(n_hidden, 1))

    def forward(self, x):  # x: (B, D)
        return self.net(x).squeeze(-1)  # (B, 1) -> (B,)


model = DDP(LoadForecaster().to(device))
optimizer = torch.optim.AdamW(model.parameters(), lr=learning_rate, weight_decay=weight_decay)
if master:
    print(f"{sum(p.numel() for p in model.parameters())} parameters on {device}, {world_size} ranks, checkpoints in {out_dir}")


@torch.no_grad()
def val_mse():
    model.eval()
    mse = F.mse_loss(model(x_val.to(device)).cpu(), y_val).item()
    model.train()
    return mse


def save_checkpoint(path, epoch, step):
    """Everything a resume needs; the bare model's weights are also what serving loads."""
    checkpoint = {"model": model.module.state_dict(), "optimizer": optimizer.state_dict(), "epoch": epoch, "step": step}
    torch.save(checkpoint, path)


# -----------------------------------------------------------------------------
# training loop
t0 = time.time()
step = 0
for epoch in range(epochs):
    sampler.set_epoch(epoch)
    for xb, yb in loader:
        xb, yb = xb.to(device), yb.to(device)                            # (B, D), (B,)
        loss = F.mse_loss(model(xb), yb)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        if master and step % log_interval == 0:
            print(f"epoch {epoch} | step {step:4d} | loss {loss.item():.4f}")
        step += 1
    save_checkpoint(ckpt_path, epoch, step)
    if master:
        print(f"epoch {epoch} done | val mse {val_mse():.4f} | saved {ckpt_path}")

if master:
    print(f"trained {step} steps in {time.time() - t0:.1f}s")
dist.destroy_process_group()
