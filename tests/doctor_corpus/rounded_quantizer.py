# doctor corpus: compressive autoencoder with a quantised latent code, reconstructing synthetic sensor frames
# modelled on: PyTorch forums thread "Torch.round() gradient" (encoder weights never update once the latent is rounded, because round has zero derivative everywhere), https://discuss.pytorch.org/t/torch-round-gradient/28628
# expect: dead-gradient
import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

# ---------------- config ----------------
SEED = 2
N_SENSORS = 48
N_FACTORS = 6            # true latent factors driving the sensors
CODE_DIM = 8
LEVELS = 8               # quantisation levels per code unit, code in [-1, 1]
N_TRAIN = 8192
BATCH = 64
STEPS = 400
LR = 2e-3
LOG_EVERY = 40

np.random.seed(SEED)
torch.manual_seed(SEED)
device = "cuda" if torch.cuda.is_available() else "cpu"

# ---------------- synthetic sensor frames ----------------
mixing = torch.randn(N_FACTORS, N_SENSORS) / N_FACTORS ** 0.5


def make_frames(n):
    factors = torch.rand(n, N_FACTORS) * 2 - 1                       # (N, F)
    frames = torch.tanh(factors @ mixing) + 0.05 * torch.randn(n, N_SENSORS)
    return frames                                                    # (N, S)


x_train = make_frames(N_TRAIN)
x_test = make_frames(1024)


# ---------------- model ----------------
class Quantiser(nn.Module):
    def __init__(self, levels):
        super().__init__()
        self.scale = (levels - 1) / 2

    def forward(self, z):                       # (B, C) in [-1, 1]
        return torch.round(z * self.scale) / self.scale


class CompressiveAE(nn.Module):
    def __init__(self):
        super().__init__()
        self.encoder = nn.Sequential(nn.Linear(N_SENSORS, 64), nn.ReLU(), nn.Linear(64, CODE_DIM), nn.Tanh())
        self.quant = Quantiser(LEVELS)
        self.decoder = nn.Sequential(nn.Linear(CODE_DIM, 64), nn.ReLU(), nn.Linear(64, N_SENSORS))

    def forward(self, x):                       # (B, S)
        code = self.quant(self.encoder(x))      # (B, C), values on a grid of LEVELS
        return self.decoder(code), code         # (B, S), (B, C)


model = CompressiveAE().to(device)
optimizer = torch.optim.Adam(model.parameters(), lr=LR)

# ---------------- training ----------------
baseline = x_train.var(0).mean().item()
bits = CODE_DIM * np.log2(LEVELS)
print(f"code: {CODE_DIM} x {LEVELS} levels = {bits:.0f} bits/frame | mean-frame mse {baseline:.4f}")
model.train()
running = 0.0
for step in range(1, STEPS + 1):
    idx = torch.randint(0, N_TRAIN, (BATCH,))
    xb = x_train[idx].to(device)                # (B, S)
    recon, _ = model(xb)
    loss = F.mse_loss(recon, xb)
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
    running += loss.item()
    if step % LOG_EVERY == 0:
        print(f"step {step:4d} | recon mse {running / LOG_EVERY:.4f}")
        running = 0.0

# ---------------- evaluation ----------------
model.eval()
with torch.no_grad():
    recon, code = model(x_test.to(device))
    test_mse = F.mse_loss(recon, x_test.to(device)).item()
    used = torch.unique(code, dim=0).shape[0]
print(f"test mse {test_mse:.4f} (baseline {baseline:.4f}) | distinct codes used {used}/1024")
