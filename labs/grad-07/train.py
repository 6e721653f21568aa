"""
Price lookup: a reader that answers questions about price lists.

Each list holds 32 (item, price) records and a few questions, each naming an item; the answer is
that item's price (standardised per category, in [-1, 1)). Questions -> cross-attention over
the records, with queries and keys RMS-normalised per head (QK-norm) -> MLP -> price.
Shapes: N lists, B batch, Tk records, Tq questions, C channels, nh heads of size hs.
Run: python train.py
"""
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

# -----------------------------------------------------------------------------
# config
n_items = 64         # distinct item ids
n_records = 32       # records per price list
n_questions = 4      # questions per list
n_embd = 32          # model width
n_head = 4           # attention heads
batch_size = 32      # lists per optimizer step
max_steps = 300      # optimizer steps
learning_rate = 1e-2 # AdamW peak learning rate
weight_decay = 1.0   # AdamW weight decay (the setting our sweep picked for the full-size reader)
log_interval = 50    # steps between progress lines
seed = 0             # torch seed for init and batching
# -----------------------------------------------------------------------------

torch.manual_seed(seed)
device = "cuda" if torch.cuda.is_available() else "mps" if torch.backends.mps.is_available() else "cpu"


# -----------------------------------------------------------------------------
# data: distinct items per list, random prices, questions about distinct records
def make_data(n, split_seed):
    g = torch.Generator().manual_seed(split_seed)
    items = torch.rand(n, n_items, generator=g).argsort(dim=1)[:, :n_records]     # (N, Tk) distinct per row
    prices = 2 * torch.rand(n, n_records, generator=g) - 1                         # (N, Tk) in [-1, 1)
    asked = torch.rand(n, n_records, generator=g).argsort(dim=1)[:, :n_questions]  # (N, Tq) record indices
    return items, prices, items.gather(1, asked), prices.gather(1, asked)


train_set = [t.to(device) for t in make_data(16384, split_seed=1)]
val_set = [t.to(device) for t in make_data(2048, split_seed=2)]


# -----------------------------------------------------------------------------
# model
class RMSNorm(nn.Module):
    def __init__(self, dim, eps=1e-6):
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(dim))

    def forward(self, x):  # x: (..., dim)
        return x * torch.rsqrt(x.pow(2).mean(dim=-1, keepdim=True) + self.eps) * self.weight


class CrossAttention(nn.Module):
    """Multi-head attention from the questions (queries) to the records, with QK-norm."""

    def __init__(self):
        super().__init__()
        assert n_embd % n_head == 0, "n_embd must be divisible by n_head"
        self.query = nn.Linear(n_embd, n_embd)
        self.key = nn.Linear(n_embd, n_embd)
        self.value = nn.Linear(n_embd, n_embd)
        self.proj = nn.Linear(n_embd, n_embd)
        self.q_norm = RMSNorm(n_embd // n_head)
        self.k_norm = RMSNorm(n_embd // n_head)

    def forward(self, x, memory):  # x: (B, Tq, C), memory: (B, Tk, C)
        B, Tq, C = x.size()
        Tk, hs = memory.size(1), C // n_head
        q = self.q_norm(self.query(x).view(B, Tq, n_head, hs)).transpose(1, 2)      # (B, nh, Tq, hs)
        k = self.k_norm(self.key(memory).view(B, Tk, n_head, hs)).transpose(1, 2)   # (B, nh, Tk, hs)
        v = self.value(memory).view(B, Tk, n_head, hs).transpose(1, 2)              # (B, nh, Tk, hs)
        y = F.scaled_dot_product_attention(q, k, v)                                 # (B, nh, Tq, hs)
        return self.proj(y.transpose(1, 2).reshape(B, Tq, C))                        # (B, Tq, C)


class PriceReader(nn.Module):
    def __init__(self):
        super().__init__()
        self.item_emb = nn.Embedding(n_items, n_embd)
        self.price_emb = nn.Linear(1, n_embd)
        self.ln_mem = nn.LayerNorm(n_embd)
        self.ln_1 = nn.LayerNorm(n_embd)
        self.attn = CrossAttention()
        self.ln_2 = nn.LayerNorm(n_embd)
        self.mlp = nn.Sequential(nn.Linear(n_embd, 4 * n_embd), nn.GELU(), nn.Linear(4 * n_embd, n_embd))
        self.ln_f = nn.LayerNorm(n_embd)
        self.head = nn.Linear(n_embd, 1)

    def forward(self, items, prices, questions):  # (B, Tk), (B, Tk), (B, Tq)
        memory = self.ln_mem(self.item_emb(items) + self.price_emb(prices.unsqueeze(-1)))  # (B, Tk, C)
        x = self.item_emb(questions)                                                     # (B, Tq, C)
        x = x + self.attn(self.ln_1(x), memory)
        x = x + self.mlp(self.ln_2(x))
        return self.head(self.ln_f(x)).squeeze(-1)                                       # (B, Tq)


model = PriceReader().to(device)
optimizer = torch.optim.AdamW(model.parameters(), lr=learning_rate, weight_decay=weight_decay)
scheduler = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=learning_rate, total_steps=max_steps, pct_start=0.1)
print(f"{sum(p.numel() for p in model.parameters())} parameters on {device}")


@torch.no_grad()
def within(items, prices, questions, answers, tolerance=0.1):
    """Share of answers within `tolerance` of the true price."""
    model.eval()
    hit = ((model(items, prices, questions) - answers).abs() < tolerance).float().mean().item()
    model.train()
    return hit


# -----------------------------------------------------------------------------
# training loop
t0 = time.time()
for step in range(max_steps):
    idx = torch.randint(0, len(train_set[0]), (batch_size,), device=device)        # (B,)
    items, prices, questions, answers = (t[idx] for t in train_set)                # (B, Tk), (B, Tk), (B, Tq), (B, Tq)
    pred = model(items, prices, questions)                                          # (B, Tq)
    loss = F.mse_loss(pred, answers)
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    optimizer.step()
    scheduler.step()
    if step % log_interval == 0 or step == max_steps - 1:
        print(f"step {step:4d} | loss {loss.item():.5f} | lr {scheduler.get_last_lr()[0]:.2e}")

print(f"trained {max_steps} steps in {time.time() - t0:.1f}s")
print(f"answers within 0.1: train {within(*(t[:2048] for t in train_set)):.3f} | val {within(*val_set):.3f}")
