"""Train a small causal transformer to forecast the next reading of an 8-channel sensor series."""
import math
import time

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.utils.data import DataLoader, Dataset, RandomSampler

# -----------------------------------------------------------------------------
# config
n_channels = 8          # sensor channels per reading
n_readings = 40_000     # length of the training series
block_size = 32         # readings of context per window
batch_size = 16         # windows per optimizer step
max_iters = 200         # optimizer steps
n_layer = 1             # transformer blocks
n_head = 4              # attention heads
n_embd = 32             # embedding width
learning_rate = 1e-2    # AdamW learning rate
weight_decay = 0.01     # AdamW weight decay
log_interval = 20       # steps between progress lines
task_seed = 1234        # fixes each channel's periods, baseline and units (the task itself)
seed = 0                # fixes the model init, the series and the shuffling
# -----------------------------------------------------------------------------

torch.manual_seed(seed)
device = "cuda" if torch.cuda.is_available() else "mps" if torch.backends.mps.is_available() else "cpu"
dtype = torch.float32


def make_series(n, sample_seed):
    """Each channel: three sine waves plus noise, in that sensor's own offset and units."""
    task = torch.Generator().manual_seed(task_seed)
    period = 8 + 56 * torch.rand(n_channels, 3, generator=task)  # (C, 3) in readings
    amplitude = torch.rand(n_channels, 3, generator=task)  # (C, 3)
    offset = 100 * torch.randn(n_channels, generator=task)  # (C,)
    scale = 10 ** (2 * torch.rand(n_channels, generator=task))  # (C,) from 1 to 100 units
    g = torch.Generator().manual_seed(sample_seed)
    phase = 2 * math.pi * torch.rand(n_channels, 3, generator=g)  # (C, 3)
    t = torch.arange(n, dtype=torch.float32).view(n, 1, 1)  # (N, 1, 1)
    waves = (amplitude * torch.sin(2 * math.pi * t / period + phase)).sum(dim=-1)  # (N, C)
    noise = 0.05 * torch.randn(n, n_channels, generator=g)  # (N, C)
    return (offset + scale * (waves + noise)).to(dtype)  # (N, C)


class SensorWindows(Dataset):
    """Sliding windows over a series, z-scored per channel: block_size readings in, the next ones out."""

    def __init__(self, series, block_size):
        self.series = series  # (N, C) raw readings
        self.block_size = block_size

    def __len__(self):
        return len(self.series) - self.block_size

    def __getitem__(self, i):
        window = self.series[i : i + self.block_size + 1]  # (T+1, C)
        window = (window - self.series.mean(dim=0)) / self.series.std(dim=0)  # (T+1, C)
        return window[:-1], window[1:]  # (T, C) inputs, (T, C) next-reading targets


class CausalSelfAttention(nn.Module):
    def __init__(self):
        super().__init__()
        self.c_attn = nn.Linear(n_embd, 3 * n_embd)
        self.c_proj = nn.Linear(n_embd, n_embd)

    def forward(self, x):
        B, T, C = x.size()  # batch, time, channels (n_embd)
        q, k, v = self.c_attn(x).split(n_embd, dim=2)  # 3 x (B, T, C)
        q, k, v = (z.view(B, T, n_head, C // n_head).transpose(1, 2) for z in (q, k, v))  # (B, nh, T, hs)
        y = F.scaled_dot_product_attention(q, k, v, is_causal=True)  # (B, nh, T, hs)
        y = y.transpose(1, 2).contiguous().view(B, T, C)  # (B, T, C)
        return self.c_proj(y)


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


class Forecaster(nn.Module):
    def __init__(self):
        super().__init__()
        self.wte = nn.Linear(n_channels, n_embd)  # a reading -> an embedding
        self.wpe = nn.Embedding(block_size, n_embd)
        self.blocks = nn.Sequential(*[Block() for _ in range(n_layer)])
        self.ln_f = nn.LayerNorm(n_embd)
        self.head = nn.Linear(n_embd, n_channels)

    def forward(self, x, targets=None):
        B, T, _ = x.size()  # batch, time, sensor channels
        assert T <= block_size, f"window of {T} readings is longer than block_size {block_size}"
        pos = torch.arange(T, device=x.device)  # (T,)
        h = self.wte(x) + self.wpe(pos)  # (B, T, n_embd)
        pred = self.head(self.ln_f(self.blocks(h)))  # (B, T, C)
        loss = F.mse_loss(pred, targets) if targets is not None else None
        return pred, loss


train_set = SensorWindows(make_series(n_readings, sample_seed=seed), block_size)
val_set = SensorWindows(make_series(n_readings // 10, sample_seed=seed + 1), block_size)
sampler = RandomSampler(train_set, num_samples=max_iters * batch_size)  # exactly max_iters batches
train_loader = DataLoader(train_set, batch_size=batch_size, sampler=sampler, drop_last=True)

model = Forecaster().to(device)
optimizer = torch.optim.AdamW(model.parameters(), lr=learning_rate, weight_decay=weight_decay)
print(f"{sum(p.numel() for p in model.parameters())} parameters | {len(train_set)} training windows")


@torch.no_grad()
def val_loss():
    model.eval()
    windows = [val_set[i] for i in range(0, len(val_set), 8)]  # every 8th window
    x = torch.stack([inputs for inputs, _ in windows]).to(device)  # (V, T, C)
    y = torch.stack([targets for _, targets in windows]).to(device)  # (V, T, C)
    _, loss = model(x, y)
    model.train()
    return loss.item()


model.train()
t0 = time.time()
for step, (x, y) in enumerate(train_loader):
    x, y = x.to(device), y.to(device)  # (B, T, C), (B, T, C)
    _, loss = model(x, y)
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    optimizer.step()
    if step % log_interval == 0 or step == max_iters - 1:
        dt = (time.time() - t0) / (step + 1)
        print(f"step {step:4d} | loss {loss.item():.4f} | {dt * 1000:.0f} ms/step")

print(f"val loss {val_loss():.4f} | {max_iters} steps in {time.time() - t0:.1f}s")
