# doctor corpus: a 1-D conv regressor predicting vibration energy from 3-axis accelerometer windows
# modelled on: PyTorch FAQ / forum threads "memory keeps growing during training": total_loss += loss keeps each step's graph alive (https://pytorch.org/docs/stable/notes/faq.html)
# expect: leaked-graph
import math
import time

import numpy as np
import torch
import torch.nn as nn

# ---------------- config ----------------
SEED = 7
N_TRAIN = 2048
N_VAL = 512
CHANNELS = 3
WINDOW = 32
BATCH_SIZE = 64
EPOCHS = 10
LR = 3e-3
device = "cuda" if torch.cuda.is_available() else "cpu"

torch.manual_seed(SEED)
rng = np.random.default_rng(SEED)


# ---------------- data ----------------
def make_windows(n):
    """Noisy 3-axis sinusoids; the target is a weighted band energy of the signal."""
    t = np.arange(WINDOW) / WINDOW
    freq = rng.uniform(1.0, 6.0, size=(n, 1, 1))
    amp = rng.uniform(0.2, 2.0, size=(n, CHANNELS, 1))
    phase = rng.uniform(0, 2 * math.pi, size=(n, CHANNELS, 1))
    x = amp * np.sin(2 * math.pi * freq * t + phase)           # (N, C, T)
    x += 0.1 * rng.standard_normal(x.shape)
    y = (amp[:, :, 0] ** 2).sum(1) * np.sqrt(freq[:, 0, 0])     # (N,)
    return x.astype(np.float32), y.astype(np.float32)


x_tr, y_tr = make_windows(N_TRAIN)
x_va, y_va = make_windows(N_VAL)
y_mean, y_std = y_tr.mean(), y_tr.std()
y_tr = (y_tr - y_mean) / y_std
y_va = (y_va - y_mean) / y_std

x_tr, y_tr = torch.from_numpy(x_tr).to(device), torch.from_numpy(y_tr).to(device)
x_va, y_va = torch.from_numpy(x_va).to(device), torch.from_numpy(y_va).to(device)


# ---------------- model ----------------
class SensorNet(nn.Module):
    def __init__(self, channels, hidden=32):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv1d(channels, hidden, kernel_size=5, padding=2),  # (B, H, T)
            nn.ReLU(),
            nn.Conv1d(hidden, hidden, kernel_size=5, padding=2),    # (B, H, T)
            nn.ReLU(),
        )
        self.head = nn.Sequential(nn.Linear(2 * hidden, hidden), nn.ReLU(), nn.Linear(hidden, 1))

    def forward(self, x):                                   # x: (B, C, T)
        h = self.features(x)                                # (B, H, T)
        pooled = torch.cat([h.mean(-1), h.amax(-1)], dim=1)  # (B, 2H)
        return self.head(pooled).squeeze(-1)                # (B,)


model = SensorNet(CHANNELS).to(device)
optimizer = torch.optim.Adam(model.parameters(), lr=LR)
criterion = nn.MSELoss()

# ---------------- training ----------------
n_batches = N_TRAIN // BATCH_SIZE
start = time.time()
for epoch in range(EPOCHS):
    model.train()
    perm = torch.randperm(N_TRAIN, device=device)
    running_loss = 0.0
    for i in range(n_batches):
        idx = perm[i * BATCH_SIZE:(i + 1) * BATCH_SIZE]
        xb, yb = x_tr[idx], y_tr[idx]                       # (B, C, T), (B,)

        pred = model(xb)                                    # (B,)
        loss = criterion(pred, yb)

        optimizer.zero_grad()
        loss.backward()
        optimizer.step()

        running_loss += loss

    epoch_loss = running_loss / n_batches
    print(f"epoch {epoch + 1:2d}  train mse {epoch_loss.item():.4f}")

# ---------------- evaluation ----------------
model.eval()
with torch.no_grad():
    val_mse = criterion(model(x_va), y_va).item()
print(f"val mse {val_mse:.4f} (target variance 1.0)  [{time.time() - start:.1f}s]")
