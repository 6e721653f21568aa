"""
Table question answering with a cross-attention reader.

Each sample is a table of (field, value) records and a few questions, each naming a field; the
model answers the value stored in that field. Questions -> cross-attention over the records -> MLP -> value.
Shapes: N tables, B batch, Tk records, Tq questions, C channels, nh heads of size hs.
Run: python train.py
"""
import math
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

# -----------------------------------------------------------------------------
# config
n_fields = 32        # distinct field ids
n_values = 16        # distinct values (the classes)
n_records = 16       # records per table
n_questions = 2      # questions per table
n_embd = 32          # model width
n_head = 2           # attention heads
batch_size = 64      # tables per optimizer step
max_steps = 150      # optimizer steps
learning_rate = 1e-2 # AdamW peak learning rate
weight_decay = 1e-4  # AdamW weight decay
log_interval = 25    # steps between progress lines
seed = 0             # torch seed for init and batching
# -----------------------------------------------------------------------------

torch.manual_seed(seed)
device = "cuda" if torch.cuda.is_available() else "mps" if torch.backends.mps.is_available() else "cpu"


# -----------------------------------------------------------------------------
# data: distinct fields per table, random values, questions about distinct records
def make_data(n, split_seed):
    g = torch.Generator().manual_seed(split_seed)
    fields = torch.rand(n, n_fields, generator=g).argsort(dim=1)[:, :n_records]   # (N, Tk) distinct per row
    values = torch.randint(0, n_values, (n, n_records), generator=g)              # (N, Tk)
    asked = torch.rand(n, n_records, generator=g).argsort(dim=1)[:, :n_questions]  # (N, Tq) record indices
    return fields, values, fields.gather(1, asked), values.gather(1, asked)


train_set = make_data(16384, split_seed=1)
val_set = make_data(2048, split_seed=2)
train_set, val_set = ([t.to(device) for t in s] for s in (train_set, val_set))


# -----------------------------------------------------------------------------
# model
class CrossAttention(nn.Module):
    """Multi-head attention from the questions (queries) to the records (keys and values)."""

    def __init__(self):
        super().__init__()
        assert n_embd % n_head == 0, "n_embd must be divisible by n_head"
        self.query = nn.Linear(n_embd, n_embd)
        self.key = nn.Linear(n_embd, n_embd)
        self.value = nn.Linear(n_embd, n_embd)
        self.proj = nn.Linear(n_embd, n_embd)

    def forward(self, x, memory):  # x: (B, Tq, C), memory: (B, Tk, C)
        B, Tq, C = x.size()
        Tk, hs = memory.size(1), C // n_head
        q = self.query(x).view(B, Tq, n_head, hs)                                # (B, Tq, nh, hs)
        k = self.key(memory).view(B, Tk, n_head, hs)                             # (B, Tk, nh, hs)
        v = self.value(memory).view(B, Tk, n_head, hs)                           # (B, Tk, nh, hs)
        att = torch.einsum("bqhd,bkhd->bhkq", q, k) / math.sqrt(hs)              # (B, nh, Tk, Tq)
        att = att.softmax(dim=-1)
        y = torch.einsum("bhkq,bkhd->bqhd", att, v)                              # (B, Tq, nh, hs)
        return self.proj(y.reshape(B, Tq, C))                                    # (B, Tq, C)


class TableReader(nn.Module):
    def __init__(self):
        super().__init__()
        self.field_emb = nn.Embedding(n_fields, n_embd)
        self.value_emb = nn.Embedding(n_values, n_embd)
        self.ln_mem = nn.LayerNorm(n_embd)
        self.ln_1 = nn.LayerNorm(n_embd)
        self.attn = CrossAttention()
        self.ln_2 = nn.LayerNorm(n_embd)
        self.mlp = nn.Sequential(nn.Linear(n_embd, 4 * n_embd), nn.GELU(), nn.Linear(4 * n_embd, n_embd))
        self.ln_f = nn.LayerNorm(n_embd)
        self.head = nn.Linear(n_embd, n_values)

    def forward(self, fields, values, questions):  # (B, Tk), (B, Tk), (B, Tq)
        memory = self.ln_mem(self.field_emb(fields) + self.value_emb(values))   # (B, Tk, C)
        x = self.field_emb(questions)                                            # (B, Tq, C)
        x = x + self.attn(self.ln_1(x), memory)
        x = x + self.mlp(self.ln_2(x))
        return self.head(self.ln_f(x))                                           # (B, Tq, n_values)


model = TableReader().to(device)
optimizer = torch.optim.AdamW(model.parameters(), lr=learning_rate, weight_decay=weight_decay)
scheduler = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=learning_rate, total_steps=max_steps, pct_start=0.1)
print(f"{sum(p.numel() for p in model.parameters())} parameters on {device}")


@torch.no_grad()
def accuracy(fields, values, questions, answers):
    model.eval()
    acc = (model(fields, values, questions).argmax(dim=-1) == answers).float().mean().item()
    model.train()
    return acc


# -----------------------------------------------------------------------------
# training loop
t0 = time.time()
for step in range(max_steps):
    idx = torch.randint(0, len(train_set[0]), (batch_size,), device=device)     # (B,)
    fields, values, questions, answers = (t[idx] for t in train_set)            # (B, Tk), (B, Tk), (B, Tq), (B, Tq)
    logits = model(fields, values, questions)                                    # (B, Tq, n_values)
    loss = F.cross_entropy(logits.view(-1, n_values), answers.view(-1))
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
    scheduler.step()
    if step % log_interval == 0 or step == max_steps - 1:
        print(f"step {step:4d} | loss {loss.item():.4f} | lr {scheduler.get_last_lr()[0]:.2e}")

print(f"trained {max_steps} steps in {time.time() - t0:.1f}s")
print(f"train accuracy {accuracy(*(t[:2048] for t in train_set)):.3f} | val accuracy {accuracy(*val_set):.3f}")
