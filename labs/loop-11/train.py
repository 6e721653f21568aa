"""
Deterioration triage: 20 lab analytes per blood panel -> MLP with BatchNorm -> risk class.

The panels come from two hospitals whose analysers are calibrated differently. To keep both
hospitals equally represented, every step takes one batch from each hospital, runs each through
the model and averages the two losses.
Run: python train.py
"""
import time

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.utils.data import DataLoader, TensorDataset

# -----------------------------------------------------------------------------
# config
n_analytes = 20        # lab values per panel
n_classes = 3          # risk classes: stable, watch, deteriorating
n_per_site = 4096      # training panels per hospital
n_hidden = 64          # MLP width
site_batch = 32        # panels per hospital per step
n_epochs = 2           # passes over each hospital's panels
learning_rate = 3e-3   # AdamW learning rate
weight_decay = 1e-4    # AdamW weight decay
log_interval = 32      # steps between progress lines
task_seed = 1234       # fixes the risk signatures and the calibrations (the task itself)
seed = 0               # fixes the model init, the samples and the shuffling
# -----------------------------------------------------------------------------

torch.manual_seed(seed)
device = "cuda" if torch.cuda.is_available() else "mps" if torch.backends.mps.is_available() else "cpu"


# -----------------------------------------------------------------------------
# data: each risk class has its own analyte signature; each hospital's analyser adds its own
# calibration offset to every analyte
def make_panels(n, site, split_seed):
    g_task = torch.Generator().manual_seed(task_seed)
    signature = torch.randn(n_classes, n_analytes, generator=g_task)   # (K, D)
    calibration = 8.0 * torch.randn(2, n_analytes, generator=g_task)   # (S, D) one row per hospital
    g = torch.Generator().manual_seed(split_seed)
    y = torch.randint(0, n_classes, (n,), generator=g)                 # (N,)
    x = signature[y] + calibration[site] + torch.randn(n, n_analytes, generator=g)  # (N, D)
    return x, y


site_a = TensorDataset(*make_panels(n_per_site, site=0, split_seed=1))
site_b = TensorDataset(*make_panels(n_per_site, site=1, split_seed=2))
loader_a = DataLoader(site_a, batch_size=site_batch, shuffle=True, drop_last=True)
loader_b = DataLoader(site_b, batch_size=site_batch, shuffle=True, drop_last=True)
val_sets = [make_panels(1024, site=s, split_seed=3 + s) for s in (0, 1)]
x_val = torch.cat([x for x, _ in val_sets]).to(device)  # (2N, D) both hospitals
y_val = torch.cat([y for _, y in val_sets]).to(device)  # (2N,)


# -----------------------------------------------------------------------------
# model
class TriageNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.net = nn.Sequential(
            nn.Linear(n_analytes, n_hidden), nn.BatchNorm1d(n_hidden), nn.ReLU(),
            nn.Linear(n_hidden, n_hidden), nn.BatchNorm1d(n_hidden), nn.ReLU(),
            nn.Linear(n_hidden, n_classes),
        )

    def forward(self, x):  # x: (B, D)
        return self.net(x)  # (B, K)


model = TriageNet().to(device)
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
step = 0
model.train()
for epoch in range(n_epochs):
    for (x_a, y_a), (x_b, y_b) in zip(loader_a, loader_b):
        x_a, y_a, x_b, y_b = (t.to(device) for t in (x_a, y_a, x_b, y_b))  # (B, D), (B,) per hospital
        loss = (F.cross_entropy(model(x_a), y_a) + F.cross_entropy(model(x_b), y_b)) / 2
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        step += 1
        if step % log_interval == 0:
            print(f"epoch {epoch} step {step:4d} | loss {loss.item():.4f}")
    print(f"epoch {epoch} | val accuracy {accuracy(x_val, y_val):.3f}")

print(f"trained {step} steps in {time.time() - t0:.1f}s")
print(f"train accuracy (hospital A) {accuracy(*site_a[:1024]):.3f} | (hospital B) {accuracy(*site_b[:1024]):.3f}")
