"""
Record lookup with a hand-written multi-head attention block.

Each sample is a list of (key, value) records followed by a query key; the model answers the value
stored under that key (associative recall). Records -> embeddings -> transformer block -> value.
Shapes: N samples, R records, T = R + 1 positions, B batch, C channels, nh heads of size hs.
Run: python train.py
"""
import math
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

# -----------------------------------------------------------------------------
# config
n_keys = 16          # distinct keys
n_values = 8         # distinct values (the classes)
n_records = 7        # (key, value) records per sample; the query is one more position
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
block_size = n_records + 1  # records, then the query


# -----------------------------------------------------------------------------
# data: distinct keys per sample, random values, the query asks for one of the records
def make_data(n, split_seed):
    g = torch.Generator().manual_seed(split_seed)
    keys = torch.rand(n, n_keys, generator=g).argsort(dim=1)[:, :n_records]  # (N, R) distinct per row
    values = torch.randint(0, n_values, (n, n_records), generator=g)     # (N, R)
    pick = torch.randint(0, n_records, (n, 1), generator=g)               # (N, 1)
    y = values.gather(1, pick).squeeze(1)                                  # (N,)
    k = torch.cat([keys, keys.gather(1, pick)], dim=1)                     # (N, T)
    v = torch.cat([values, torch.full((n, 1), n_values)], dim=1)          # (N, T) the query has no value
    return k, v, y


k_train, v_train, y_train = make_data(16384, split_seed=1)
k_val, v_val, y_val = make_data(2048, split_seed=2)
k_train, v_train, y_train, k_val, v_val, y_val = (t.to(device) for t in (k_train, v_train, y_train, k_val, v_val, y_val))


# -----------------------------------------------------------------------------
# model
class MultiHeadAttention(nn.Module):
    def __init__(self):
        super().__init__()
        assert n_embd % n_head == 0, "n_embd must be divisible by n_head"
        self.query = nn.Linear(n_embd, n_embd)
        self.key = nn.Linear(n_embd, n_embd)
        self.value = nn.Linear(n_embd, n_embd)
        self.proj = nn.Linear(n_embd, n_embd)

    def forward(self, x):
        B, T, C = x.size()  # batch, time, channels
        hs = C // n_head    # head size
        q = self.query(x).view(B, n_head, T, hs)                          # (B, nh, T, hs)
        k = self.key(x).view(B, n_head, T, hs)                            # (B, nh, T, hs)
        v = self.value(x).view(B, n_head, T, hs)                          # (B, nh, T, hs)
        att = (q @ k.transpose(-2, -1)) / math.sqrt(hs)                   # (B, nh, T, T)
        y = att.softmax(dim=-1) @ v                                        # (B, nh, T, hs)
        y = y.transpose(1, 2).contiguous().view(B, T, C)                  # (B, T, C)
        return self.proj(y)


class RecordLookup(nn.Module):
    def __init__(self):
        super().__init__()
        self.key_emb = nn.Embedding(n_keys, n_embd)
        self.value_emb = nn.Embedding(n_values + 1, n_embd)  # the last id marks the query
        self.pos_emb = nn.Parameter(torch.zeros(block_size, n_embd))
        self.ln_1 = nn.LayerNorm(n_embd)
        self.attn = MultiHeadAttention()
        self.ln_2 = nn.LayerNorm(n_embd)
        self.mlp = nn.Sequential(nn.Linear(n_embd, 4 * n_embd), nn.GELU(), nn.Linear(4 * n_embd, n_embd))
        self.ln_f = nn.LayerNorm(n_embd)
        self.head = nn.Linear(n_embd, n_values)

    def forward(self, k, v):  # k, v: (B, T)
        x = self.key_emb(k) + self.value_emb(v) + self.pos_emb            # (B, T, C)
        x = x + self.attn(self.ln_1(x))
        x = x + self.mlp(self.ln_2(x))
        return self.head(self.ln_f(x[:, -1]))                             # (B, n_values) read at the query


model = RecordLookup().to(device)
optimizer = torch.optim.AdamW(model.parameters(), lr=learning_rate, weight_decay=weight_decay)
scheduler = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=learning_rate, total_steps=max_steps, pct_start=0.1)
print(f"{sum(p.numel() for p in model.parameters())} parameters on {device}")


@torch.no_grad()
def accuracy(k, v, y):
    model.eval()
    acc = (model(k, v).argmax(dim=-1) == y).float().mean().item()
    model.train()
    return acc


# -----------------------------------------------------------------------------
# training loop
t0 = time.time()
for step in range(max_steps):
    idx = torch.randint(0, len(y_train), (batch_size,), device=device)  # (B,)
    logits = model(k_train[idx], v_train[idx])                         # (B, n_values)
    loss = F.cross_entropy(logits, y_train[idx])
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
    scheduler.step()
    if step % log_interval == 0 or step == max_steps - 1:
        print(f"step {step:4d} | loss {loss.item():.4f} | lr {scheduler.get_last_lr()[0]:.2e}")

print(f"trained {max_steps} steps in {time.time() - t0:.1f}s")
print(f"train accuracy {accuracy(k_train[:2048], v_train[:2048], y_train[:2048]):.3f} | val accuracy {accuracy(k_val, v_val, y_val):.3f}")
