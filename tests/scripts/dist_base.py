"""A tiny, correct data-parallel loop for torchrun (gloo on the CPU): DistributedDataParallel, a
DistributedSampler with set_epoch, and the checkpoint saved by rank 0 only. The dist probe tests run it
as the bug-absent case; tests/probe_cases.py derives one variant per bug."""
import os
import tempfile

import torch
import torch.distributed as dist
import torch.nn as nn
from torch.nn.parallel import DistributedDataParallel as DDP
from torch.utils.data import DataLoader, DistributedSampler, TensorDataset

dist.init_process_group("nccl" if torch.cuda.is_available() else "gloo")
rank, world = dist.get_rank(), dist.get_world_size()
torch.manual_seed(0)
EPOCHS = 3
CHECKPOINT = os.path.join(tempfile.gettempdir(), f"debuglab-dist-{os.environ['TORCHELASTIC_RUN_ID']}.pt")

x = torch.randn(2048, 16)  # 32 steps an epoch on each of two ranks: enough after warm-up for a memory slope
y = (x @ torch.randn(16, 4)).argmax(dim=1)
sampler = DistributedSampler(TensorDataset(x, y), num_replicas=world, rank=rank, shuffle=True, seed=0)
loader = DataLoader(TensorDataset(x, y), batch_size=32, sampler=sampler)
model = DDP(nn.Sequential(nn.Linear(16, 32), nn.ReLU(), nn.Linear(32, 4)))
optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
for epoch in range(EPOCHS):
    sampler.set_epoch(epoch)
    for xb, yb in loader:
        loss = nn.functional.cross_entropy(model(xb), yb)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    if rank == 0:
        torch.save(model.module.state_dict(), CHECKPOINT)
        print(f"epoch {epoch} loss {loss.item():.4f}")
dist.barrier()
if rank == 0:
    os.remove(CHECKPOINT)
dist.destroy_process_group()
