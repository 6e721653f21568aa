# doctor corpus: MLP regressor predicting wind-turbine power output from synthetic weather features
# modelled on: Stack Overflow / PyTorch forums reports "loss does not decrease at all" where optimizer.zero_grad() sat between loss.backward() and optimizer.step() (e.g. "Why do we need to call zero_grad() in PyTorch?", https://stackoverflow.com/questions/48001598/why-do-we-need-to-call-zero-grad-in-pytorch)
# expect: dead-gradient
import numpy as np
import torch
import torch.nn as nn
from torch.utils.data import DataLoader, TensorDataset

# ---------------- config ----------------
SEED = 5
N_TRAIN = 8000
N_VAL = 2000
BATCH = 128
EPOCHS = 5               # ~63 steps per epoch
LR = 1e-3
MAX_GRAD_NORM = 5.0
LOG_EVERY = 50

np.random.seed(SEED)
torch.manual_seed(SEED)
device = "cuda" if torch.cuda.is_available() else "cpu"


# ---------------- synthetic turbine data ----------------
def make_split(n):
    speed = np.random.weibull(2.0, size=n) * 9.0                    # m/s
    direction = np.random.uniform(0, 2 * np.pi, size=n)             # rad
    air_density = np.random.normal(1.225, 0.03, size=n)
    yaw_error = np.random.normal(0, 0.15, size=n)
    temp = np.random.normal(12, 6, size=n)
    # cubic power curve between cut-in and rated speed, flat above, zero past cut-out
    v = np.clip(speed, 3.0, 13.0)
    power = np.where(speed < 3.0, 0.0, ((v - 3.0) / 10.0) ** 3)
    power = np.where(speed > 25.0, 0.0, power)
    power *= (air_density / 1.225) * np.cos(yaw_error) ** 2 * (1 + 0.05 * np.sin(direction))
    power += 0.02 * np.random.randn(n)
    x = np.stack([speed, np.sin(direction), np.cos(direction), air_density, yaw_error, temp], axis=1)
    return x.astype(np.float32), power.astype(np.float32)


x_train, y_train = make_split(N_TRAIN)
x_val, y_val = make_split(N_VAL)
x_mu, x_sd = x_train.mean(0), x_train.std(0)
y_mu, y_sd = y_train.mean(), y_train.std()
norm_x = lambda x: torch.from_numpy((x - x_mu) / x_sd)              # (N, 6)
norm_y = lambda y: torch.from_numpy((y - y_mu) / y_sd)[:, None]     # (N, 1)
train_loader = DataLoader(TensorDataset(norm_x(x_train), norm_y(y_train)), batch_size=BATCH, shuffle=True)
x_val_t, y_val_t = norm_x(x_val).to(device), norm_y(y_val).to(device)


# ---------------- model ----------------
class PowerRegressor(nn.Module):
    def __init__(self, d_in=6, hidden=64):
        super().__init__()
        self.net = nn.Sequential(
            nn.Linear(d_in, hidden), nn.SiLU(),
            nn.Linear(hidden, hidden), nn.SiLU(),
            nn.Linear(hidden, 1),
        )

    def forward(self, x):        # (B, 6)
        return self.net(x)       # (B, 1)


model = PowerRegressor().to(device)
optimizer = torch.optim.Adam(model.parameters(), lr=LR)
criterion = nn.MSELoss()

# ---------------- training ----------------
print(f"target variance (standardised) = {norm_y(y_train).var().item():.3f}")
step = 0
for epoch in range(EPOCHS):
    model.train()
    for xb, yb in train_loader:
        xb, yb = xb.to(device), yb.to(device)
        pred = model(xb)                          # (B, 1)
        loss = criterion(pred, yb)
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), MAX_GRAD_NORM)
        optimizer.zero_grad()
        optimizer.step()
        step += 1
        if step % LOG_EVERY == 0:
            print(f"epoch {epoch} step {step:4d} | train mse {loss.item():.4f}")

    model.eval()
    with torch.no_grad():
        val_mse = criterion(model(x_val_t), y_val_t).item()
    print(f"epoch {epoch} | val mse {val_mse:.4f}")

rmse_kw = (val_mse ** 0.5) * y_sd * 2000.0   # 2 MW rated turbine
print(f"val RMSE ~ {rmse_kw:.0f} kW")
