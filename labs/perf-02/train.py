"""Train a small causal transformer on machine event logs: predict the next event code of a session.

Shapes: N sessions, B batch, T events of context, C embedding width, V event codes.
"""
import math
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

# -----------------------------------------------------------------------------
# config
vocab_size = 16        # distinct event codes
block_size = 128       # events of context per session
n_train = 4096         # training sessions
n_layer = 1            # transformer blocks
n_head = 4             # attention heads
n_embd = 32            # embedding width
batch_size = 4         # sessions per optimizer step
max_steps = 150        # optimizer steps
learning_rate = 3e-3   # AdamW peak learning rate
weight_decay = 0.01    # AdamW weight decay
log_interval = 30      # steps between progress lines
task_seed = 1234       # fixes the machine's event rules (the task itself)
seed = 0               # fixes the model init, the sessions and the batches
# -----------------------------------------------------------------------------

torch.manual_seed(seed)
device = "cuda" if torch.cuda.is_available() else "mps" if torch.backends.mps.is_available() else "cpu"


def make_sessions(n, sample_seed):
    """Start-up and steady state follow different rules: the next event depends on the last one and on the phase."""
    task = torch.Generator().manual_seed(task_seed)
    rules = torch.stack([torch.randperm(vocab_size, generator=task) for _ in range(2)])  # (2, V)
    g = torch.Generator().manual_seed(sample_seed)
    events = torch.empty(n, block_size + 1, dtype=torch.long)  # (N, T+1)
    events[:, 0] = torch.randint(0, vocab_size, (n,), generator=g)
    for t in range(block_size):
        phase = int(t >= block_size // 2)
        follow = rules[phase][events[:, t]]  # (N,)
        noise = torch.randint(0, vocab_size, (n,), generator=g)  # (N,)
        events[:, t + 1] = torch.where(torch.rand(n, generator=g) < 0.9, follow, noise)
    return events


def sinusoidal_table(n_positions, n_embd):
    """Fixed sin/cos position codes (Vaswani et al., 2017): even channels sin, odd channels cos."""
    table = torch.zeros(n_positions, n_embd)  # (T, C)
    for pos in range(n_positions):
        for i in range(0, n_embd, 2):
            angle = pos / 10000 ** (i / n_embd)
            table[pos, i] = math.sin(angle)
            table[pos, i + 1] = math.cos(angle)
    return table


class Block(nn.Module):
    def __init__(self):
        super().__init__()
        self.ln_1 = nn.LayerNorm(n_embd)
        self.qkv = nn.Linear(n_embd, 3 * n_embd)
        self.proj = nn.Linear(n_embd, n_embd)
        self.ln_2 = nn.LayerNorm(n_embd)
        self.mlp = nn.Sequential(nn.Linear(n_embd, 4 * n_embd), nn.GELU(), nn.Linear(4 * n_embd, n_embd))

    def forward(self, x):  # x: (B, T, C)
        B, T, C = x.size()
        q, k, v = self.qkv(self.ln_1(x)).split(n_embd, dim=2)  # 3 x (B, T, C)
        q, k, v = (z.view(B, T, n_head, C // n_head).transpose(1, 2) for z in (q, k, v))  # 3 x (B, nh, T, hs)
        y = F.scaled_dot_product_attention(q, k, v, is_causal=True)  # (B, nh, T, hs)
        x = x + self.proj(y.transpose(1, 2).reshape(B, T, C))  # (B, T, C)
        return x + self.mlp(self.ln_2(x))


class EventGPT(nn.Module):
    def __init__(self):
        super().__init__()
        self.tok_emb = nn.Embedding(vocab_size, n_embd)
        self.blocks = nn.ModuleList(Block() for _ in range(n_layer))
        self.ln_f = nn.LayerNorm(n_embd)
        self.head = nn.Linear(n_embd, vocab_size)

    def forward(self, idx):  # idx: (B, T)
        T = idx.size(1)
        assert T <= block_size, f"sequence of {T} events, the model was built for {block_size}"
        pos = sinusoidal_table(T, n_embd).to(idx.device)  # (T, C)
        x = self.tok_emb(idx) + pos  # (B, T, C)
        for block in self.blocks:
            x = block(x)
        return self.head(self.ln_f(x))  # (B, T, V)


sessions = make_sessions(n_train, sample_seed=seed).to(device)  # (N, T+1)
model = EventGPT().to(device)
optimizer = torch.optim.AdamW(model.parameters(), lr=learning_rate, weight_decay=weight_decay)
scheduler = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=learning_rate, total_steps=max_steps, pct_start=0.1)
print(f"{sum(p.numel() for p in model.parameters())} parameters on {device}")

# -----------------------------------------------------------------------------
# training loop
t0 = time.time()
for step in range(max_steps):
    batch = sessions[torch.randint(0, n_train, (batch_size,), device=device)]  # (B, T+1)
    x, y = batch[:, :-1], batch[:, 1:]  # (B, T), (B, T)
    logits = model(x)  # (B, T, V)
    loss = F.cross_entropy(logits.reshape(-1, vocab_size), y.reshape(-1))
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    optimizer.step()
    scheduler.step()
    if step % log_interval == 0 or step == max_steps - 1:
        dt = (time.time() - t0) / (step + 1)
        print(f"step {step:4d} | loss {loss.item():.4f} | {1000 * dt:.1f} ms/step")

# -----------------------------------------------------------------------------
# evaluation: next-event accuracy on fresh sessions
model.eval()
with torch.no_grad():
    val = make_sessions(512, sample_seed=seed + 1).to(device)  # (N, T+1)
    pred = model(val[:, :-1]).argmax(dim=-1)  # (N, T)
    print(f"val next-event accuracy {(pred == val[:, 1:]).float().mean().item():.3f} (at most ~0.91: 10% of events are noise)")
