"""Train a multi-label defect tagger (an MLP, one sigmoid per tag) on synthetic sensor readings."""
import math
import time

import torch
import torch.nn as nn

# -----------------------------------------------------------------------------
# config
n_features = 32         # sensor readings per part
n_tags = 12             # independent defect tags per part (multi-label)
n_train = 4096          # training parts
n_val = 1024            # validation parts
n_embd = 256            # width of the hidden layers
n_layer = 2             # hidden layers
batch_size = 64         # parts per optimizer step
epochs = 5              # passes over the training parts (64 steps each)
learning_rate = 1e-3    # AdamW learning rate
weight_decay = 0.01     # AdamW weight decay
log_interval = 20       # steps between progress lines
task_seed = 1234        # fixes the labelling rule (the task itself)
seed = 0                # fixes the model init, the samples and the shuffling
# -----------------------------------------------------------------------------

torch.manual_seed(seed)
device = "cuda" if torch.cuda.is_available() else "mps" if torch.backends.mps.is_available() else "cpu"
dtype = torch.float32


def make_dataset(n, sample_seed):
    """A tag fires when a fixed weighted sum of the readings passes that tag's threshold."""
    task = torch.Generator().manual_seed(task_seed)
    W = torch.randn(n_features, n_tags, generator=task) / math.sqrt(n_features)  # (F, K)
    threshold = 0.5 - 0.5 * torch.randn(n_tags, generator=task)  # (K,) most tags are rare
    g = torch.Generator().manual_seed(sample_seed)
    x = torch.randn(n, n_features, generator=g)  # (N, F)
    y = (x @ W > threshold).to(dtype)  # (N, K)
    return x.to(dtype), y


class Tagger(nn.Module):
    def __init__(self):
        super().__init__()
        layers = [nn.Linear(n_features, n_embd), nn.GELU()]
        for _ in range(n_layer - 1):
            layers += [nn.Linear(n_embd, n_embd), nn.GELU()]
        self.body = nn.Sequential(*layers)
        self.head = nn.Linear(n_embd, n_tags)

    def forward(self, x, targets=None):  # x: (B, F), targets: (B, K) of 0/1
        logits = self.head(self.body(x))  # (B, K)
        loss = None
        if targets is not None:
            probs = torch.sigmoid(logits)  # (B, K)
            loss = -(targets * torch.log(probs) + (1 - targets) * torch.log(1 - probs)).mean()
        return logits, loss


x_train, y_train = make_dataset(n_train, sample_seed=seed)
x_val, y_val = make_dataset(n_val, sample_seed=seed + 1)
x_train, y_train, x_val, y_val = (t.to(device) for t in (x_train, y_train, x_val, y_val))
assert y_train.shape == (n_train, n_tags), f"labels should be (N, K), got {tuple(y_train.shape)}"

model = Tagger().to(device)
optimizer = torch.optim.AdamW(model.parameters(), lr=learning_rate, weight_decay=weight_decay)
print(f"{sum(p.numel() for p in model.parameters())} parameters | {y_train.mean().item():.2f} of tags positive")


@torch.no_grad()
def evaluate(x, y):
    model.eval()
    logits, loss = model(x, y)  # (N, K)
    tag_accuracy = ((logits > 0).to(dtype) == y).float().mean()
    model.train()
    return loss.item(), tag_accuracy.item()


step = 0
t0 = time.time()
model.train()
for epoch in range(epochs):
    perm = torch.randperm(n_train, device=device)  # (N,)
    for i in range(0, n_train, batch_size):
        idx = perm[i : i + batch_size]
        xb, yb = x_train[idx], y_train[idx]  # (B, F), (B, K)
        _, loss = model(xb, yb)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        step += 1
        if step % log_interval == 0:
            print(f"epoch {epoch} | step {step:4d} | loss {loss.item():.4f}")
    val_loss, val_accuracy = evaluate(x_val, y_val)
    print(f"epoch {epoch} | val loss {val_loss:.4f} | val tag accuracy {val_accuracy:.3f}")

print(f"trained {step} steps in {time.time() - t0:.1f}s")
