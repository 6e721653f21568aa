# doctor corpus: two-rank DistributedDataParallel MLP classifying a synthetic 3-arm spiral (gloo backend, torchrun)
# modelled on: PyTorch forums thread "DistributedSampler" (answer: with shuffle on you should call set_epoch to change the seed, otherwise each epoch gets the same permutation; also the DistributedSampler docs note), https://discuss.pytorch.org/t/distributedsampler/90205
# expect: sampler-same-order
# nproc: 2
import math
import os

import numpy as np
import torch
import torch.distributed as dist
import torch.nn as nn
import torch.nn.functional as F
from torch.nn.parallel import DistributedDataParallel as DDP
from torch.utils.data import DataLoader, TensorDataset
from torch.utils.data.distributed import DistributedSampler

# ---------------- config ----------------
SEED = 8
N_ARMS = 3
N_TRAIN = 3072
N_TEST = 1024
BATCH = 32               # per rank -> 48 steps per epoch per rank
EPOCHS = 4
LR = 0.05
MOMENTUM = 0.9
LOG_EVERY = 24

dist.init_process_group("gloo")
rank, world = dist.get_rank(), dist.get_world_size()
device = "cuda" if torch.cuda.is_available() else "cpu"
if device == "cuda":
    torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", 0)))
    device = f"cuda:{torch.cuda.current_device()}"

np.random.seed(SEED)                 # same dataset on every rank
torch.manual_seed(SEED)


# ---------------- synthetic spiral ----------------
def make_spiral(n):
    y = np.random.randint(0, N_ARMS, size=n)
    r = np.random.uniform(0.1, 1.0, size=n)
    theta = 2 * np.pi * y / N_ARMS + 3.0 * r + np.random.normal(0, 0.15, size=n)
    x = np.stack([r * np.cos(theta), r * np.sin(theta)], axis=1)
    return torch.tensor(x, dtype=torch.float32), torch.tensor(y)   # (N, 2), (N,)


train_ds = TensorDataset(*make_spiral(N_TRAIN))
test_x, test_y = make_spiral(N_TEST)
sampler = DistributedSampler(train_ds, num_replicas=world, rank=rank, shuffle=True, seed=SEED)
loader = DataLoader(train_ds, batch_size=BATCH, sampler=sampler, drop_last=True)


# ---------------- model ----------------
class SpiralNet(nn.Module):
    def __init__(self, hidden=64):
        super().__init__()
        self.net = nn.Sequential(
            nn.Linear(2, hidden), nn.Tanh(),
            nn.Linear(hidden, hidden), nn.Tanh(),
            nn.Linear(hidden, N_ARMS),
        )

    def forward(self, x):        # (B, 2)
        return self.net(x)       # (B, K)


torch.manual_seed(SEED)              # identical init on all ranks (DDP also broadcasts rank 0's weights)
model = DDP(SpiralNet().to(device))
optimizer = torch.optim.SGD(model.parameters(), lr=LR, momentum=MOMENTUM)

# ---------------- training ----------------
if rank == 0:
    print(f"world size {world} | chance loss ln({N_ARMS}) = {math.log(N_ARMS):.3f}")
step = 0
for epoch in range(EPOCHS):
    model.train()
    epoch_loss = torch.zeros(2)
    for xb, yb in loader:
        xb, yb = xb.to(device), yb.to(device)
        loss = F.cross_entropy(model(xb), yb)
        optimizer.zero_grad()
        loss.backward()                  # gradients all-reduced across ranks here
        optimizer.step()
        epoch_loss += torch.tensor([loss.item() * len(yb), len(yb)])
        step += 1
        if rank == 0 and step % LOG_EVERY == 0:
            print(f"epoch {epoch} step {step:4d} | loss {loss.item():.4f}")
    dist.all_reduce(epoch_loss)
    if rank == 0:
        print(f"epoch {epoch} | mean train loss {epoch_loss[0] / epoch_loss[1]:.4f}")

# ---------------- evaluation (rank 0) ----------------
if rank == 0:
    model.eval()
    with torch.no_grad():
        logits = model.module(test_x.to(device))
        acc = (logits.argmax(-1).cpu() == test_y).float().mean().item()
        test_loss = F.cross_entropy(logits, test_y.to(device)).item()
    print(f"test loss {test_loss:.4f} | test acc {acc:.3f}")

dist.barrier()
dist.destroy_process_group()
