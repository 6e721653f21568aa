# doctor corpus: DDP (gloo, 2 ranks) MLP regressor with DistributedSampler.set_epoch each epoch and a rank-0-only checkpoint
# modelled on: PyTorch "Getting Started with Distributed Data Parallel" + torchrun elastic example
# expect: none
# nproc: 2
import os
import tempfile

import torch
import torch.distributed as dist
import torch.nn as nn
import torch.nn.functional as F
from torch.nn.parallel import DistributedDataParallel as DDP
from torch.utils.data import DataLoader, DistributedSampler, TensorDataset

# run with: torchrun --standalone --nproc-per-node 2 ddp_two_ranks.py

# ---- config ----
SEED = 7
N_TRAIN, N_VAL, IN_DIM = 4096, 512, 16
BATCH = 32                 # per rank
EPOCHS = 3
LR = 1e-3
device = "cuda" if torch.cuda.is_available() else "cpu"

dist.init_process_group("gloo")
rank, world = dist.get_rank(), dist.get_world_size()
local_rank = int(os.environ.get("LOCAL_RANK", 0))
if device == "cuda":
    torch.cuda.set_device(local_rank)
    device = f"cuda:{local_rank}"

# ---- data: identical on every rank (same seed); the sampler shards it ----
g = torch.Generator().manual_seed(SEED)
w_true = 0.3 * torch.randn(IN_DIM, 1, generator=g)
x_all = torch.randn(N_TRAIN + N_VAL, IN_DIM, generator=g)                   # [N, D]
y_all = torch.sin(x_all @ w_true) + 0.1 * (x_all[:, :1] ** 2) \
    + 0.05 * torch.randn(N_TRAIN + N_VAL, 1, generator=g)                    # [N, 1]
train_ds = TensorDataset(x_all[:N_TRAIN], y_all[:N_TRAIN])
x_val, y_val = x_all[N_TRAIN:], y_all[N_TRAIN:]
sampler = DistributedSampler(train_ds, num_replicas=world, rank=rank, shuffle=True, seed=SEED)
loader = DataLoader(train_ds, batch_size=BATCH, sampler=sampler, drop_last=True)

# ---- model: same init on every rank, DDP broadcasts rank 0's weights anyway ----
torch.manual_seed(SEED)
model = nn.Sequential(nn.Linear(IN_DIM, 64), nn.Tanh(), nn.Linear(64, 64), nn.Tanh(),
                      nn.Linear(64, 1)).to(device)
ddp_model = DDP(model, device_ids=[local_rank] if device.startswith("cuda") else None)
optimizer = torch.optim.Adam(ddp_model.parameters(), lr=LR)

# ---- training ----
step = 0
for epoch in range(EPOCHS):
    sampler.set_epoch(epoch)              # a different shuffle every epoch, consistent across ranks
    ddp_model.train()
    for xb, yb in loader:
        xb, yb = xb.to(device), yb.to(device)
        loss = F.mse_loss(ddp_model(xb), yb)                                  # [B, 1] vs [B, 1]
        optimizer.zero_grad(set_to_none=True)
        loss.backward()                   # DDP all-reduces gradients here
        optimizer.step()
        step += 1
        if rank == 0 and (step == 1 or step % 20 == 0):
            print(f"[rank 0] epoch {epoch} step {step:4d} loss {loss.item():.4f}")

    # ---- evaluation: each rank scores half of the validation set, then all-reduce ----
    ddp_model.eval()
    with torch.no_grad():
        xs, ys = x_val[rank::world].to(device), y_val[rank::world].to(device)
        stats = torch.tensor([F.mse_loss(model(xs), ys, reduction="sum").item(), len(xs)],
                             device=device)
    dist.all_reduce(stats)
    if rank == 0:
        baseline = y_val.var(unbiased=False).item()
        print(f"epoch {epoch} val_mse {stats[0].item() / stats[1].item():.4f} "
              f"(predict-the-mean mse {baseline:.4f})")

# ---- checkpoint: rank 0 only, everyone waits for it ----
if rank == 0:
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "ddp_mlp.pt")
        torch.save({"model": model.state_dict(), "optimizer": optimizer.state_dict(),
                    "epoch": EPOCHS}, path)
        print(f"saved checkpoint ({os.path.getsize(path)} bytes)")
dist.barrier()
dist.destroy_process_group()
