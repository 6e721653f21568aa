"""
Intent classifier for support tickets: keyword ids -> embedding -> mean pool -> MLP -> intent.

The production batch (128 tickets) does not fit next to the full-size model on our cards, so the
loop accumulates gradients over micro-batches and steps once per full batch.
Run: python train.py
"""
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

# -----------------------------------------------------------------------------
# config
vocab_size = 64        # keyword ids after the ticket tagger
n_intents = 4          # target classes
seq_len = 16           # keywords per ticket
n_embd = 32            # embedding width
n_hidden = 64          # MLP width
n_train = 8192         # training tickets
n_val = 2048           # validation tickets
micro_batch = 32       # tickets per forward/backward
accum_steps = 4        # micro-batches per optimizer step (effective batch 128)
max_steps = 150        # optimizer steps
learning_rate = 0.5    # SGD peak learning rate
momentum = 0.9         # SGD momentum
log_interval = 25      # steps between progress lines
task_seed = 1234       # fixes which tokens signal which intent (the task itself)
seed = 0               # fixes the model init, the samples and the batching
# -----------------------------------------------------------------------------

torch.manual_seed(seed)
device = "cuda" if torch.cuda.is_available() else "mps" if torch.backends.mps.is_available() else "cpu"


# -----------------------------------------------------------------------------
# data: each keyword leans towards some intents; a ticket's intent is where its keywords lean most
def make_data(n, split_seed):
    affinity = torch.randn(vocab_size, n_intents, generator=torch.Generator().manual_seed(task_seed))  # (V, K)
    g = torch.Generator().manual_seed(split_seed)
    tokens = torch.randint(0, vocab_size, (n, seq_len), generator=g)  # (N, T)
    y = affinity[tokens].sum(dim=1).argmax(dim=-1)                    # (N,)
    return tokens, y


x_train, y_train = make_data(n_train, split_seed=1)
x_val, y_val = make_data(n_val, split_seed=2)
x_train, y_train, x_val, y_val = (t.to(device) for t in (x_train, y_train, x_val, y_val))


# -----------------------------------------------------------------------------
# model
class IntentClassifier(nn.Module):
    def __init__(self):
        super().__init__()
        self.embed = nn.Embedding(vocab_size, n_embd)
        self.head = nn.Sequential(nn.Linear(n_embd, n_hidden), nn.GELU(), nn.Linear(n_hidden, n_intents))

    def forward(self, tokens):  # tokens: (B, T)
        h = self.embed(tokens).mean(dim=1)  # (B, T, C) -> (B, C)
        return self.head(h)                 # (B, K)


model = IntentClassifier().to(device)
optimizer = torch.optim.SGD(model.parameters(), lr=learning_rate, momentum=momentum)
scheduler = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=learning_rate, total_steps=max_steps, pct_start=0.1)
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
optimizer.zero_grad(set_to_none=True)
for step in range(max_steps):
    step_loss = 0.0
    for micro_step in range(accum_steps):
        idx = torch.randint(0, n_train, (micro_batch,), device=device)  # (B,)
        logits = model(x_train[idx])                                     # (B, K)
        loss = F.cross_entropy(logits, y_train[idx]) / accum_steps
        loss.backward()
        step_loss += loss.detach()
    optimizer.step()
    scheduler.step()
    if step % log_interval == 0 or step == max_steps - 1:
        print(f"step {step:4d} | loss {step_loss.item():.4f} | lr {scheduler.get_last_lr()[0]:.2e}")

print(f"trained {max_steps} steps in {time.time() - t0:.1f}s")
print(f"train accuracy {accuracy(x_train, y_train):.3f} | val accuracy {accuracy(x_val, y_val):.3f}")
