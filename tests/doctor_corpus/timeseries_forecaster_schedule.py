# doctor corpus: GRU multi-step forecaster for noisy multi-seasonal sensor series, Adam + ExponentialLR decay
# modelled on: PyTorch forum threads "learning rate drops to zero after a few iterations" (epoch-level scheduler stepped inside the batch loop)
# expect: lr-collapse
import math
import numpy as np
import torch
import torch.nn as nn
from torch.utils.data import TensorDataset, DataLoader

# ---------------- config ----------------
SEED = 5
N_SERIES = 48
SERIES_LEN = 400
CONTEXT, HORIZON = 32, 8
HIDDEN = 48
BATCH = 64
EPOCHS = 5
LR = 5e-3
LR_DECAY = 0.9          # multiply the LR by this after every epoch

torch.manual_seed(SEED)
rng = np.random.default_rng(SEED)
device = "cuda" if torch.cuda.is_available() else "cpu"

# ---------------- data: daily + weekly cycles with drift and noise ----------------
t = np.arange(SERIES_LEN)
series = []
for _ in range(N_SERIES):
    p1, p2 = rng.uniform(10, 14), rng.uniform(35, 45)
    s = (rng.uniform(0.5, 1.5) * np.sin(2 * np.pi * t / p1 + rng.uniform(0, 6.3))
         + rng.uniform(0.3, 1.0) * np.sin(2 * np.pi * t / p2 + rng.uniform(0, 6.3))
         + 0.002 * rng.normal() * t + 0.15 * rng.normal(size=SERIES_LEN))
    series.append((s - s.mean()) / s.std())
series = np.stack(series).astype(np.float32)             # (N_SERIES, SERIES_LEN)


def make_windows(arr, start, stop, stride):
    xs, ys = [], []
    for s in arr:
        for i in range(start, stop - CONTEXT - HORIZON, stride):
            xs.append(s[i:i + CONTEXT])
            ys.append(s[i + CONTEXT:i + CONTEXT + HORIZON])
    return torch.tensor(np.array(xs)).unsqueeze(-1), torch.tensor(np.array(ys))


split = int(0.8 * SERIES_LEN)
x_tr, y_tr = make_windows(series, 0, split, 4)           # (N, CONTEXT, 1), (N, HORIZON)
x_va, y_va = make_windows(series, split - CONTEXT, SERIES_LEN, 4)
train_dl = DataLoader(TensorDataset(x_tr, y_tr), batch_size=BATCH, shuffle=True, drop_last=True)
print(f"train windows {len(x_tr)}, val windows {len(x_va)}, batches/epoch {len(train_dl)}")


class Forecaster(nn.Module):
    def __init__(self):
        super().__init__()
        self.gru = nn.GRU(1, HIDDEN, batch_first=True)
        self.head = nn.Sequential(nn.Linear(HIDDEN + CONTEXT, 64), nn.GELU(), nn.Linear(64, HORIZON))

    def forward(self, x):                                 # x: (B, CONTEXT, 1)
        _, h = self.gru(x)                                # h: (1, B, HIDDEN)
        z = torch.cat([h[-1], x.squeeze(-1)], dim=-1)     # (B, HIDDEN + CONTEXT)
        return self.head(z)                               # (B, HORIZON)


model = Forecaster().to(device)
opt = torch.optim.Adam(model.parameters(), lr=LR)
sched = torch.optim.lr_scheduler.ExponentialLR(opt, gamma=LR_DECAY)
loss_fn = nn.MSELoss()

naive = loss_fn(x_va[:, -1, :].expand(-1, HORIZON), y_va).item()
print(f"persistence baseline val MSE {naive:.4f}")

step = 0
for epoch in range(EPOCHS):
    model.train()
    for xb, yb in train_dl:
        xb, yb = xb.to(device), yb.to(device)
        loss = loss_fn(model(xb), yb)
        opt.zero_grad()
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        sched.step()
        step += 1
        if step % 25 == 0:
            print(f"epoch {epoch} step {step:4d} loss {loss.item():.4f} lr {opt.param_groups[0]['lr']:.2e}")

    model.eval()
    with torch.no_grad():
        val = loss_fn(model(x_va.to(device)), y_va.to(device)).item()
    print(f"epoch {epoch} val MSE {val:.4f}")
