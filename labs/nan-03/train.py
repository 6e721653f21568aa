"""
Support-ticket tagger: an MLP over sentence embeddings predicts which of 8 topic tags apply.

Multi-label (any number of tags per ticket), trained with a sigmoid focal loss.
Run: python train.py
"""
import math
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

# -----------------------------------------------------------------------------
# config
n_embd_in = 32        # sentence-embedding width of a ticket
n_tags = 8            # topic tags (billing, login, refund, ...), each one sigmoid
n_hidden = 128        # MLP width
n_train = 4096        # training tickets
n_val = 1024          # validation tickets
batch_size = 64       # tickets per optimizer step
epochs = 5            # passes over the training tickets (64 steps each)
learning_rate = 1e-3  # AdamW learning rate
weight_decay = 0.01   # AdamW weight decay
focal_gamma = 0.5     # focusing strength: a gentle down-weighting of easy tags
focal_alpha = 0.6     # weight of the positive term (every tag is positive on a minority of tickets)
log_interval = 40     # steps between progress lines
task_seed = 1234      # fixes the tagging rule (the task itself)
seed = 0              # fixes the model init, the samples and the shuffling
# -----------------------------------------------------------------------------

torch.manual_seed(seed)
device = "cuda" if torch.cuda.is_available() else "mps" if torch.backends.mps.is_available() else "cpu"


# -----------------------------------------------------------------------------
# data: a tag applies when a fixed direction of the embedding passes that tag's threshold
def make_data(n, sample_seed):
    task = torch.Generator().manual_seed(task_seed)
    w = torch.randn(n_embd_in, n_tags, generator=task) / math.sqrt(n_embd_in)  # (E, K)
    threshold = 0.3 + 0.5 * torch.rand(n_tags, generator=task)         # (K,) 20-37% positive
    g = torch.Generator().manual_seed(sample_seed)
    x = torch.randn(n, n_embd_in, generator=g)                         # (N, E)
    y = (x @ w > threshold).float()                                    # (N, K)
    return x, y


x_train, y_train = make_data(n_train, sample_seed=1)
x_val, y_val = make_data(n_val, sample_seed=2)
x_train, y_train, x_val, y_val = (t.to(device) for t in (x_train, y_train, x_val, y_val))
print(f"tag positive rates: {' '.join(f'{r:.2f}' for r in y_train.mean(dim=0).tolist())}")


# -----------------------------------------------------------------------------
# loss and model
def sigmoid_focal_loss(logits, targets, gamma=focal_gamma, alpha=focal_alpha):
    """Focal loss (Lin et al., 2017) on independent sigmoids, averaged over tickets and tags."""
    p = torch.sigmoid(logits)                                          # (B, K)
    ce = F.binary_cross_entropy_with_logits(logits, targets, reduction="none")  # (B, K)
    p_t = p * targets + (1 - p) * (1 - targets)                        # (B, K) probability of the true label
    alpha_t = alpha * targets + (1 - alpha) * (1 - targets)            # (B, K)
    return (alpha_t * (1 - p_t) ** gamma * ce).mean()


class TicketTagger(nn.Module):
    def __init__(self):
        super().__init__()
        self.net = nn.Sequential(
            nn.Linear(n_embd_in, n_hidden), nn.GELU(),
            nn.Linear(n_hidden, n_hidden), nn.GELU(),
            nn.Linear(n_hidden, n_tags),
        )

    def forward(self, x):  # x: (B, E)
        return self.net(x)                                             # (B, K) logits


model = TicketTagger().to(device)
optimizer = torch.optim.AdamW(model.parameters(), lr=learning_rate, weight_decay=weight_decay)
print(f"{sum(p.numel() for p in model.parameters())} parameters on {device}")


@torch.no_grad()
def macro_f1(x, y):
    model.eval()
    pred = (model(x) > 0).float()                                      # (N, K)
    model.train()
    tp = (pred * y).sum(dim=0)                                         # (K,)
    return (2 * tp / (pred.sum(dim=0) + y.sum(dim=0)).clamp(min=1)).mean().item()


# -----------------------------------------------------------------------------
# training loop
step = 0
t0 = time.time()
for epoch in range(epochs):
    perm = torch.randperm(n_train, device=device)                      # (N,)
    for i in range(0, n_train, batch_size):
        idx = perm[i : i + batch_size]                                 # (B,)
        logits = model(x_train[idx])                                   # (B, K)
        loss = sigmoid_focal_loss(logits, y_train[idx])
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        step += 1
        if step % log_interval == 0:
            print(f"epoch {epoch} | step {step:4d} | loss {loss.item():.4f}")
    print(f"epoch {epoch} | val macro F1 {macro_f1(x_val, y_val):.3f}")

print(f"trained {step} steps in {time.time() - t0:.1f}s")
