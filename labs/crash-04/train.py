"""
Material identification from reflectance spectra.

Each sample is a 1024-bin spectrum exported by the lab's spectrometer; the model names the
material (one of 8). Spectra are preprocessed with numpy as the instrument's vendor recommends
(standard normal variate: each spectrum centred and scaled by its own mean and spread), then an MLP.
Shapes: N spectra, B batch, L bins, K materials, P peaks per material.
Run: python train.py
"""
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

# -----------------------------------------------------------------------------
# config
n_bins = 1024        # spectrum length
n_materials = 8      # classes
n_peaks = 3          # absorption peaks per material
peak_depth = 0.15    # fraction of the light a peak absorbs at its centre
drift = 0.01         # std of the wavelength calibration drift, in units of the spectrum's range
noise = 0.05         # detector noise std
n_hidden = 256       # MLP width
n_train = 4096       # training spectra
batch_size = 256     # spectra per optimizer step
max_steps = 100      # optimizer steps
learning_rate = 1e-3 # AdamW learning rate
weight_decay = 1e-2  # AdamW weight decay
log_interval = 25    # steps between progress lines
task_seed = 1234     # fixes each material's peaks (the task itself)
seed = 0             # torch seed for init and batching
# -----------------------------------------------------------------------------

torch.manual_seed(seed)
device = "cuda" if torch.cuda.is_available() else "mps" if torch.backends.mps.is_available() else "cpu"


# -----------------------------------------------------------------------------
# data: each material absorbs at a few wavelengths; samples differ in lamp baseline, drift and noise
def make_spectra(n, split_seed):
    task = np.random.default_rng(task_seed)
    centres = task.uniform(0.05, 0.95, (n_materials, n_peaks))             # (K, P)
    widths = task.uniform(0.004, 0.012, (n_materials, n_peaks))            # (K, P)
    rng = np.random.default_rng(split_seed)
    y = rng.integers(0, n_materials, n)                                    # (N,)
    wl = np.linspace(0.0, 1.0, n_bins)                                     # (L,)
    shift = rng.normal(0.0, drift, (n, 1))                                 # (N, 1) calibration drift
    absorbance = np.zeros((n, n_bins))                                     # (N, L)
    for c, w in zip(centres[y].T, widths[y].T):                            # one peak of every sample at a time
        absorbance += np.exp(-((wl - c[:, None] - shift) ** 2) / (2 * w[:, None] ** 2))
    baseline = rng.uniform(0.5, 2.0, (n, 1)) + rng.normal(0.0, 0.5, (n, 1)) * wl    # (N, L) lamp drift
    x = baseline * (1.0 - peak_depth * absorbance) + rng.normal(0.0, noise, (n, n_bins))  # (N, L)
    x = (x - x.mean(axis=1, keepdims=True)) / x.std(axis=1, keepdims=True)  # standard normal variate
    return x, y


x_train, y_train = (torch.from_numpy(a).to(device) for a in make_spectra(n_train, split_seed=1))
x_val, y_val = (torch.from_numpy(a).to(device) for a in make_spectra(1024, split_seed=2))


# -----------------------------------------------------------------------------
# model
class SpectrumClassifier(nn.Module):
    def __init__(self):
        super().__init__()
        self.net = nn.Sequential(
            nn.Linear(n_bins, n_hidden), nn.GELU(),
            nn.Linear(n_hidden, n_hidden), nn.GELU(),
            nn.Linear(n_hidden, n_materials),
        )

    def forward(self, x):  # x: (B, L)
        return self.net(x)  # (B, K)


model = SpectrumClassifier().to(device)
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
    idx = torch.randint(0, n_train, (batch_size,), device=device)       # (B,)
    xb, yb = x_train[idx], y_train[idx]                                  # (B, L), (B,)
    loss = F.cross_entropy(model(xb), yb)
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    optimizer.step()
    if step % log_interval == 0 or step == max_steps - 1:
        print(f"step {step:4d} | loss {loss.item():.4f}")

print(f"trained {max_steps} steps in {time.time() - t0:.1f}s")
print(f"val accuracy {accuracy(x_val, y_val):.3f}")
