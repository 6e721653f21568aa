"""
Reference resolution with a hand-written transformer encoder layer.

Each sample is a block of records; every record has its own id, a label, and the id of another
record in the block that it refers to. For every record the model answers the label of the record
it refers to. Records -> embeddings -> one encoder block -> a label per record.
Shapes: N samples, B batch, T records, C channels, nh heads of size hs, K labels.
Run: python train.py
"""
import math
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

# -----------------------------------------------------------------------------
# config
n_ids = 32           # distinct record ids
n_labels = 8         # distinct labels (the classes)
n_records = 16       # records per sample (T)
n_embd = 32          # model width
n_head = 4           # attention heads
batch_size = 64      # samples per optimizer step
max_steps = 150      # optimizer steps
learning_rate = 1e-2 # AdamW peak learning rate
weight_decay = 1e-4  # AdamW weight decay
log_interval = 25    # steps between progress lines
seed = 0             # torch seed for init and batching
# -----------------------------------------------------------------------------

torch.manual_seed(seed)
device = "cuda" if torch.cuda.is_available() else "mps" if torch.backends.mps.is_available() else "cpu"


# -----------------------------------------------------------------------------
# data: distinct ids per block, random labels, each record refers to a random record of its block
def make_data(n, split_seed):
    g = torch.Generator().manual_seed(split_seed)
    ids = torch.rand(n, n_ids, generator=g).argsort(dim=1)[:, :n_records]  # (N, T) distinct per row
    labels = torch.randint(0, n_labels, (n, n_records), generator=g)        # (N, T)
    target = torch.randint(0, n_records, (n, n_records), generator=g)       # (N, T) the record referred to
    refs = ids.gather(1, target)                                             # (N, T)
    return torch.stack([ids, labels, refs], dim=-1), labels.gather(1, target)  # (N, T, 3), (N, T)


x_train, y_train = make_data(16384, split_seed=1)
x_val, y_val = make_data(2048, split_seed=2)
x_train, y_train, x_val, y_val = (t.to(device) for t in (x_train, y_train, x_val, y_val))


# -----------------------------------------------------------------------------
# model
class SelfAttention(nn.Module):
    def __init__(self):
        super().__init__()
        assert n_embd % n_head == 0, "n_embd must be divisible by n_head"
        self.c_attn = nn.Linear(n_embd, 3 * n_embd)  # query, key, value projections for all heads
        self.c_proj = nn.Linear(n_embd, n_embd)

    def forward(self, x):
        B, T, C = x.size()  # batch, records, channels
        hs = C // n_head    # head size
        q, k, v = self.c_attn(x).split(n_embd, dim=2)                    # 3 x (B, T, C)
        q = q.view(B, T, n_head, hs).transpose(1, 2)                      # (B, nh, T, hs)
        k = k.view(B, T, n_head, hs).transpose(1, 2)                      # (B, nh, T, hs)
        v = v.view(B, T, n_head, hs).transpose(1, 2)                      # (B, nh, T, hs)
        att = (q @ k.transpose(-2, -1)) / math.sqrt(hs)                   # (B, nh, T, T)
        y = att.softmax(dim=-1) @ v                                        # (B, nh, T, hs)
        y = y.transpose(1, 2).view(B, T, C)                               # (B, T, C) heads side by side
        return self.c_proj(y)


class RecordResolver(nn.Module):
    def __init__(self):
        super().__init__()
        self.id_emb = nn.Embedding(n_ids, n_embd)
        self.label_emb = nn.Embedding(n_labels, n_embd)
        self.ref_emb = nn.Embedding(n_ids, n_embd)
        self.ln_1 = nn.LayerNorm(n_embd)
        self.attn = SelfAttention()
        self.ln_2 = nn.LayerNorm(n_embd)
        self.mlp = nn.Sequential(nn.Linear(n_embd, 4 * n_embd), nn.GELU(), nn.Linear(4 * n_embd, n_embd))
        self.ln_f = nn.LayerNorm(n_embd)
        self.head = nn.Linear(n_embd, n_labels)

    def forward(self, records):  # (B, T, 3): id, label, id referred to
        x = self.id_emb(records[..., 0]) + self.label_emb(records[..., 1]) + self.ref_emb(records[..., 2])  # (B, T, C)
        x = x + self.attn(self.ln_1(x))
        x = x + self.mlp(self.ln_2(x))
        return self.head(self.ln_f(x))                                     # (B, T, K)


model = RecordResolver().to(device)
optimizer = torch.optim.AdamW(model.parameters(), lr=learning_rate, weight_decay=weight_decay)
scheduler = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=learning_rate, total_steps=max_steps, pct_start=0.1)
print(f"{sum(p.numel() for p in model.parameters())} parameters on {device}")


@torch.no_grad()
def accuracy(x, y):
    model.eval()
    acc = (model(x).argmax(dim=-1) == y).float().mean().item()
    model.train()
    return acc


# -----------------------------------------------------------------------------
# training loop
t0 = time.time()
for step in range(max_steps):
    idx = torch.randint(0, len(y_train), (batch_size,), device=device)  # (B,)
    logits = model(x_train[idx])                                       # (B, T, K)
    loss = F.cross_entropy(logits.reshape(-1, n_labels), y_train[idx].reshape(-1))
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    optimizer.step()
    scheduler.step()
    if step % log_interval == 0 or step == max_steps - 1:
        print(f"step {step:4d} | loss {loss.item():.4f} | lr {scheduler.get_last_lr()[0]:.2e}")

print(f"trained {max_steps} steps in {time.time() - t0:.1f}s")
print(f"train accuracy {accuracy(x_train[:2048], y_train[:2048]):.3f} | val accuracy {accuracy(x_val, y_val):.3f}")
