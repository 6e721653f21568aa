"""
Session outcome classifier: a GRU reads a session's UI events and predicts how the session ended.

Sessions have different lengths; each batch is right-padded to max_len with pad_id.
Run: python train.py
"""
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

# -----------------------------------------------------------------------------
# config
vocab_size = 16      # event types, id 0 is padding
pad_id = 0           # token id used to right-pad sessions to max_len
n_classes = 4        # session outcomes
max_len = 48         # events per padded session
min_len = 4          # shortest session
mean_extra_len = 8   # session length = min_len + exponential(mean_extra_len), capped at max_len
n_embd = 16          # event embedding width
n_hidden = 32        # GRU hidden size
n_train = 4096       # training sessions
n_val = 1024         # validation sessions
batch_size = 64      # sessions per optimizer step
max_steps = 100      # optimizer steps
learning_rate = 1e-2 # AdamW learning rate
weight_decay = 1e-4  # AdamW weight decay
log_interval = 20    # steps between progress lines
seed = 0             # torch seed for init and batching
# -----------------------------------------------------------------------------

torch.manual_seed(seed)
device = "cuda" if torch.cuda.is_available() else "mps" if torch.backends.mps.is_available() else "cpu"


# -----------------------------------------------------------------------------
# data: the outcome is decided by the last two events of the session
def make_data(n, split_seed):
    """Random event sessions of varying length, right-padded; label = (last + second-to-last event) mod n_classes."""
    g = torch.Generator().manual_seed(split_seed)
    lengths = (min_len + torch.empty(n).exponential_(1 / mean_extra_len, generator=g)).long().clamp(max=max_len)  # (N,)
    x = torch.randint(1, vocab_size, (n, max_len), generator=g)        # (N, T)
    x = x.masked_fill(torch.arange(max_len) >= lengths[:, None], pad_id)
    rows = torch.arange(n)
    y = (x[rows, lengths - 1] + x[rows, lengths - 2]) % n_classes      # (N,)
    return x, y


x_train, y_train = make_data(n_train, split_seed=1)
x_val, y_val = make_data(n_val, split_seed=2)
x_train, y_train, x_val, y_val = (t.to(device) for t in (x_train, y_train, x_val, y_val))
print(f"mean session length {(x_train != pad_id).sum(1).float().mean().item():.1f} of {max_len} events")


# -----------------------------------------------------------------------------
# model
class SessionClassifier(nn.Module):
    def __init__(self):
        super().__init__()
        self.embed = nn.Embedding(vocab_size, n_embd, padding_idx=pad_id)
        self.gru = nn.GRU(n_embd, n_hidden, batch_first=True)
        self.head = nn.Linear(n_hidden, n_classes)

    def forward(self, idx):  # idx: (B, T) event ids, right-padded with pad_id
        h, _ = self.gru(self.embed(idx))                                # (B, T, H)
        last = h[:, -1]                                                 # (B, H)
        return self.head(last)                                          # (B, K)


model = SessionClassifier().to(device)
optimizer = torch.optim.AdamW(model.parameters(), lr=learning_rate, weight_decay=weight_decay)
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
    idx = torch.randint(0, n_train, (batch_size,), device=device)     # (B,)
    xb, yb = x_train[idx], y_train[idx]                                # (B, T), (B,)
    logits = model(xb)                                                 # (B, K)
    loss = F.cross_entropy(logits, yb)
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    optimizer.step()
    if step % log_interval == 0 or step == max_steps - 1:
        print(f"step {step:4d} | loss {loss.item():.4f}")

print(f"trained {max_steps} steps in {time.time() - t0:.1f}s")
print(f"train accuracy {accuracy(x_train, y_train):.3f} | val accuracy {accuracy(x_val, y_val):.3f}")
