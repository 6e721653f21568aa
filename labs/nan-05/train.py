"""
Next-category model: which product category will a user buy from next?

A user is a profile (16 standardised features) and the items of their orders in the last 30 days
(0 to 20 items, padded with item id 0). Items are embedded, passed through a small MLP and averaged
over the user's items; the average and the encoded profile go to the head.
Shapes: N users, B batch, L item slots, C channels, K categories.
Run: python train.py
"""
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

# -----------------------------------------------------------------------------
# config
n_items = 200        # catalogue size (item ids 1..n_items, 0 is padding)
n_categories = 6     # product categories (the classes, K)
n_profile = 16       # profile features
max_items = 20       # item slots per user (L)
cold_share = 0.06    # share of users without orders yet
n_embd = 32          # model width
batch_size = 64      # users per optimizer step
max_steps = 200      # optimizer steps
learning_rate = 3e-3 # AdamW learning rate
log_interval = 25    # steps between progress lines
task_seed = 1234     # fixes the profile map (the task itself)
seed = 0             # torch seed for init and batching
# -----------------------------------------------------------------------------

torch.manual_seed(seed)
device = "cuda" if torch.cuda.is_available() else "mps" if torch.backends.mps.is_available() else "cpu"


# -----------------------------------------------------------------------------
# data: a favourite category per user shows in the profile (noisily) and in most of their items;
# item i belongs to category (i - 1) % K
def make_data(n, split_seed):
    task = torch.Generator().manual_seed(task_seed)
    profile_map = torch.randn(n_categories, n_profile, generator=task)             # (K, n_profile)
    g = torch.Generator().manual_seed(split_seed)
    favourite = torch.randint(0, n_categories, (n,), generator=g)                   # (N,)
    profile = profile_map[favourite] + 1.5 * torch.randn(n, n_profile, generator=g)  # (N, n_profile)
    slot = torch.randint(0, n_items // n_categories, (n, max_items), generator=g)   # (N, L)
    fav_items = 1 + favourite[:, None] + n_categories * slot                      # (N, L) in the favourite category
    any_items = torch.randint(1, n_items + 1, (n, max_items), generator=g)          # (N, L)
    items = torch.where(torch.rand(n, max_items, generator=g) < 0.6, fav_items, any_items)  # (N, L)
    count = torch.randint(1, max_items + 1, (n,), generator=g)                      # (N,) orders in 30 days
    count[torch.rand(n, generator=g) < cold_share] = 0                              # new users
    items[torch.arange(max_items)[None, :] >= count[:, None]] = 0                   # padding
    return profile, items, favourite


train_set = make_data(16384, split_seed=1)
val_set = make_data(4096, split_seed=2)
train_set, val_set = ([t.to(device) for t in s] for s in (train_set, val_set))


# -----------------------------------------------------------------------------
# model
class NextCategoryModel(nn.Module):
    def __init__(self):
        super().__init__()
        self.item_emb = nn.Embedding(n_items + 1, n_embd)
        self.item_mlp = nn.Sequential(nn.Linear(n_embd, n_embd), nn.GELU(), nn.Linear(n_embd, n_embd))
        self.profile_mlp = nn.Sequential(nn.Linear(n_profile, n_embd), nn.GELU())
        self.head = nn.Sequential(nn.Linear(2 * n_embd, n_embd), nn.GELU(), nn.Linear(n_embd, n_categories))

    def forward(self, profile, items):  # (B, n_profile), (B, L)
        h = self.item_mlp(self.item_emb(items))                                    # (B, L, C)
        mask = (items > 0).unsqueeze(-1).float()                                    # (B, L, 1)
        total, count = (h * mask).sum(dim=1), mask.sum(dim=1)                       # (B, C), (B, 1)
        pooled = torch.where(count > 0, total / count, 0.0)                        # (B, C) users without orders: 0
        return self.head(torch.cat([pooled, self.profile_mlp(profile)], dim=-1))    # (B, K)


model = NextCategoryModel().to(device)
optimizer = torch.optim.AdamW(model.parameters(), lr=learning_rate)
print(f"{sum(p.numel() for p in model.parameters())} parameters on {device}")


@torch.no_grad()
def accuracy(profile, items, favourite):
    model.eval()
    acc = (model(profile, items).argmax(dim=-1) == favourite).float().mean().item()
    model.train()
    return acc


# -----------------------------------------------------------------------------
# training loop
t0 = time.time()
for step in range(max_steps):
    idx = torch.randint(0, len(train_set[0]), (batch_size,), device=device)     # (B,)
    profile, items, favourite = (t[idx] for t in train_set)                     # (B, n_profile), (B, L), (B,)
    logits = model(profile, items)                                               # (B, K)
    loss = F.cross_entropy(logits, favourite)
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    optimizer.step()
    if step % log_interval == 0 or step == max_steps - 1:
        print(f"step {step:4d} | loss {loss.item():.4f}")

print(f"trained {max_steps} steps in {time.time() - t0:.1f}s")
cold = val_set[1].eq(0).all(dim=1)                                               # (N,) users without orders
print(f"val accuracy {accuracy(*val_set):.3f} | users without orders {accuracy(*(t[cold] for t in val_set)):.3f}")
