"""
Bearing-fault classifier: a small pre-norm residual MLP over a 32-bin vibration spectrum.

The spectrum's overall level depends on machine load, so every layer works on layer-normalised
features. LayerNorm is written out op by op for the edge runtime's exporter.
Run: python train.py
"""
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

# -----------------------------------------------------------------------------
# config
n_bins = 32           # spectrum bins per frame
n_classes = 4         # healthy, inner race, outer race, imbalance
n_embd = 64           # residual stream width
n_layer = 2           # residual MLP blocks
n_train = 8192        # training frames
n_val = 2048          # validation frames
dropout_rate = 0.002  # share of frames the gateway forwards as all zeros (sensor link down)
batch_size = 64       # frames per optimizer step
max_steps = 200       # optimizer steps
learning_rate = 3e-3  # AdamW learning rate
weight_decay = 0.01   # AdamW weight decay
log_interval = 40     # steps between progress lines
task_seed = 1234      # fixes the fault signatures (the task itself)
seed = 0              # fixes the model init, the samples and the batches
# -----------------------------------------------------------------------------

torch.manual_seed(seed)
device = "cuda" if torch.cuda.is_available() else "mps" if torch.backends.mps.is_available() else "cpu"


# -----------------------------------------------------------------------------
# data: a fault signature per class, scaled by the machine's load, plus sensor noise
def make_data(n, sample_seed):
    task = torch.Generator().manual_seed(task_seed)
    signature = 1 + 0.3 * torch.randn(n_classes, n_bins, generator=task)  # (K, F)
    g = torch.Generator().manual_seed(sample_seed)
    y = torch.randint(0, n_classes, (n,), generator=g)                 # (N,)
    level = torch.exp(2 * torch.rand(n, 1, generator=g) - 1) * 10      # (N, 1) load: 3.7 to 27
    x = level * (signature[y] + 0.3 * torch.randn(n, n_bins, generator=g))  # (N, F)
    link_down = torch.rand(n, generator=g) < dropout_rate              # (N,)
    x[link_down] = 0.0
    return x, y


x_train, y_train = make_data(n_train, sample_seed=1)
x_val, y_val = make_data(n_val, sample_seed=2)
x_train, y_train, x_val, y_val = (t.to(device) for t in (x_train, y_train, x_val, y_val))


# -----------------------------------------------------------------------------
# model
class LayerNorm(nn.Module):
    """Normalise each row over its features to zero mean and unit variance, then scale and shift."""

    def __init__(self, n_features):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(n_features))
        self.bias = nn.Parameter(torch.zeros(n_features))

    def forward(self, x):  # x: (B, C)
        mean = x.mean(dim=-1, keepdim=True)                            # (B, 1)
        var = x.var(dim=-1, keepdim=True, unbiased=False)              # (B, 1)
        return (x - mean) / torch.sqrt(var) * self.weight + self.bias


class Block(nn.Module):
    def __init__(self):
        super().__init__()
        self.ln = LayerNorm(n_embd)
        self.mlp = nn.Sequential(nn.Linear(n_embd, 4 * n_embd), nn.GELU(), nn.Linear(4 * n_embd, n_embd))

    def forward(self, x):  # x: (B, C)
        return x + self.mlp(self.ln(x))


class FaultClassifier(nn.Module):
    def __init__(self):
        super().__init__()
        self.embed = nn.Linear(n_bins, n_embd, bias=False)  # the norms remove any bias
        self.blocks = nn.Sequential(*[Block() for _ in range(n_layer)])
        self.ln_f = LayerNorm(n_embd)
        self.head = nn.Linear(n_embd, n_classes)

    def forward(self, x):  # x: (B, F)
        h = self.blocks(self.embed(x))                                 # (B, C)
        return self.head(self.ln_f(h))                                 # (B, K)


model = FaultClassifier().to(device)
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
    xb, yb = x_train[idx], y_train[idx]                                # (B, F), (B,)
    logits = model(xb)                                                 # (B, K)
    loss = F.cross_entropy(logits, yb)
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    optimizer.step()
    if step % log_interval == 0 or step == max_steps - 1:
        print(f"step {step:4d} | loss {loss.item():.4f}")

print(f"trained {max_steps} steps in {time.time() - t0:.1f}s")
print(f"val accuracy {accuracy(x_val, y_val):.3f}")
