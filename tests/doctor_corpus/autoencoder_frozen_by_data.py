# doctor corpus: an MLP autoencoder compressing 64-d synthetic spectra into an 8-d code
# modelled on: PyTorch forums / Stack Overflow "encoder weights not updating, only decoder trains" -- the encoder path runs under torch.no_grad() (an inference helper reused in forward), so no gradient reaches it (https://discuss.pytorch.org/)
# expect: dead-gradient
import numpy as np
import torch
import torch.nn as nn

# ---------------- config ----------------
SEED = 5
N_TRAIN, N_VAL = 4096, 1024
IN_DIM = 64
LATENT = 8
N_FACTORS = 6             # true number of generating factors
BATCH_SIZE = 128
EPOCHS = 10
LR = 2e-3
device = "cuda" if torch.cuda.is_available() else "cpu"

torch.manual_seed(SEED)
rng = np.random.default_rng(SEED)

# ---------------- data ----------------
# each sample is a mixture of N_FACTORS smooth peaks plus a nonlinearity and noise
grid = np.linspace(0, 1, IN_DIM)
centers = rng.uniform(0.1, 0.9, size=N_FACTORS)
basis = np.exp(-((grid[None, :] - centers[:, None]) ** 2) / 0.004)        # (F, D)


def make_spectra(n):
    w = rng.uniform(0, 1, size=(n, N_FACTORS))
    x = np.tanh(1.5 * w @ basis) + 0.02 * rng.standard_normal((n, IN_DIM))  # (N, D)
    return torch.as_tensor(x, dtype=torch.float32)


x_tr = make_spectra(N_TRAIN).to(device)
x_va = make_spectra(N_VAL).to(device)
mu, sd = x_tr.mean(0), x_tr.std(0) + 1e-6
x_tr, x_va = (x_tr - mu) / sd, (x_va - mu) / sd


# ---------------- model ----------------
class AutoEncoder(nn.Module):
    def __init__(self, d, latent, hidden=128):
        super().__init__()
        self.encoder = nn.Sequential(nn.Linear(d, hidden), nn.SiLU(), nn.Linear(hidden, latent))
        self.decoder = nn.Sequential(nn.Linear(latent, hidden), nn.SiLU(), nn.Linear(hidden, d))

    @torch.no_grad()
    def encode(self, x):                 # x: (B, D) -> (B, Z); also used to export codes
        return self.encoder(x)

    def forward(self, x):
        z = self.encode(x)               # (B, Z)
        return self.decoder(z), z        # (B, D), (B, Z)


model = AutoEncoder(IN_DIM, LATENT).to(device)
optimizer = torch.optim.Adam(model.parameters(), lr=LR)
criterion = nn.MSELoss()

# ---------------- training ----------------
step = 0
for epoch in range(EPOCHS):
    model.train()
    perm = torch.randperm(N_TRAIN, device=device)
    for start in range(0, N_TRAIN, BATCH_SIZE):
        xb = x_tr[perm[start:start + BATCH_SIZE]]          # (B, D)
        recon, z = model(xb)
        loss = criterion(recon, xb) + 1e-4 * z.pow(2).mean()

        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        step += 1
        if step % 50 == 0:
            print(f"step {step:4d}  recon mse {loss.item():.4f}")

# ---------------- evaluation ----------------
model.eval()
with torch.no_grad():
    recon, codes = model(x_va)
    val_mse = criterion(recon, x_va).item()
print(f"val recon mse {val_mse:.4f} (per-feature variance 1.0), code std {codes.std(0).mean():.3f}")
