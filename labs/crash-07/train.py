"""
Next-section prediction for a news app, trained data-parallel on two workers.

From 16 features of the current session (time of day, device, what was read so far...) and who
the reader is, the model predicts which of 8 sections the reader opens next. Readers differ a lot
in taste, so each reader id gets a learned embedding that is added to the session's features.
Shapes: N sessions, B batch per rank, D session features, H hidden units, U readers, K sections.
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
n_features = 16      # session features
n_readers = 64       # reader ids
n_sections = 8       # classes
n_hidden = 64        # MLP width
n_train = 4096       # training sessions
batch_size = 64      # sessions per rank per optimizer step
epochs = 4           # passes over the training set
learning_rate = 5e-3 # AdamW learning rate
weight_decay = 1e-4  # AdamW weight decay
log_interval = 32    # steps between progress lines
task_seed = 1234     # fixes the readers' tastes (the task itself)
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
# data: the next section depends on the session and, strongly, on the reader's taste
def make_data(n, split_seed):
    g_task = torch.Generator().manual_seed(task_seed)
    w = 0.5 * torch.randn(n_features, n_sections, generator=g_task)     # (D, K) what sessions suggest
    taste = 2.5 * torch.randn(n_readers, n_sections, generator=g_task)   # (U, K) each reader's preferences
    g = torch.Generator().manual_seed(split_seed)
    x = torch.randn(n, n_features, generator=g)                          # (N, D)
    reader = torch.randint(0, n_readers, (n,), generator=g)              # (N,)
    section = (x @ w + taste[reader]).argmax(dim=-1)                     # (N,)
    return x, reader, section


train_set = TensorDataset(*make_data(n_train, split_seed=1))
x_val, reader_val, section_val = make_data(2048, split_seed=2)
sampler = DistributedSampler(train_set, num_replicas=world_size, rank=rank, shuffle=True, seed=seed)
loader = DataLoader(train_set, batch_size=batch_size, sampler=sampler, drop_last=True)


# -----------------------------------------------------------------------------
# model
class NextSection(nn.Module):
    def __init__(self):
        super().__init__()
        self.session = nn.Sequential(nn.Linear(n_features, n_hidden), nn.GELU())
        self.reader_emb = nn.Embedding(n_readers, n_hidden)
        self.head = nn.Sequential(nn.Linear(n_hidden, n_hidden), nn.GELU(), nn.Linear(n_hidden, n_sections))

    def forward(self, x, reader):  # x: (B, D), reader: (B,)
        x = self.session(x)                      # (B, H)
        h = x + self.reader_emb(reader)          # (B, H)
        return self.head(x)                      # (B, K)


model = DDP(NextSection().to(device))
optimizer = torch.optim.AdamW(model.parameters(), lr=learning_rate, weight_decay=weight_decay)
if master:
    print(f"{sum(p.numel() for p in model.parameters())} parameters on {device}, {world_size} ranks, {len(loader)} steps per epoch")


@torch.no_grad()
def accuracy(x, reader, section):
    model.eval()
    acc = (model(x.to(device), reader.to(device)).argmax(dim=-1).cpu() == section).float().mean().item()
    model.train()
    return acc


# -----------------------------------------------------------------------------
# training loop
t0 = time.time()
step = 0
for epoch in range(epochs):
    sampler.set_epoch(epoch)
    for xb, rb, yb in loader:
        xb, rb, yb = xb.to(device), rb.to(device), yb.to(device)          # (B, D), (B,), (B,)
        loss = F.cross_entropy(model(xb, rb), yb)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        if master and step % log_interval == 0:
            print(f"epoch {epoch} | step {step:4d} | loss {loss.item():.4f}")
        step += 1
    if master:
        print(f"epoch {epoch} done | val accuracy {accuracy(x_val, reader_val, section_val):.3f}")

if master:
    print(f"trained {step} steps in {time.time() - t0:.1f}s")
dist.destroy_process_group()
