"""
Feeder load forecaster: 16 weather and calendar features -> MLP -> next-hour load (standardised).

The job runs on preemptible machines: it saves a checkpoint every ckpt_interval steps, and when
the machine is reclaimed a fresh process resumes from the last checkpoint. Here the reclaim is
simulated at preempt_step, and the resumed process is built exactly as a new one would be.
Run: python train.py
"""
import math
import os
import tempfile
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

# -----------------------------------------------------------------------------
# config
n_features = 16        # weather and calendar features
n_hidden = 128         # MLP width
n_train = 8192         # training hours
n_val = 2048           # validation hours
batch_size = 128       # hours per optimizer step
max_steps = 300        # optimizer steps in the schedule
learning_rate = 2e-2   # AdamW peak learning rate, decayed with a cosine to zero
weight_decay = 1e-4    # AdamW weight decay
ckpt_interval = 50     # steps between checkpoints
preempt_step = 230     # the machine is reclaimed after this many steps (simulated)
log_interval = 25      # steps between progress lines
task_seed = 1234       # fixes how load depends on the features (the task itself)
seed = 0               # fixes the model init, the samples and the batching
ckpt_dir = tempfile.TemporaryDirectory()  # stands in for the job's durable checkpoint storage
ckpt_path = os.path.join(ckpt_dir.name, "ckpt.pt")
# -----------------------------------------------------------------------------

torch.manual_seed(seed)
device = "cuda" if torch.cuda.is_available() else "mps" if torch.backends.mps.is_available() else "cpu"


# -----------------------------------------------------------------------------
# data: load is a smooth function of a few mixtures of the features, plus metering noise
def make_data(n, split_seed):
    w = torch.randn(n_features, 8, generator=torch.Generator().manual_seed(task_seed))  # (D, 8)
    g = torch.Generator().manual_seed(split_seed)
    x = torch.randn(n, n_features, generator=g)                                        # (N, D)
    y = torch.tanh(x @ w / 4).sum(dim=-1, keepdim=True) / 2                            # (N, 1)
    return x, y + 0.05 * torch.randn(n, 1, generator=g)


x_train, y_train = make_data(n_train, split_seed=1)
x_val, y_val = make_data(n_val, split_seed=2)
x_train, y_train, x_val, y_val = (t.to(device) for t in (x_train, y_train, x_val, y_val))


# -----------------------------------------------------------------------------
# model, optimizer and schedule, built the same way by every process
class LoadForecaster(nn.Module):
    def __init__(self):
        super().__init__()
        self.net = nn.Sequential(
            nn.Linear(n_features, n_hidden), nn.GELU(),
            nn.Linear(n_hidden, n_hidden), nn.GELU(),
            nn.Linear(n_hidden, 1),
        )

    def forward(self, x):  # x: (B, D)
        return self.net(x)  # (B, 1)


def build():
    model = LoadForecaster().to(device)
    optimizer = torch.optim.AdamW(model.parameters(), lr=learning_rate, weight_decay=weight_decay)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda s: 0.5 * (1 + math.cos(math.pi * s / max_steps)))
    return model, optimizer, scheduler


def save_checkpoint(step, model):
    torch.save({"step": step, "model": model.state_dict()}, ckpt_path)


def load_checkpoint(model):
    ckpt = torch.load(ckpt_path, map_location=device)
    model.load_state_dict(ckpt["model"])
    return ckpt["step"]


def train(model, optimizer, scheduler, start_step, stop_step):
    for step in range(start_step, stop_step):
        idx = torch.randint(0, n_train, (batch_size,), device=device)  # (B,)
        loss = F.mse_loss(model(x_train[idx]), y_train[idx])
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        scheduler.step()
        if (step + 1) % ckpt_interval == 0:
            save_checkpoint(step + 1, model)
        if step % log_interval == 0:
            print(f"step {step:4d} | loss {loss.item():.5f} | lr {scheduler.get_last_lr()[0]:.2e}")


# -----------------------------------------------------------------------------
# first process: trains until the machine is reclaimed
t0 = time.time()
model, optimizer, scheduler = build()
train(model, optimizer, scheduler, 0, preempt_step)
print(f"preempted after step {preempt_step - 1}")

# second process: starts fresh and resumes from the last checkpoint
model, optimizer, scheduler = build()
start_step = load_checkpoint(model)
print(f"resuming from the checkpoint at step {start_step}")
train(model, optimizer, scheduler, start_step, max_steps)
ckpt_dir.cleanup()

model.eval()
with torch.no_grad():
    val_mse = F.mse_loss(model(x_val), y_val).item()
print(f"done in {time.time() - t0:.1f}s | val mse {val_mse:.5f}")
