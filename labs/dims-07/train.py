"""
Next-step model for machine cycles: a tiny GPT that continues a controller's op-code trace.

Each trace is a machine's program, 8 op codes drawn at random, run cycle after cycle. The decoder
learns next-token prediction on traces; in service it is prompted with one observed cycle and
generates the steps that should follow (a step that differs is flagged as an anomaly).
Shapes: N traces, B batch, T positions, C channels, nh heads of size hs, V op codes.
Run: python train.py
"""
import math
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

# -----------------------------------------------------------------------------
# config
vocab_size = 16      # op codes (V)
cycle = 8            # op codes per program cycle
misread_rate = 0.1   # share of logged op codes the logger gets wrong
block_size = 32      # context length (T)
n_embd = 32          # model width
n_head = 2           # attention heads
n_layer = 1          # transformer blocks
batch_size = 64      # traces per optimizer step
max_steps = 100      # optimizer steps
learning_rate = 1e-2 # AdamW peak learning rate
log_interval = 25    # steps between progress lines
seed = 0             # torch seed for init and batching
# -----------------------------------------------------------------------------

torch.manual_seed(seed)
device = "cuda" if torch.cuda.is_available() else "mps" if torch.backends.mps.is_available() else "cpu"


# -----------------------------------------------------------------------------
# data: a random program per trace, run cycle after cycle; the logger misreads some op codes
def make_data(n, split_seed):
    g = torch.Generator().manual_seed(split_seed)
    program = torch.randint(0, vocab_size, (n, cycle), generator=g)             # (N, cycle)
    trace = program.repeat(1, (block_size + 1) // cycle + 1)[:, : block_size + 1]  # (N, T + 1)
    misread = torch.rand(trace.shape, generator=g) < misread_rate                # (N, T + 1)
    return torch.where(misread, torch.randint(0, vocab_size, trace.shape, generator=g), trace), program


train_set, _ = make_data(16384, split_seed=1)
val_set, val_programs = make_data(512, split_seed=2)
train_set, val_set, val_programs = train_set.to(device), val_set.to(device), val_programs.to(device)


# -----------------------------------------------------------------------------
# model
class CausalSelfAttention(nn.Module):
    def __init__(self):
        super().__init__()
        assert n_embd % n_head == 0, "n_embd must be divisible by n_head"
        self.c_attn = nn.Linear(n_embd, 3 * n_embd)
        self.c_proj = nn.Linear(n_embd, n_embd)
        mask = torch.tril(torch.ones(block_size, block_size), diagonal=1)      # (T, T) 1 where a query may look
        self.register_buffer("bias", mask.view(1, 1, block_size, block_size))

    def forward(self, x):  # x: (B, T, C)
        B, T, C = x.size()
        q, k, v = self.c_attn(x).split(n_embd, dim=2)                           # 3 x (B, T, C)
        q, k, v = (t.view(B, T, n_head, C // n_head).transpose(1, 2) for t in (q, k, v))  # (B, nh, T, hs)
        att = (q @ k.transpose(-2, -1)) * (1.0 / math.sqrt(k.size(-1)))          # (B, nh, T, T)
        att = att.masked_fill(self.bias[:, :, :T, :T] == 0, float("-inf"))
        att = F.softmax(att, dim=-1)
        y = att @ v                                                              # (B, nh, T, hs)
        return self.c_proj(y.transpose(1, 2).reshape(B, T, C))                   # (B, T, C)


class Block(nn.Module):
    def __init__(self):
        super().__init__()
        self.ln_1 = nn.LayerNorm(n_embd)
        self.attn = CausalSelfAttention()
        self.ln_2 = nn.LayerNorm(n_embd)
        self.mlp = nn.Sequential(nn.Linear(n_embd, 4 * n_embd), nn.GELU(), nn.Linear(4 * n_embd, n_embd))

    def forward(self, x):
        x = x + self.attn(self.ln_1(x))
        return x + self.mlp(self.ln_2(x))


class GPT(nn.Module):
    def __init__(self):
        super().__init__()
        self.wte = nn.Embedding(vocab_size, n_embd)
        self.wpe = nn.Embedding(block_size, n_embd)
        self.blocks = nn.Sequential(*[Block() for _ in range(n_layer)])
        self.ln_f = nn.LayerNorm(n_embd)
        self.lm_head = nn.Linear(n_embd, vocab_size)

    def forward(self, idx):  # idx: (B, T)
        T = idx.size(1)
        assert T <= block_size, f"cannot forward a sequence of length {T}, block size is {block_size}"
        pos = torch.arange(T, device=idx.device)                                # (T,)
        x = self.wte(idx) + self.wpe(pos)                                        # (B, T, C)
        return self.lm_head(self.ln_f(self.blocks(x)))                           # (B, T, V)


@torch.no_grad()
def generate(model, idx, new_tokens):  # idx: (B, t) prompt
    for _ in range(new_tokens):
        logits = model(idx[:, -block_size:])                                     # (B, t, V)
        idx = torch.cat([idx, logits[:, -1].argmax(dim=-1, keepdim=True)], dim=1)  # (B, t + 1)
    return idx


model = GPT().to(device)
optimizer = torch.optim.AdamW(model.parameters(), lr=learning_rate)
scheduler = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=learning_rate, total_steps=max_steps, pct_start=0.1)
print(f"{sum(p.numel() for p in model.parameters())} parameters on {device}")

# -----------------------------------------------------------------------------
# training loop
t0 = time.time()
for step in range(max_steps):
    idx = torch.randint(0, len(train_set), (batch_size,), device=device)        # (B,)
    x, y = train_set[idx, :-1], train_set[idx, 1:]                               # (B, T), (B, T)
    logits = model(x)                                                            # (B, T, V)
    loss = F.cross_entropy(logits.reshape(-1, vocab_size), y.reshape(-1))
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    optimizer.step()
    scheduler.step()
    if step % log_interval == 0 or step == max_steps - 1:
        print(f"step {step:4d} | loss {loss.item():.4f} | lr {scheduler.get_last_lr()[0]:.2e}")

print(f"trained {max_steps} steps in {time.time() - t0:.1f}s")
model.eval()
with torch.no_grad():
    val_loss = F.cross_entropy(model(val_set[:, :-1]).reshape(-1, vocab_size), val_set[:, 1:].reshape(-1)).item()
expected = val_programs.repeat(1, block_size // cycle)                          # (N, T) the programs, run on
out = generate(model, expected[:, :cycle], block_size - cycle)                  # (N, T) prompted with one cycle
gen_acc = (out[:, cycle:] == expected[:, cycle:]).float().mean().item()
print(f"val loss {val_loss:.4f} | generated steps matching the program {gen_acc:.3f}")
print("prompt", expected[0, :cycle].tolist(), "-> generated", out[0, cycle:].tolist())
