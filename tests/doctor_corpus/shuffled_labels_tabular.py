# doctor corpus: MLP classifying crop type from synthetic per-field spectral band statistics (tabular)
# modelled on: Stack Overflow questions of the kind "accuracy stuck at chance level" where the answer was that X and y were shuffled with separate np.random.shuffle calls, breaking the pairing (e.g. "Shuffle two numpy arrays in unison", https://stackoverflow.com/questions/4601373/better-way-to-shuffle-two-numpy-arrays-in-unison)
# expect: loss-at-chance
import math

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

# ---------------- config ----------------
SEED = 3
N_SAMPLES = 12000
N_BANDS = 10             # mean reflectance per spectral band
N_CLASSES = 5            # wheat, maize, rice, soy, fallow
VAL_FRAC = 0.2
BATCH = 64
EPOCHS = 2
LR = 3e-3
LOG_EVERY = 25

np.random.seed(SEED)
torch.manual_seed(SEED)
device = "cuda" if torch.cuda.is_available() else "cpu"

# ---------------- synthetic fields ----------------
# each crop has a characteristic spectral signature; fields vary by season and soil
signatures = np.random.uniform(0.05, 0.6, size=(N_CLASSES, N_BANDS))
labels = np.random.randint(0, N_CLASSES, size=N_SAMPLES)
season = np.random.uniform(0.8, 1.2, size=(N_SAMPLES, 1))
features = signatures[labels] * season + 0.06 * np.random.randn(N_SAMPLES, N_BANDS)
ndvi = (features[:, 7] - features[:, 3]) / (features[:, 7] + features[:, 3] + 1e-6)
features = np.concatenate([features, ndvi[:, None]], axis=1).astype(np.float32)   # (N, F)

# shuffle then split into train / validation
np.random.shuffle(features)
np.random.shuffle(labels)
n_val = int(VAL_FRAC * N_SAMPLES)
x_val, y_val = features[:n_val], labels[:n_val]
x_train, y_train = features[n_val:], labels[n_val:]

mu, sigma = x_train.mean(0), x_train.std(0) + 1e-6
x_train = torch.from_numpy((x_train - mu) / sigma)
x_val = torch.from_numpy((x_val - mu) / sigma)
y_train = torch.from_numpy(y_train).long()
y_val = torch.from_numpy(y_val).long()


# ---------------- model ----------------
class CropMLP(nn.Module):
    def __init__(self, d_in, n_classes, hidden=64):
        super().__init__()
        self.net = nn.Sequential(
            nn.Linear(d_in, hidden), nn.ReLU(),
            nn.Linear(hidden, hidden), nn.ReLU(),
            nn.Linear(hidden, n_classes),
        )

    def forward(self, x):          # (B, F)
        return self.net(x)         # (B, K)


model = CropMLP(x_train.shape[1], N_CLASSES).to(device)
optimizer = torch.optim.Adam(model.parameters(), lr=LR)

# ---------------- training ----------------
print(f"chance loss ln({N_CLASSES}) = {math.log(N_CLASSES):.3f}")
step = 0
for epoch in range(EPOCHS):
    model.train()
    perm = torch.randperm(len(x_train))
    for i in range(0, len(perm), BATCH):
        idx = perm[i:i + BATCH]
        xb, yb = x_train[idx].to(device), y_train[idx].to(device)   # (B, F), (B,)
        loss = F.cross_entropy(model(xb), yb)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        step += 1
        if step % LOG_EVERY == 0:
            print(f"epoch {epoch} step {step:4d} | train loss {loss.item():.4f}")

    model.eval()
    with torch.no_grad():
        logits = model(x_val.to(device))
        val_loss = F.cross_entropy(logits, y_val.to(device)).item()
        val_acc = (logits.argmax(-1).cpu() == y_val).float().mean().item()
    print(f"epoch {epoch} | val loss {val_loss:.4f} | val acc {val_acc:.3f}")
