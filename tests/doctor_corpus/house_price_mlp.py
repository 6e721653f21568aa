# doctor corpus: an MLP regressor predicting (log) house prices from 10 synthetic tabular features
# modelled on: Stack Overflow / PyTorch forums "regression model predicts the same value for every input" with nn.MSELoss on output (N, 1) vs target (N,) and the "Using a target size that is different to the input size" warning (https://discuss.pytorch.org/)
# expect: loss-broadcast
import numpy as np
import torch
import torch.nn as nn

# ---------------- config ----------------
SEED = 42
N_TRAIN, N_VAL = 4000, 1000
BATCH_SIZE = 64
EPOCHS = 5
LR = 1e-3
WEIGHT_DECAY = 1e-4
device = "cuda" if torch.cuda.is_available() else "cpu"

torch.manual_seed(SEED)
rng = np.random.default_rng(SEED)

# ---------------- data ----------------
FEATURES = ["sqft", "bedrooms", "bathrooms", "age", "lot", "dist_center",
            "school_score", "crime", "garage", "renovated"]


def make_houses(n):
    sqft = rng.lognormal(7.3, 0.35, n)
    bedrooms = np.clip(np.round(sqft / 600 + rng.normal(0, 0.7, n)), 1, 7)
    bathrooms = np.clip(np.round(bedrooms * 0.6 + rng.normal(0, 0.5, n)), 1, 5)
    age = rng.uniform(0, 80, n)
    lot = rng.lognormal(8.5, 0.5, n)
    dist = rng.gamma(2.0, 5.0, n)
    school = rng.uniform(1, 10, n)
    crime = rng.gamma(1.5, 1.0, n)
    garage = rng.integers(0, 3, n)
    renovated = (rng.random(n) < 0.25).astype(float)
    log_price = (11.0 + 0.9 * np.log(sqft / 1500) + 0.05 * bathrooms - 0.004 * age * (1 - 0.6 * renovated)
                 + 0.1 * np.log(lot / 5000) - 0.25 * np.log1p(dist) + 0.06 * school - 0.05 * crime
                 + 0.04 * garage + 0.05 * rng.standard_normal(n))
    x = np.stack([sqft, bedrooms, bathrooms, age, lot, dist, school, crime, garage, renovated], 1)
    return x.astype(np.float32), log_price.astype(np.float32)


x_tr, y_tr = make_houses(N_TRAIN)         # (N, 10), (N,)
x_va, y_va = make_houses(N_VAL)
x_mu, x_sd = x_tr.mean(0), x_tr.std(0)
y_mu, y_sd = y_tr.mean(), y_tr.std()
x_tr, x_va = (x_tr - x_mu) / x_sd, (x_va - x_mu) / x_sd
y_tr, y_va = (y_tr - y_mu) / y_sd, (y_va - y_mu) / y_sd
x_tr, y_tr = torch.from_numpy(x_tr).to(device), torch.from_numpy(y_tr).to(device)
x_va, y_va = torch.from_numpy(x_va).to(device), torch.from_numpy(y_va).to(device)

# ---------------- model ----------------
model = nn.Sequential(
    nn.Linear(len(FEATURES), 64), nn.ReLU(),
    nn.Linear(64, 64), nn.ReLU(),
    nn.Linear(64, 1),                        # (B, 1)
).to(device)
optimizer = torch.optim.AdamW(model.parameters(), lr=LR, weight_decay=WEIGHT_DECAY)
criterion = nn.MSELoss()

# ---------------- training ----------------
step = 0
for epoch in range(EPOCHS):
    model.train()
    perm = torch.randperm(N_TRAIN, device=device)
    epoch_loss = 0.0
    for start in range(0, N_TRAIN, BATCH_SIZE):
        idx = perm[start:start + BATCH_SIZE]
        pred = model(x_tr[idx])
        loss = criterion(pred, y_tr[idx])

        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        epoch_loss += loss.item() * idx.numel()
        step += 1
        if step % 50 == 0:
            print(f"step {step:4d}  mse {loss.item():.4f}")
    print(f"epoch {epoch + 1}  train mse {epoch_loss / N_TRAIN:.4f}")

# ---------------- evaluation ----------------
model.eval()
with torch.no_grad():
    pred = model(x_va)
    val_mse = criterion(pred, y_va).item()
    rmse_dollars = torch.sqrt(((pred.squeeze(1) * y_sd - y_va * y_sd) ** 2).mean()).item()
print(f"val mse {val_mse:.4f} (target variance 1.0)  rmse {rmse_dollars:.3f} log-dollars")
