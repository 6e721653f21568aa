"""
Gesture recognition for a wristband: pretrain on a large public set, fine-tune on our own device.

32 muscle-activity features per recording -> MLP -> one of 16 gestures. Pretraining runs on the
large public recording set (made with another wristband) on our multi-GPU nodes. Our own
wristband amplifies and offsets each channel a little differently, so the pretrained model is then
fine-tuned on the 32 recordings we labelled by hand with our device.
Shapes: N recordings, B batch, D features, H hidden units, G gestures.
Run: python train.py
"""
import os
import tempfile
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

# -----------------------------------------------------------------------------
# config
n_features = 32      # muscle-activity features per recording
n_gestures = 16      # classes
n_hidden = 128       # MLP width
n_public = 16384     # labelled recordings in the public set
n_own = 32           # hand-labelled recordings from our wristband
pretrain_steps = 150 # optimizer steps of pretraining
finetune_steps = 100 # optimizer steps of fine-tuning (all 32 recordings every step)
batch_size = 256     # recordings per pretraining step
pretrain_lr = 3e-3   # AdamW learning rate, pretraining
finetune_lr = 3e-4   # AdamW learning rate, fine-tuning
weight_decay = 1e-4  # AdamW weight decay
log_interval = 50    # steps between progress lines
task_seed = 1234     # fixes the gestures and our device's channel response (the task itself)
seed = 0             # torch seed for init and batching
# -----------------------------------------------------------------------------

torch.manual_seed(seed)
device = "cuda" if torch.cuda.is_available() else "mps" if torch.backends.mps.is_available() else "cpu"
checkpoint_dir = tempfile.mkdtemp(prefix="gestures-")


# -----------------------------------------------------------------------------
# data: each gesture is a pattern of muscle activity; recordings are noisy
def make_data(n, split_seed, own_device):
    g_task = torch.Generator().manual_seed(task_seed)
    patterns = torch.randn(n_gestures, n_features, generator=g_task)               # (G, D)
    gain = 1 + 0.3 * torch.randn(n_features, generator=g_task)                      # (D,) our channels' gain
    offset = 0.5 * torch.randn(n_features, generator=g_task)                        # (D,) and offset
    g = torch.Generator().manual_seed(split_seed)
    gesture = torch.randint(0, n_gestures, (n,), generator=g)                       # (N,)
    x = patterns[gesture] + 1.2 * torch.randn(n, n_features, generator=g)           # (N, D)
    if own_device:
        x = gain * x + offset
    return x.to(device), gesture.to(device)


# -----------------------------------------------------------------------------
# model
class GestureNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.net = nn.Sequential(
            nn.Linear(n_features, n_hidden), nn.GELU(),
            nn.Linear(n_hidden, n_hidden), nn.GELU(),
            nn.Linear(n_hidden, n_gestures),
        )

    def forward(self, x):  # x: (B, D)
        return self.net(x)  # (B, G)


def accuracy(model, x, y):
    model.eval()
    with torch.no_grad():
        acc = (model(x).argmax(dim=-1) == y).float().mean().item()
    model.train()
    return acc


# -----------------------------------------------------------------------------
# pretraining on the public set, data-parallel over the node's GPUs
x_public, y_public = make_data(n_public, split_seed=1, own_device=False)
model = nn.DataParallel(GestureNet().to(device))
optimizer = torch.optim.AdamW(model.parameters(), lr=pretrain_lr, weight_decay=weight_decay)
t0 = time.time()
for step in range(pretrain_steps):
    idx = torch.randint(0, n_public, (batch_size,), device=device)      # (B,)
    loss = F.cross_entropy(model(x_public[idx]), y_public[idx])
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    optimizer.step()
    if step % log_interval == 0 or step == pretrain_steps - 1:
        print(f"pretrain step {step:4d} | loss {loss.item():.4f}")
checkpoint = os.path.join(checkpoint_dir, "gesturenet-public.pt")
torch.save(model.state_dict(), checkpoint)
print(f"pretrained {pretrain_steps} steps in {time.time() - t0:.1f}s, saved {checkpoint}")

# -----------------------------------------------------------------------------
# fine-tuning on our own wristband's recordings, on one device
x_own, y_own = make_data(n_own, split_seed=2, own_device=True)
x_val, y_val = make_data(2048, split_seed=3, own_device=True)
model = GestureNet().to(device)
model.load_state_dict(torch.load(checkpoint, map_location=device))
print(f"pretrained model on our wristband: val accuracy {accuracy(model, x_val, y_val):.3f}")
optimizer = torch.optim.AdamW(model.parameters(), lr=finetune_lr, weight_decay=weight_decay)
t0 = time.time()
for step in range(finetune_steps):
    loss = F.cross_entropy(model(x_own), y_own)
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    optimizer.step()
    if step % log_interval == 0 or step == finetune_steps - 1:
        print(f"finetune step {step:4d} | loss {loss.item():.4f}")

print(f"fine-tuned {finetune_steps} steps in {time.time() - t0:.1f}s")
print(f"train accuracy {accuracy(model, x_own, y_own):.3f} | val accuracy {accuracy(model, x_val, y_val):.3f}")
