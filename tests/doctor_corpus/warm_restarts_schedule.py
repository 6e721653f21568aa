# doctor corpus: tabular regression MLP (synthetic housing prices) with SGD + CosineAnnealingWarmRestarts stepped per batch
# modelled on: torch.optim.lr_scheduler.CosineAnnealingWarmRestarts docs example (scheduler.step(epoch + i / iters) inside the batch loop)
# expect: none
import numpy as np
import torch
import torch.nn as nn
from torch.utils.data import TensorDataset, DataLoader

# ---------------- config ----------------
SEED = 4
N_TRAIN, N_VAL = 5000, 1000
BATCH = 100
EPOCHS = 7              # cycles of 1, 2, 4 epochs with T_0=1, T_mult=2 -> 350 steps
BASE_LR = 0.05
T_0, T_MULT, ETA_MIN = 1, 2, 1e-4

torch.manual_seed(SEED)
rng = np.random.default_rng(SEED)
device = "cuda" if torch.cuda.is_available() else "cpu"

# ---------------- data ----------------
cols = ["area", "rooms", "age", "dist_center", "crime", "school", "noise", "floor"]


def make_houses(n):
    area = rng.lognormal(4.4, 0.35, n)
    rooms = np.clip(np.round(area / 25 + rng.normal(0, 0.7, n)), 1, 8)
    age = rng.uniform(0, 80, n)
    dist = rng.gamma(2.0, 4.0, n)
    crime = rng.beta(2, 8, n)
    school = rng.uniform(1, 10, n)
    noise = rng.normal(0, 1, n)                          # irrelevant column
    floor = rng.integers(0, 12, n).astype(float)
    log_price = (5.0 + 0.9 * np.log(area) + 0.05 * rooms - 0.004 * age - 0.5 * np.log1p(dist)
                 - 1.2 * crime + 0.04 * school + 0.01 * np.minimum(floor, 6) + 0.06 * rng.normal(size=n))
    X = np.stack([area, rooms, age, dist, crime, school, noise, floor], 1)
    return X.astype(np.float32), log_price.astype(np.float32)


X_tr, y_tr = make_houses(N_TRAIN)
X_va, y_va = make_houses(N_VAL)
mu, sd = X_tr.mean(0), X_tr.std(0)
y_mu, y_sd = y_tr.mean(), y_tr.std()
norm = lambda X: torch.from_numpy((X - mu) / sd)
train_dl = DataLoader(TensorDataset(norm(X_tr), torch.from_numpy((y_tr - y_mu) / y_sd)), batch_size=BATCH, shuffle=True)
xv, yv = norm(X_va).to(device), torch.from_numpy((y_va - y_mu) / y_sd).to(device)

net = nn.Sequential(
    nn.Linear(len(cols), 64), nn.SiLU(),
    nn.Linear(64, 64), nn.SiLU(),
    nn.Linear(64, 1),
).to(device)
criterion = nn.MSELoss()
optimizer = torch.optim.SGD(net.parameters(), lr=BASE_LR, momentum=0.9, nesterov=True)
scheduler = torch.optim.lr_scheduler.CosineAnnealingWarmRestarts(optimizer, T_0=T_0, T_mult=T_MULT, eta_min=ETA_MIN)

iters = len(train_dl)
for epoch in range(EPOCHS):
    net.train()
    for i, (inputs, targets) in enumerate(train_dl):
        inputs, targets = inputs.to(device), targets.to(device)
        optimizer.zero_grad()
        outputs = net(inputs).squeeze(-1)                 # (B,)
        loss = criterion(outputs, targets)
        loss.backward()
        optimizer.step()
        scheduler.step(epoch + i / iters)
        if i % 25 == 0:
            print(f"epoch {epoch} iter {i:3d} loss {loss.item():.4f} lr {optimizer.param_groups[0]['lr']:.5f}")

    net.eval()
    with torch.no_grad():
        val_mse = criterion(net(xv).squeeze(-1), yv).item()
    print(f"epoch {epoch} val MSE {val_mse:.4f} (R^2 {1 - val_mse / yv.var().item():.3f})")
