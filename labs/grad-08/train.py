"""
Grid event classifier: a small transformer encoder over windows of voltage readings.

Each window holds 16 readings, standardised per window; the event (ramp up, ramp down, swell,
sag) is told apart by the order of the readings, so the embedded readings get a learned position
table. Readings -> linear embedding + positions -> transformer block -> mean over time -> head.
Shapes: N windows, B batch, T readings, C channels, K events, nh heads of size hs.
Run: python train.py
"""
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

# -----------------------------------------------------------------------------
# config
window = 16          # readings per window
n_classes = 4        # ramp up, ramp down, swell, sag
n_embd = 32          # model width
n_head = 2           # attention heads
n_layer = 1          # transformer blocks
batch_size = 64      # windows per optimizer step
max_steps = 200      # optimizer steps
backbone_lr = 3e-3   # AdamW learning rate of the encoder (from our tuning sweep)
head_lr = 1e-2       # AdamW learning rate of the classification head
weight_decay = 1e-2  # AdamW weight decay
log_interval = 50    # steps between progress lines
seed = 0             # torch seed for init and batching
# -----------------------------------------------------------------------------

torch.manual_seed(seed)
device = "cuda" if torch.cuda.is_available() else "mps" if torch.backends.mps.is_available() else "cpu"


# -----------------------------------------------------------------------------
# data: one profile per event, random amplitude and offset, sensor noise, standardised per window
def make_data(n, split_seed):
    t = torch.linspace(0, 1, window)                                               # (T,)
    profiles = torch.stack([t, 1 - t, 1 - (2 * t - 1).abs(), (2 * t - 1).abs()])  # (K, T)
    g = torch.Generator().manual_seed(split_seed)
    y = torch.randint(0, n_classes, (n,), generator=g)                             # (N,)
    amplitude = 0.5 + torch.rand(n, 1, generator=g)                                # (N, 1)
    offset = torch.randn(n, 1, generator=g)                                        # (N, 1)
    x = offset + amplitude * profiles[y] + 0.15 * torch.randn(n, window, generator=g)  # (N, T)
    x = (x - x.mean(dim=1, keepdim=True)) / x.std(dim=1, keepdim=True)
    return x, y


x_train, y_train = (t.to(device) for t in make_data(8192, split_seed=1))
x_val, y_val = (t.to(device) for t in make_data(2048, split_seed=2))


# -----------------------------------------------------------------------------
# model
class SelfAttention(nn.Module):
    def __init__(self):
        super().__init__()
        assert n_embd % n_head == 0, "n_embd must be divisible by n_head"
        self.c_attn = nn.Linear(n_embd, 3 * n_embd)
        self.c_proj = nn.Linear(n_embd, n_embd)

    def forward(self, x):  # x: (B, T, C)
        B, T, C = x.size()
        q, k, v = self.c_attn(x).split(n_embd, dim=2)                                # 3 x (B, T, C)
        q, k, v = (t.view(B, T, n_head, C // n_head).transpose(1, 2) for t in (q, k, v))  # (B, nh, T, hs)
        y = F.scaled_dot_product_attention(q, k, v)                                 # (B, nh, T, hs)
        return self.c_proj(y.transpose(1, 2).reshape(B, T, C))                       # (B, T, C)


class Block(nn.Module):
    def __init__(self):
        super().__init__()
        self.ln_1 = nn.LayerNorm(n_embd)
        self.attn = SelfAttention()
        self.ln_2 = nn.LayerNorm(n_embd)
        self.mlp = nn.Sequential(nn.Linear(n_embd, 4 * n_embd), nn.GELU(), nn.Linear(4 * n_embd, n_embd))

    def forward(self, x):  # x: (B, T, C)
        x = x + self.attn(self.ln_1(x))
        return x + self.mlp(self.ln_2(x))


class EventClassifier(nn.Module):
    def __init__(self):
        super().__init__()
        self.embed = nn.Linear(1, n_embd)
        self.pos_emb = nn.Parameter(torch.zeros(1, window, n_embd))
        self.blocks = nn.Sequential(*[Block() for _ in range(n_layer)])
        self.head = nn.Sequential(nn.LayerNorm(n_embd), nn.Linear(n_embd, n_classes))

    def forward(self, x):  # x: (B, T) standardised readings
        h = self.embed(x.unsqueeze(-1)) + self.pos_emb                                # (B, T, C)
        h = self.blocks(h)                                                           # (B, T, C)
        return self.head(h.mean(dim=1))                                              # (B, K)


model = EventClassifier().to(device)
backbone_params = [p for n, p in model.named_parameters() if n.startswith(("embed.", "blocks."))]
head_params = [p for n, p in model.named_parameters() if n.startswith("head.")]
optimizer = torch.optim.AdamW(
    [{"params": backbone_params, "lr": backbone_lr}, {"params": head_params, "lr": head_lr}],
    weight_decay=weight_decay,
)
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
    idx = torch.randint(0, len(x_train), (batch_size,), device=device)             # (B,)
    xb, yb = x_train[idx], y_train[idx]                                             # (B, T), (B,)
    logits = model(xb)                                                              # (B, K)
    loss = F.cross_entropy(logits, yb)
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    optimizer.step()
    if step % log_interval == 0 or step == max_steps - 1:
        print(f"step {step:4d} | loss {loss.item():.4f}")

print(f"trained {max_steps} steps in {time.time() - t0:.1f}s")
print(f"train accuracy {accuracy(x_train[:2048], y_train[:2048]):.3f} | val accuracy {accuracy(x_val, y_val):.3f}")
