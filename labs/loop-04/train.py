"""Compress 64-channel telemetry windows to an 8-d code with an MLP autoencoder, trained in
mixed precision. Run: python train.py

Shapes: N samples, B batch, D channels, H hidden width, E code width.
"""
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

# -----------------------------------------------------------------------------
# config
n_channels = 64        # telemetry channels per window
n_latent = 6           # true degrees of freedom of the telemetry
n_code = 8             # autoencoder bottleneck width
n_hidden = 128         # encoder/decoder hidden width
n_train = 16384        # training windows
n_val = 2048           # validation windows
batch_size = 128       # windows per optimizer step
max_steps = 300        # optimizer steps
learning_rate = 0.05   # SGD learning rate
momentum = 0.9         # SGD momentum
grad_clip = 1.0        # max global gradient norm
log_interval = 50      # steps between progress lines
seed = 0               # torch seed for init and batching
# -----------------------------------------------------------------------------

torch.manual_seed(seed)
device = "cuda" if torch.cuda.is_available() else "mps" if torch.backends.mps.is_available() else "cpu"
amp_dtype = torch.float16  # bfloat16 would need no loss scaling; float16 runs on more hardware


def make_data(n, split_seed):
    """Telemetry = a fixed nonlinear mix of a few latent factors, plus sensor noise."""
    g_task = torch.Generator().manual_seed(1234)
    mix = torch.randn(n_latent, n_channels, generator=g_task) / n_latent ** 0.5  # (L, D)
    g = torch.Generator().manual_seed(split_seed)
    z = torch.randn(n, n_latent, generator=g)  # (N, L)
    return torch.tanh(z @ mix) + 0.05 * torch.randn(n, n_channels, generator=g)  # (N, D)


x_train = make_data(n_train, split_seed=1).to(device)
x_val = make_data(n_val, split_seed=2).to(device)


class AutoEncoder(nn.Module):
    def __init__(self):
        super().__init__()
        self.encoder = nn.Sequential(nn.Linear(n_channels, n_hidden), nn.GELU(), nn.Linear(n_hidden, n_code))
        self.decoder = nn.Sequential(nn.Linear(n_code, n_hidden), nn.GELU(), nn.Linear(n_hidden, n_channels))

    def forward(self, x):  # x: (B, D)
        return self.decoder(self.encoder(x))  # (B, E) -> (B, D)


model = AutoEncoder().to(device)
optimizer = torch.optim.SGD(model.parameters(), lr=learning_rate, momentum=momentum)
scaler = torch.amp.GradScaler(device)
print(f"{sum(p.numel() for p in model.parameters())} parameters on {device}, autocast {amp_dtype}")


@torch.no_grad()
def val_loss():
    model.eval()
    with torch.autocast(device_type=device, dtype=amp_dtype):
        loss = F.mse_loss(model(x_val), x_val)
    model.train()
    return loss.item()


t0 = time.time()
for step in range(max_steps):
    idx = torch.randint(0, n_train, (batch_size,), device=device)  # (B,)
    xb = x_train[idx]  # (B, D)
    with torch.autocast(device_type=device, dtype=amp_dtype):
        loss = F.mse_loss(model(xb), xb)
    optimizer.zero_grad(set_to_none=True)
    scaler.scale(loss).backward()
    torch.nn.utils.clip_grad_norm_(model.parameters(), grad_clip)
    scaler.step(optimizer)
    scaler.update()
    if step % log_interval == 0 or step == max_steps - 1:
        print(f"step {step:4d} | loss {loss.item():.4f} | scale {scaler.get_scale():.0f}")

print(f"trained {max_steps} steps in {time.time() - t0:.1f}s")
print(f"val mse {val_loss():.4f} (variance of the data {x_val.var().item():.4f})")
