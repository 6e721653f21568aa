"""Train a small residual MLP regressor with an exponential moving average (EMA) of its weights;
the EMA weights are the ones evaluated and shipped. Run: python train.py

Shapes: N samples, B batch, D input features, C width.
"""
import copy
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

# -----------------------------------------------------------------------------
# config
n_features = 32        # input features per sample
n_embd = 32            # residual stream width
n_blocks = 3           # residual blocks
n_train = 16384        # training samples
n_val = 2048           # validation samples
batch_size = 64        # samples per optimizer step
max_steps = 200        # optimizer steps
learning_rate = 2e-3   # AdamW learning rate
weight_decay = 1e-4    # AdamW weight decay
ema_decay = 0.98       # weight of the old average at each EMA update
log_interval = 50      # steps between progress lines
seed = 0               # torch seed for init, data and batching
# -----------------------------------------------------------------------------

torch.manual_seed(seed)
device = "cuda" if torch.cuda.is_available() else "mps" if torch.backends.mps.is_available() else "cpu"


def make_data(n, split_seed):
    """A smooth nonlinear target of the inputs, plus observation noise."""
    g_task = torch.Generator().manual_seed(1234)
    w = torch.randn(n_features, 8, generator=g_task) / n_features ** 0.5  # (D, 8)
    g = torch.Generator().manual_seed(split_seed)
    x = torch.randn(n, n_features, generator=g)  # (N, D)
    h = x @ w  # (N, 8)
    y = torch.sin(h).sum(dim=-1) + 0.5 * (h[:, 0] * h[:, 1]) + 0.1 * torch.randn(n, generator=g)  # (N,)
    return x, y


x_train, y_train = make_data(n_train, split_seed=1)
x_val, y_val = make_data(n_val, split_seed=2)
x_train, y_train, x_val, y_val = (t.to(device) for t in (x_train, y_train, x_val, y_val))


class Block(nn.Module):
    def __init__(self):
        super().__init__()
        self.ln = nn.LayerNorm(n_embd)
        self.mlp = nn.Sequential(nn.Linear(n_embd, 2 * n_embd), nn.GELU(), nn.Linear(2 * n_embd, n_embd))

    def forward(self, x):  # x: (B, C)
        return x + self.mlp(self.ln(x))


class Regressor(nn.Module):
    def __init__(self):
        super().__init__()
        self.embed = nn.Linear(n_features, n_embd)
        self.blocks = nn.Sequential(*[Block() for _ in range(n_blocks)])
        self.ln_f = nn.LayerNorm(n_embd)
        self.head = nn.Linear(n_embd, 1)

    def forward(self, x):  # x: (B, D)
        h = self.blocks(self.embed(x))  # (B, C)
        return self.head(self.ln_f(h)).squeeze(-1)  # (B,)


class EMA:
    """An exponential moving average of a model's parameters, kept beside the model."""

    def __init__(self, model, decay):
        self.decay = decay
        self.shadow = {name: p.detach().clone() for name, p in model.named_parameters()}

    def update(self, model):
        for name, p in model.named_parameters():
            self.shadow[name] = self.decay * self.shadow[name] + (1 - self.decay) * p

    @torch.no_grad()
    def copy_to(self, model):
        for name, p in model.named_parameters():
            p.copy_(self.shadow[name])


model = Regressor().to(device)
optimizer = torch.optim.AdamW(model.parameters(), lr=learning_rate, weight_decay=weight_decay)
ema = EMA(model, ema_decay)
print(f"{sum(p.numel() for p in model.parameters())} parameters on {device}")


@torch.no_grad()
def val_mse(m):
    m.eval()
    return F.mse_loss(m(x_val), y_val).item()


t0 = time.time()
for step in range(max_steps):
    idx = torch.randint(0, n_train, (batch_size,), device=device)  # (B,)
    xb, yb = x_train[idx], y_train[idx]  # (B, D), (B,)
    loss = F.mse_loss(model(xb), yb)
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    optimizer.step()
    ema.update(model)
    if step % log_interval == 0 or step == max_steps - 1:
        print(f"step {step:4d} | loss {loss.item():.4f} | {(time.time() - t0) * 1000 / (step + 1):.2f} ms/step")

ema_model = copy.deepcopy(model)
ema.copy_to(ema_model)
print(f"val mse: model {val_mse(model):.4f} | ema {val_mse(ema_model):.4f} | variance {y_val.var().item():.4f}")
