"""
Semi-supervised activity recognition from one gait cycle of an ankle accelerometer.

16 labelled cycles and 4096 unlabelled ones. Labelled cycles train with cross-entropy; unlabelled
cycles train with a consistency loss (as in UDA / FixMatch): the prediction on a weakly augmented
view, sharpened, is the target for a strongly augmented view of the same cycle.
Shapes: N cycles of L samples, K classes; NL labelled and NU unlabelled cycles, U unlabelled per step.
Run: python train.py
"""
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

# -----------------------------------------------------------------------------
# config
cycle_len = 32       # samples per gait cycle
n_classes = 4        # walk, run, stairs up, stairs down
labels_per_class = 4 # labelled cycles per activity
n_unlabelled = 4096  # unlabelled cycles
n_hidden = 64        # MLP width
batch_size = 128     # unlabelled cycles per optimizer step (every step also sees all labelled ones)
weak_shift = 1       # weak view: circular shift by up to this many samples
strong_shift = 6     # strong view: circular shift by up to this many samples, plus noise
strong_noise = 0.3   # strong view: std of the added noise
temperature = 0.25   # sharpening of the weak view's prediction
lambda_u = 2.0       # weight of the consistency loss
max_steps = 300      # optimizer steps
learning_rate = 3e-3 # AdamW learning rate
weight_decay = 1e-4  # AdamW weight decay
log_interval = 50    # steps between progress lines
seed = 0             # torch seed for init, batching and augmentation
# -----------------------------------------------------------------------------

torch.manual_seed(seed)
device = "cuda" if torch.cuda.is_available() else "mps" if torch.backends.mps.is_available() else "cpu"


# -----------------------------------------------------------------------------
# data: one smooth waveform per activity; the segmenter starts each cycle at an arbitrary phase
def make_data(n, split_seed):
    g_task = torch.Generator().manual_seed(1234)
    shapes = torch.randn(n_classes, 1, cycle_len, generator=g_task)
    shapes = F.avg_pool1d(F.pad(shapes, (3, 3), mode="circular"), 7, stride=1).squeeze(1)  # (K, L) smooth, periodic
    shapes = shapes / shapes.std(dim=1, keepdim=True)
    g = torch.Generator().manual_seed(split_seed)
    y = torch.randint(0, n_classes, (n,), generator=g)                  # (N,)
    phase = torch.randint(0, cycle_len, (n, 1), generator=g)            # (N, 1)
    idx = (torch.arange(cycle_len) + phase) % cycle_len                 # (N, L)
    gain = 0.8 + 0.4 * torch.rand(n, 1, generator=g)                    # (N, 1) step intensity
    x = gain * shapes[y].gather(1, idx) + 0.3 * torch.randn(n, cycle_len, generator=g)  # (N, L)
    return x, y


x_pool, y_pool = make_data(n_unlabelled, split_seed=1)
labelled = torch.cat([torch.nonzero(y_pool == c)[:labels_per_class, 0] for c in range(n_classes)])
x_lab, y_lab = x_pool[labelled], y_pool[labelled]                       # (NL, L), (NL,) the only labels we use
x_unlab = x_pool                                                        # (NU, L)
x_val, y_val = make_data(2048, split_seed=2)
x_lab, y_lab, x_unlab, x_val, y_val = (t.to(device) for t in (x_lab, y_lab, x_unlab, x_val, y_val))


def shift(x, max_shift):
    """Circular shift of each cycle by a random offset in [-max_shift, max_shift]: the phase is arbitrary anyway."""
    offset = torch.randint(-max_shift, max_shift + 1, (x.size(0), 1), device=x.device)  # (B, 1)
    idx = (torch.arange(x.size(1), device=x.device) + offset) % x.size(1)  # (B, L)
    return x.gather(1, idx)


def weak_augment(x):
    return shift(x, weak_shift)


def strong_augment(x):
    return shift(x, strong_shift) + strong_noise * torch.randn_like(x)


# -----------------------------------------------------------------------------
# model
class GaitClassifier(nn.Module):
    def __init__(self):
        super().__init__()
        self.net = nn.Sequential(
            nn.Linear(cycle_len, n_hidden), nn.GELU(),
            nn.Linear(n_hidden, n_hidden), nn.GELU(),
            nn.Linear(n_hidden, n_classes),
        )

    def forward(self, x):  # x: (B, L)
        return self.net(x)  # (B, K)


model = GaitClassifier().to(device)
optimizer = torch.optim.AdamW(model.parameters(), lr=learning_rate, weight_decay=weight_decay)
print(f"{sum(p.numel() for p in model.parameters())} parameters on {device}, {len(y_lab)} labelled cycles")


@torch.no_grad()
def accuracy(x, y):
    model.eval()
    acc = (model(x).argmax(dim=-1) == y).float().mean().item()
    model.train()
    return acc


# -----------------------------------------------------------------------------
# training loop
n_lab = len(y_lab)
t0 = time.time()
for step in range(max_steps):
    xu = x_unlab[torch.randint(0, len(x_unlab), (batch_size,), device=device)]  # (U, L)
    x = torch.cat([weak_augment(x_lab), weak_augment(xu), strong_augment(xu)])      # (NL + 2U, L)
    logits_lab, logits_weak, logits_strong = model(x).split([n_lab, batch_size, batch_size])
    loss_sup = F.cross_entropy(logits_lab, y_lab)
    targets = F.softmax(logits_weak / temperature, dim=-1)                          # (U, K) sharpened
    loss_cons = F.cross_entropy(logits_strong, targets)
    loss = loss_sup + lambda_u * loss_cons
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
    if step % log_interval == 0 or step == max_steps - 1:
        print(f"step {step:4d} | loss {loss.item():.4f} | supervised {loss_sup.item():.4f} | consistency {loss_cons.item():.4f}")

print(f"trained {max_steps} steps in {time.time() - t0:.1f}s")
print(f"labelled accuracy {accuracy(x_lab, y_lab):.3f} | val accuracy {accuracy(x_val, y_val):.3f}")
