"""
A hand-written Elman RNN, ported from our NumPy reference, on the delay-line test.

The cell is plain matmuls and tanh, h[t+1] = tanh(W_x x[t] + W_h h[t]), because the controller
runtime it ships to has no recurrent op. Before a cell ships it must pass the delay-line test: read
a stream of symbols and, at every step, output the symbol it read `delay` steps earlier.
Shapes: N sequences, B batch, T steps, E embedding, H hidden, V symbols.
Run: python train.py
"""
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

# -----------------------------------------------------------------------------
# config
n_symbols = 8        # symbols in the stream (the classes)
seq_len = 12         # steps per sequence
delay = 4            # the target at step t is the symbol read at step t - delay
n_embd = 16          # symbol embedding width
n_hidden = 48        # hidden state size
batch_size = 64      # sequences per optimizer step
max_steps = 150      # optimizer steps
learning_rate = 1e-2 # AdamW learning rate
log_interval = 25    # steps between progress lines
seed = 0             # torch seed for init and batching
# -----------------------------------------------------------------------------

torch.manual_seed(seed)
device = "cuda" if torch.cuda.is_available() else "mps" if torch.backends.mps.is_available() else "cpu"


# -----------------------------------------------------------------------------
# data: random symbol streams; the first `delay` steps have nothing to echo and are ignored
def make_data(n, split_seed):
    g = torch.Generator().manual_seed(split_seed)
    x = torch.randint(0, n_symbols, (n, seq_len), generator=g)  # (N, T)
    y = x.roll(delay, dims=1)                                   # (N, T) y[:, t] = x[:, t - delay]
    y[:, :delay] = -1                                           # no target yet
    return x, y


x_train, y_train = make_data(16384, split_seed=1)
x_val, y_val = make_data(2048, split_seed=2)
x_train, y_train, x_val, y_val = (t.to(device) for t in (x_train, y_train, x_val, y_val))


# -----------------------------------------------------------------------------
# model
class ElmanRNN(nn.Module):
    def __init__(self):
        super().__init__()
        self.embed = nn.Embedding(n_symbols, n_embd)
        self.w_x = nn.Linear(n_embd, n_hidden)
        self.w_h = nn.Linear(n_hidden, n_hidden, bias=False)
        self.head = nn.Linear(n_hidden, n_symbols)

    def forward(self, idx):  # (B, T)
        B, T = idx.size()
        x = self.embed(idx)                                             # (B, T, E)
        h = x.new_zeros(B, T + 1, n_hidden)                             # (B, T+1, H) h[:, 0] is the initial state
        for t in range(T):
            h[:, t + 1] = torch.tanh(self.w_x(x[:, t]) + self.w_h(h[:, t]))  # (B, H)
        return self.head(h[:, 1:])                                      # (B, T, V)


model = ElmanRNN().to(device)
optimizer = torch.optim.AdamW(model.parameters(), lr=learning_rate)
print(f"{sum(p.numel() for p in model.parameters())} parameters on {device}")


@torch.no_grad()
def accuracy(x, y):
    model.eval()
    pred = model(x).argmax(dim=-1)  # (N, T)
    model.train()
    scored = y >= 0
    return (pred[scored] == y[scored]).float().mean().item()


# -----------------------------------------------------------------------------
# training loop
t0 = time.time()
for step in range(max_steps):
    idx = torch.randint(0, len(x_train), (batch_size,), device=device)  # (B,)
    logits = model(x_train[idx])                                      # (B, T, V)
    loss = F.cross_entropy(logits.reshape(-1, n_symbols), y_train[idx].reshape(-1), ignore_index=-1)
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    optimizer.step()
    if step % log_interval == 0 or step == max_steps - 1:
        print(f"step {step:4d} | loss {loss.item():.4f}")

print(f"trained {max_steps} steps in {time.time() - t0:.1f}s")
print(f"val accuracy {accuracy(x_val, y_val):.3f}")
