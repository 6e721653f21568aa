# doctor corpus: tiny GAN on a 2-D ring of 8 Gaussians; separate G/D optimizers, fake.detach() for the D step, G step after (D gets G-step grads it then zeroes)
# modelled on: pytorch/examples dcgan training loop (non-saturating loss, D then G), scaled down to 2-D toy data
# expect: none
import math

import torch
import torch.nn as nn
import torch.nn.functional as F

# ---- config ----
SEED = 11
N_MODES, RADIUS, MODE_STD = 8, 2.0, 0.1
NEAR_TOL = 0.5             # neighbouring modes are ~1.5 apart
Z_DIM, HIDDEN = 8, 128
BATCH = 128
STEPS = 500
LR_G, LR_D = 2e-3, 2e-3
BETAS = (0.5, 0.999)
device = "cuda" if torch.cuda.is_available() else "cpu"
torch.manual_seed(SEED)

# ---- data: mixture of 8 Gaussians on a circle ----
angles = torch.arange(N_MODES) * 2 * math.pi / N_MODES
centers = RADIUS * torch.stack([angles.cos(), angles.sin()], 1).to(device)   # [8, 2]


def sample_real(n):
    idx = torch.randint(0, N_MODES, (n,), device=device)
    return centers[idx] + MODE_STD * torch.randn(n, 2, device=device)         # [n, 2]


def mode_stats(x):
    """Share of samples within NEAR_TOL of some mode, and how many modes are hit."""
    d = torch.cdist(x, centers)                                               # [n, 8]
    near, which = d.min(1)
    good = near < NEAR_TOL
    return good.float().mean().item(), which[good].unique().numel()


# ---- models ----
G = nn.Sequential(nn.Linear(Z_DIM, HIDDEN), nn.ReLU(), nn.Linear(HIDDEN, HIDDEN), nn.ReLU(),
                  nn.Linear(HIDDEN, 2)).to(device)
D = nn.Sequential(nn.Linear(2, HIDDEN), nn.LeakyReLU(0.2), nn.Linear(HIDDEN, HIDDEN),
                  nn.LeakyReLU(0.2), nn.Linear(HIDDEN, 1)).to(device)
opt_G = torch.optim.Adam(G.parameters(), lr=LR_G, betas=BETAS)
opt_D = torch.optim.Adam(D.parameters(), lr=LR_D, betas=BETAS)
ones = torch.ones(BATCH, 1, device=device)
zeros = torch.zeros(BATCH, 1, device=device)
fixed_z = torch.randn(2000, Z_DIM, device=device)

# ---- training ----
for step in range(1, STEPS + 1):
    real = sample_real(BATCH)                                                 # [B, 2]
    z = torch.randn(BATCH, Z_DIM, device=device)
    fake = G(z)                                                               # [B, 2]

    # (1) discriminator: real -> 1, fake -> 0; detach so G gets no gradient here
    opt_D.zero_grad(set_to_none=True)
    loss_D = F.binary_cross_entropy_with_logits(D(real), ones) + \
        F.binary_cross_entropy_with_logits(D(fake.detach()), zeros)
    loss_D.backward()
    opt_D.step()

    # (2) generator: non-saturating loss, reuse the same fake batch through the updated D
    opt_G.zero_grad(set_to_none=True)
    loss_G = F.binary_cross_entropy_with_logits(D(fake), ones)
    loss_G.backward()              # also fills D's grads; opt_D.zero_grad clears them next step
    opt_G.step()

    if step == 1 or step % 50 == 0:
        with torch.no_grad():
            share, modes = mode_stats(G(fixed_z))
        print(f"step {step:4d} loss_D {loss_D.item():.4f} loss_G {loss_G.item():.4f} "
              f"near-mode {share:.2f} modes {modes}/{N_MODES}")

# ---- evaluation ----
G.eval()
with torch.no_grad():
    samples = G(fixed_z)
    share, modes = mode_stats(samples)
    radius = samples.norm(dim=1)
print(f"final: {100 * share:.1f}% of samples near a mode, {modes}/{N_MODES} modes covered, "
      f"mean radius {radius.mean().item():.2f} (target {RADIUS})")
