"""
Session intent model: what did the user do with the item they searched for?

Each sample is a 32-event window of a device's event log, starting at a session's first event, a
search for an item. Only the first `length` events belong to the session; the rest of the window
is padding (the device's later events, kept as they are). The model reads the session with
self-attention and answers, at the search event, the action the user took on the searched item.
Shapes: N windows, B batch, T events per window, C channels, nh heads of size hs.
Run: python train.py
"""
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

# -----------------------------------------------------------------------------
# config
n_items = 64         # distinct items
n_actions = 8        # viewed, carted, bought, returned, ... (the classes)
search = n_actions   # action id of the search event that opens a session
window = 32          # events per window (T)
min_len, max_len = 6, 24  # session lengths in events
n_embd = 32          # model width
n_head = 2           # attention heads
n_layer = 1          # transformer blocks
batch_size = 64      # windows per optimizer step
max_steps = 120      # optimizer steps
learning_rate = 1e-2 # AdamW peak learning rate
log_interval = 25    # steps between progress lines
seed = 0             # torch seed for init and batching
# -----------------------------------------------------------------------------

torch.manual_seed(seed)
device = "cuda" if torch.cuda.is_available() else "mps" if torch.backends.mps.is_available() else "cpu"


# -----------------------------------------------------------------------------
# data: a search for an item, that item acted on once in the session, other items; then padding
def make_data(n, split_seed):
    g = torch.Generator().manual_seed(split_seed)
    items = torch.randint(1, n_items, (n, window), generator=g)                  # (N, T) item 0 is the searched one
    actions = torch.randint(0, n_actions, (n, window), generator=g)             # (N, T)
    lengths = torch.randint(min_len, max_len + 1, (n,), generator=g)            # (N,)
    label = torch.randint(0, n_actions, (n,), generator=g)                      # (N,)
    hit = 1 + (torch.rand(n, generator=g) * (lengths - 1)).long()               # (N,) inside the session
    revisit = lengths + (torch.rand(n, generator=g) * (window - lengths)).long() # (N,) the device's next events
    rows = torch.arange(n)
    items[rows, 0], actions[rows, 0] = 0, search
    items[rows, hit], actions[rows, hit] = 0, label
    items[rows, revisit] = 0
    actions[rows, revisit] = (label + torch.randint(1, n_actions, (n,), generator=g)) % n_actions
    item_ids = torch.rand(n, n_items, generator=g).argsort(dim=1)               # (N, n_items) random ids per window
    return item_ids.gather(1, items), actions, lengths, label


train_set = make_data(16384, split_seed=1)
val_set = make_data(2048, split_seed=2)
train_set, val_set = ([t.to(device) for t in s] for s in (train_set, val_set))


# -----------------------------------------------------------------------------
# model
class SelfAttention(nn.Module):
    def __init__(self):
        super().__init__()
        assert n_embd % n_head == 0, "n_embd must be divisible by n_head"
        self.qkv = nn.Linear(n_embd, 3 * n_embd)
        self.proj = nn.Linear(n_embd, n_embd)

    def forward(self, x, pad_mask):  # x: (B, T, C), pad_mask: (B, T), True at padding
        B, T, C = x.size()
        q, k, v = self.qkv(x).split(C, dim=2)                                    # 3 x (B, T, C)
        q, k, v = (t.view(B, T, n_head, C // n_head).transpose(1, 2) for t in (q, k, v))  # (B, nh, T, hs)
        y = F.scaled_dot_product_attention(q, k, v, attn_mask=pad_mask[:, None, None, :])  # (B, nh, T, hs)
        return self.proj(y.transpose(1, 2).reshape(B, T, C))                     # (B, T, C)


class Block(nn.Module):
    def __init__(self):
        super().__init__()
        self.ln_1 = nn.LayerNorm(n_embd)
        self.attn = SelfAttention()
        self.ln_2 = nn.LayerNorm(n_embd)
        self.mlp = nn.Sequential(nn.Linear(n_embd, 4 * n_embd), nn.GELU(), nn.Linear(4 * n_embd, n_embd))

    def forward(self, x, pad_mask):
        x = x + self.attn(self.ln_1(x), pad_mask)
        return x + self.mlp(self.ln_2(x))


class SessionModel(nn.Module):
    def __init__(self):
        super().__init__()
        self.item_emb = nn.Embedding(n_items, n_embd)
        self.action_emb = nn.Embedding(n_actions + 1, n_embd)
        self.blocks = nn.ModuleList([Block() for _ in range(n_layer)])
        self.ln_f = nn.LayerNorm(n_embd)
        self.head = nn.Linear(n_embd, n_actions)

    def forward(self, items, actions, lengths):  # (B, T), (B, T), (B,)
        pad_mask = torch.arange(items.size(1), device=items.device) >= lengths[:, None]  # (B, T)
        x = self.item_emb(items) + self.action_emb(actions)                     # (B, T, C)
        for block in self.blocks:
            x = block(x, pad_mask)
        return self.head(self.ln_f(x[:, 0]))                                     # (B, n_actions) at the search


model = SessionModel().to(device)
optimizer = torch.optim.AdamW(model.parameters(), lr=learning_rate)
scheduler = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=learning_rate, total_steps=max_steps, pct_start=0.1)
print(f"{sum(p.numel() for p in model.parameters())} parameters on {device}")


@torch.no_grad()
def accuracy(items, actions, lengths, label):
    model.eval()
    acc = (model(items, actions, lengths).argmax(dim=-1) == label).float().mean().item()
    model.train()
    return acc


# -----------------------------------------------------------------------------
# training loop
t0 = time.time()
for step in range(max_steps):
    idx = torch.randint(0, len(train_set[0]), (batch_size,), device=device)     # (B,)
    items, actions, lengths, label = (t[idx] for t in train_set)                # (B, T), (B, T), (B,), (B,)
    logits = model(items, actions, lengths)                                      # (B, n_actions)
    loss = F.cross_entropy(logits, label)
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    optimizer.step()
    scheduler.step()
    if step % log_interval == 0 or step == max_steps - 1:
        print(f"step {step:4d} | loss {loss.item():.4f} | lr {scheduler.get_last_lr()[0]:.2e}")

print(f"trained {max_steps} steps in {time.time() - t0:.1f}s")
print(f"train accuracy {accuracy(*(t[:2048] for t in train_set)):.3f} | val accuracy {accuracy(*val_set):.3f}")
