"""
Token-level sequence transformer, checked on the synthetic reverse task before it sees real data.

Tokens -> embedding -> sinusoidal positional encoding -> transformer encoder -> one token per position.
Shapes: N sequences, B batch, T tokens, C channels, V vocabulary, L table length.
Run: python train.py
"""
import math
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

# -----------------------------------------------------------------------------
# config
task = "reverse"     # synthetic task: "copy" or "reverse"
vocab_size = 16      # distinct tokens
block_size = 12      # tokens per sequence
n_embd = 32          # model width
n_head = 4           # attention heads
n_layer = 1          # encoder layers
dropout = 0.0        # dropout in the encoder and after the positional encoding
batch_size = 64      # sequences per optimizer step
max_steps = 150      # optimizer steps
learning_rate = 1e-2 # AdamW peak learning rate
weight_decay = 1e-4  # AdamW weight decay
log_interval = 25    # steps between progress lines
seed = 0             # torch seed for init and batching
# -----------------------------------------------------------------------------

torch.manual_seed(seed)
device = "cuda" if torch.cuda.is_available() else "mps" if torch.backends.mps.is_available() else "cpu"


# -----------------------------------------------------------------------------
# data: random token sequences, the target is the sequence itself or its reverse
def make_data(n, split_seed):
    g = torch.Generator().manual_seed(split_seed)
    x = torch.randint(0, vocab_size, (n, block_size), generator=g)    # (N, T)
    y = x.flip(1) if task == "reverse" else x.clone()                  # (N, T)
    return x, y


x_train, y_train = make_data(16384, split_seed=1)
x_val, y_val = make_data(2048, split_seed=2)
x_train, y_train, x_val, y_val = (t.to(device) for t in (x_train, y_train, x_val, y_val))


# -----------------------------------------------------------------------------
# model
class PositionalEncoding(nn.Module):
    """Fixed sinusoidal encoding from "Attention Is All You Need", added to the token embeddings."""

    def __init__(self, d_model, dropout=0.1, max_len=5000):
        super().__init__()
        self.dropout = nn.Dropout(p=dropout)
        position = torch.arange(max_len).unsqueeze(1)                  # (L, 1)
        div_term = torch.exp(torch.arange(0, d_model, 2) * (-math.log(10000.0) / d_model))  # (C/2,)
        pe = torch.zeros(max_len, 1, d_model)                          # (L, 1, C)
        pe[:, 0, 0::2] = torch.sin(position * div_term)
        pe[:, 0, 1::2] = torch.cos(position * div_term)
        self.register_buffer("pe", pe)

    def forward(self, x):  # x: (B, T, C)
        x = x + self.pe[:x.size(0)]
        return self.dropout(x)


class SeqTransformer(nn.Module):
    def __init__(self):
        super().__init__()
        self.embed = nn.Embedding(vocab_size, n_embd)
        self.pos = PositionalEncoding(n_embd, dropout)
        layer = nn.TransformerEncoderLayer(n_embd, n_head, 2 * n_embd, dropout, batch_first=True, norm_first=True)
        self.encoder = nn.TransformerEncoder(layer, n_layer, enable_nested_tensor=False)
        self.ln_f = nn.LayerNorm(n_embd)
        self.head = nn.Linear(n_embd, vocab_size)

    def forward(self, idx):  # idx: (B, T)
        x = self.pos(self.embed(idx))                                  # (B, T, C)
        x = self.encoder(x)                                            # (B, T, C)
        return self.head(self.ln_f(x))                                 # (B, T, V)


model = SeqTransformer().to(device)
optimizer = torch.optim.AdamW(model.parameters(), lr=learning_rate, weight_decay=weight_decay)
scheduler = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=learning_rate, total_steps=max_steps, pct_start=0.1)
print(f"{sum(p.numel() for p in model.parameters())} parameters on {device}, task {task!r}")


@torch.no_grad()
def accuracy(x, y):
    """Token accuracy and whole-sequence accuracy."""
    model.eval()
    correct = model(x).argmax(dim=-1) == y                             # (N, T)
    model.train()
    return correct.float().mean().item(), correct.all(dim=1).float().mean().item()


# -----------------------------------------------------------------------------
# training loop
t0 = time.time()
for step in range(max_steps):
    idx = torch.randint(0, len(x_train), (batch_size,), device=device)  # (B,)
    xb, yb = x_train[idx], y_train[idx]                                # (B, T), (B, T)
    logits = model(xb)                                                 # (B, T, V)
    loss = F.cross_entropy(logits.view(-1, vocab_size), yb.view(-1))
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
    scheduler.step()
    if step % log_interval == 0 or step == max_steps - 1:
        print(f"step {step:4d} | loss {loss.item():.4f} | lr {scheduler.get_last_lr()[0]:.2e}")

print(f"trained {max_steps} steps in {time.time() - t0:.1f}s")
token_acc, seq_acc = accuracy(x_val, y_val)
print(f"val token accuracy {token_acc:.3f} | val sequence accuracy {seq_acc:.3f}")
