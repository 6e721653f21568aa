"""
Next-event prediction for a controller's event log with a small GPT.

The controller emits one of 16 event codes at a time; its state machine makes each event depend on
the two before it (a few events are noise). A causal transformer predicts the next code at every
position; the weights are exported for the on-device monitor, which rebuilds the model and loads them.
Shapes: N logs, B batch, T positions, C channels, V event codes, nh heads of size hs.
Run: python train.py
"""
import io
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

# -----------------------------------------------------------------------------
# config
vocab_size = 16      # event codes
block_size = 16      # events per training window
n_layer = 2          # transformer blocks
n_head = 2           # attention heads
n_embd = 32          # model width
rule_prob = 0.9      # share of events the state machine determines (the rest are noise)
batch_size = 32      # windows per optimizer step
max_steps = 200      # optimizer steps
learning_rate = 6e-3 # AdamW learning rate
weight_decay = 1e-2  # AdamW weight decay
log_interval = 50    # steps between progress lines
seed = 0             # torch seed for init and batching
# -----------------------------------------------------------------------------

torch.manual_seed(seed)
device = "cuda" if torch.cuda.is_available() else "mps" if torch.backends.mps.is_available() else "cpu"


# -----------------------------------------------------------------------------
# data: the next event is a fixed function of the two before it, except for noise events
def make_data(n, split_seed):
    rule = torch.randint(0, vocab_size, (vocab_size, vocab_size), generator=torch.Generator().manual_seed(1234))  # (V, V)
    g = torch.Generator().manual_seed(split_seed)
    x = torch.randint(0, vocab_size, (n, block_size + 1), generator=g)           # (N, T+1) noise events
    ruled = torch.rand(n, block_size + 1, generator=g) < rule_prob               # (N, T+1)
    for t in range(2, block_size + 1):
        x[:, t] = torch.where(ruled[:, t], rule[x[:, t - 2], x[:, t - 1]], x[:, t])
    return x[:, :-1].contiguous(), x[:, 1:].contiguous()                        # inputs, targets: (N, T)


x_train, y_train = (t.to(device) for t in make_data(4096, split_seed=1))
x_val, y_val = (t.to(device) for t in make_data(1024, split_seed=2))


# -----------------------------------------------------------------------------
# model
class CausalSelfAttention(nn.Module):
    def __init__(self):
        super().__init__()
        assert n_embd % n_head == 0, "n_embd must be divisible by n_head"
        self.c_attn = nn.Linear(n_embd, 3 * n_embd)
        self.c_proj = nn.Linear(n_embd, n_embd)

    def forward(self, x):  # x: (B, T, C)
        B, T, C = x.size()
        q, k, v = self.c_attn(x).split(n_embd, dim=2)                              # 3 x (B, T, C)
        q, k, v = (t.view(B, T, n_head, C // n_head).transpose(1, 2) for t in (q, k, v))  # (B, nh, T, hs)
        y = F.scaled_dot_product_attention(q, k, v, is_causal=True)               # (B, nh, T, hs)
        return self.c_proj(y.transpose(1, 2).reshape(B, T, C))                     # (B, T, C)


class Block(nn.Module):
    def __init__(self):
        super().__init__()
        self.ln_1 = nn.LayerNorm(n_embd)
        self.attn = CausalSelfAttention()
        self.ln_2 = nn.LayerNorm(n_embd)
        self.mlp = nn.Sequential(nn.Linear(n_embd, 4 * n_embd), nn.GELU(), nn.Linear(4 * n_embd, n_embd))

    def forward(self, x):  # x: (B, T, C)
        x = x + self.attn(self.ln_1(x))
        return x + self.mlp(self.ln_2(x))


class EventGPT(nn.Module):
    def __init__(self):
        super().__init__()
        self.wte = nn.Embedding(vocab_size, n_embd)
        self.wpe = nn.Embedding(block_size, n_embd)
        self.blocks = [Block() for _ in range(n_layer)]
        self.ln_f = nn.LayerNorm(n_embd)
        self.lm_head = nn.Linear(n_embd, vocab_size, bias=False)

    def forward(self, idx):  # idx: (B, T)
        T = idx.size(1)
        assert T <= block_size, f"sequence of length {T} is longer than block_size {block_size}"
        pos = torch.arange(T, device=idx.device)                                   # (T,)
        x = self.wte(idx) + self.wpe(pos)                                          # (B, T, C)
        for block in self.blocks:
            x = block(x)
        return self.lm_head(self.ln_f(x))                                          # (B, T, V)


with torch.device(device):  # build the weights where they will train
    model = EventGPT()
optimizer = torch.optim.AdamW(model.parameters(), lr=learning_rate, weight_decay=weight_decay)
print(f"{sum(p.numel() for p in model.parameters())} parameters on {device}")


@torch.no_grad()
def accuracy(m, x, y):
    """Share of next events predicted right, from the third position on (the first two have no rule)."""
    m.eval()
    acc = (m(x).argmax(dim=-1)[:, 2:] == y[:, 2:]).float().mean().item()
    m.train()
    return acc


# -----------------------------------------------------------------------------
# training loop
t0 = time.time()
for step in range(max_steps):
    idx = torch.randint(0, len(x_train), (batch_size,), device=device)          # (B,)
    xb, yb = x_train[idx], y_train[idx]                                          # (B, T), (B, T)
    logits = model(xb)                                                           # (B, T, V)
    loss = F.cross_entropy(logits.view(-1, vocab_size), yb.view(-1))
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    optimizer.step()
    if step % log_interval == 0 or step == max_steps - 1:
        print(f"step {step:4d} | loss {loss.item():.4f}")

print(f"trained {max_steps} steps in {time.time() - t0:.1f}s")
print(f"val accuracy (trained model) {accuracy(model, x_val, y_val):.3f}")

# export the weights, then score the validation set the way the on-device monitor does: on the CPU,
# with a model rebuilt from the code and the exported state_dict
checkpoint = io.BytesIO()
torch.save(model.state_dict(), checkpoint)
checkpoint.seek(0)
monitor = EventGPT()
monitor.load_state_dict(torch.load(checkpoint, map_location="cpu"))
print(f"val accuracy (monitor)       {accuracy(monitor, x_val.cpu(), y_val.cpu()):.3f}")
