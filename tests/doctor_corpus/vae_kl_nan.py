# doctor corpus: MLP variational autoencoder on 12x12 synthetic "blob" images (3 generative factors), BCE + KL
# modelled on: PyTorch forum "VAE loss becomes NaN" threads where the encoder's standard deviation came out of a ReLU
# expect: non-finite
import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

# ---------------- config ----------------
SEED = 2
SIDE = 12
N_TRAIN, N_VAL = 4000, 500
LATENT = 20
BATCH = 64
STEPS = 500
LR = 2e-3
BETA = 1.0

torch.manual_seed(SEED)
rng = np.random.default_rng(SEED)
device = "cuda" if torch.cuda.is_available() else "cpu"


def make_blobs(n):
    """A Gaussian bump at a random position with random width: pixels in [0, 1]."""
    yy, xx = np.mgrid[0:SIDE, 0:SIDE].astype(np.float32)
    cy, cx = rng.uniform(2, SIDE - 2, size=(2, n, 1, 1))
    w = rng.uniform(1.2, 2.5, size=(n, 1, 1))
    img = np.exp(-((yy - cy) ** 2 + (xx - cx) ** 2) / (2 * w ** 2))
    return torch.tensor(img.reshape(n, -1), dtype=torch.float32)   # (n, 144)


x_train, x_val = make_blobs(N_TRAIN), make_blobs(N_VAL)


class VAE(nn.Module):
    def __init__(self, d_in=SIDE * SIDE, hidden=128, latent=LATENT):
        super().__init__()
        self.encoder = nn.Sequential(nn.Linear(d_in, hidden), nn.ReLU(), nn.Linear(hidden, hidden), nn.ReLU())
        self.to_mu = nn.Linear(hidden, latent)
        self.to_sigma = nn.Sequential(nn.Linear(hidden, latent), nn.ReLU())
        self.decoder = nn.Sequential(nn.Linear(latent, hidden), nn.ReLU(), nn.Linear(hidden, hidden), nn.ReLU(),
                                     nn.Linear(hidden, d_in))

    def forward(self, x):                                 # x: (B, 144)
        h = self.encoder(x)                               # (B, hidden)
        mu, sigma = self.to_mu(h), self.to_sigma(h)       # (B, latent) each
        z = mu + sigma * torch.randn_like(sigma)          # reparameterisation
        return self.decoder(z), mu, sigma                 # logits (B, 144)


def vae_loss(logits, x, mu, sigma):
    recon = F.binary_cross_entropy_with_logits(logits, x, reduction="sum") / x.shape[0]
    kl = 0.5 * torch.sum(mu ** 2 + sigma ** 2 - 1.0 - torch.log(sigma ** 2)) / x.shape[0]
    return recon + BETA * kl, recon, kl


model = VAE().to(device)
opt = torch.optim.Adam(model.parameters(), lr=LR)

for step in range(1, STEPS + 1):
    model.train()
    idx = torch.randint(0, N_TRAIN, (BATCH,))
    x = x_train[idx].to(device)
    logits, mu, sigma = model(x)
    loss, recon, kl = vae_loss(logits, x, mu, sigma)
    opt.zero_grad()
    loss.backward()
    opt.step()
    if step % 50 == 0:
        print(f"step {step:4d} loss {loss.item():9.3f}  recon {recon.item():8.3f}  kl {kl.item():7.3f}")

model.eval()
with torch.no_grad():
    xv = x_val.to(device)
    logits, mu, sigma = model(xv)
    loss, recon, kl = vae_loss(logits, xv, mu, sigma)
    # reconstruct from the posterior mean only
    mse = F.mse_loss(torch.sigmoid(model.decoder(mu)), xv).item()
print(f"val loss {loss.item():.3f}  recon {recon.item():.3f}  kl {kl.item():.3f}  mean-recon MSE {mse:.4f}")
