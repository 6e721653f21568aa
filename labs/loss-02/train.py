"""
Search query tagger: each word of a query gets one of 15 slot tags (brand, size, colour, ...).

Queries are word ids padded to the tokenizer's fixed length, as the serving stack sends them.
Embedding -> convolution over neighbouring words -> MLP -> a tag per position.
Shapes: N queries, B batch, T positions (padded length), C channels, K tags.
Run: python train.py
"""
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

# -----------------------------------------------------------------------------
# config
n_words = 32          # vocabulary size, pad included
n_tags = 16           # slot tags, pad included
pad_id = 0            # id of the padding, in the word ids and in the tags
max_len = 32          # the tokenizer pads every query to this length
mean_len = 5          # average query length in words
n_embd = 48           # model width
n_train = 8192        # labelled training queries
n_val = 2048          # validation queries
batch_size = 32       # queries per optimizer step
max_steps = 300       # optimizer steps
learning_rate = 0.2   # SGD peak learning rate
momentum = 0.9        # SGD momentum
log_interval = 50     # steps between progress lines
task_seed = 1234      # fixes which tag each word gets in each context (the task itself)
seed = 0              # torch seed for init and batching
# -----------------------------------------------------------------------------

torch.manual_seed(seed)
device = "cuda" if torch.cuda.is_available() else "mps" if torch.backends.mps.is_available() else "cpu"


# -----------------------------------------------------------------------------
# data: a word's tag depends on the word and the word before it
def make_data(n, split_seed):
    table = torch.randint(1, n_tags, (n_words, n_words), generator=torch.Generator().manual_seed(task_seed))  # (V, V)
    g = torch.Generator().manual_seed(split_seed)
    lengths = torch.randint(2, 2 * mean_len - 1, (n,), generator=g)                  # (N,)
    words = torch.randint(1, n_words, (n, max_len), generator=g)                     # (N, T)
    words[torch.arange(max_len) >= lengths[:, None]] = pad_id                        # right padding
    prev = F.pad(words[:, :-1], (1, 0), value=pad_id)                                # (N, T)
    tags = table[prev, words]                                                        # (N, T)
    tags[words == pad_id] = pad_id
    return words, tags


x_train, y_train = make_data(n_train, split_seed=1)
x_val, y_val = make_data(n_val, split_seed=2)
x_train, y_train, x_val, y_val = (t.to(device) for t in (x_train, y_train, x_val, y_val))


# -----------------------------------------------------------------------------
# model
class QueryTagger(nn.Module):
    def __init__(self):
        super().__init__()
        self.emb = nn.Embedding(n_words, n_embd)
        self.conv = nn.Conv1d(n_embd, n_embd, kernel_size=3, padding=1)
        self.mlp = nn.Sequential(nn.GELU(), nn.Linear(n_embd, 2 * n_embd), nn.GELU(), nn.Linear(2 * n_embd, n_tags))

    def forward(self, words):  # words: (B, T)
        x = self.emb(words).transpose(1, 2)          # (B, C, T)
        x = self.conv(x).transpose(1, 2)             # (B, T, C)
        return self.mlp(x)                           # (B, T, K)


model = QueryTagger().to(device)
optimizer = torch.optim.SGD(model.parameters(), lr=learning_rate, momentum=momentum)
scheduler = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=learning_rate, total_steps=max_steps, pct_start=0.1)
print(f"{sum(p.numel() for p in model.parameters())} parameters on {device}")


@torch.no_grad()
def accuracy(words, tags):
    model.eval()
    real = tags != pad_id                                                             # (N, T) the words, not the padding
    acc = (model(words).argmax(dim=-1) == tags)[real].float().mean().item()
    model.train()
    return acc


# -----------------------------------------------------------------------------
# training loop
t0 = time.time()
for step in range(max_steps):
    idx = torch.randint(0, n_train, (batch_size,), device=device)   # (B,)
    words, tags = x_train[idx], y_train[idx]                        # (B, T), (B, T)
    logits = model(words)                                           # (B, T, K)
    loss = F.cross_entropy(logits.reshape(-1, n_tags), tags.reshape(-1))
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    optimizer.step()
    scheduler.step()
    if step % log_interval == 0 or step == max_steps - 1:
        print(f"step {step:4d} | loss {loss.item():.4f} | lr {scheduler.get_last_lr()[0]:.2e}")

print(f"trained {max_steps} steps in {time.time() - t0:.1f}s")
print(f"train accuracy {accuracy(x_train[:n_val], y_train[:n_val]):.3f} | val accuracy {accuracy(x_val, y_val):.3f}")
