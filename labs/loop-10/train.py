"""
Wrist-band recogniser: 24 motion features per 5-second window -> shared backbone -> two heads.

The activity head (6 activities) ships today. This script adds a tremor head for the clinical
study: it fine-tunes only the new head, on a small set of windows recorded at rest, while the
backbone and the activity head stay frozen so that activity recognition is untouched.
The first part reproduces the upstream pretraining so that the script is self-contained.
Run: python train.py
"""
import copy
import time

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.utils.data import DataLoader, TensorDataset

# -----------------------------------------------------------------------------
# config
n_features = 24        # motion features per window
n_activities = 6       # activity classes (the shipped head)
n_hidden = 64          # backbone width
n_pretrain = 8192      # activity windows (upstream pretraining)
n_rest = 512           # rest windows labelled for tremor (the clinical study)
n_rest_val = 512       # rest windows kept for validation
pretrain_steps = 300   # upstream optimizer steps
pretrain_batch = 64    # windows per upstream step
pretrain_lr = 3e-3     # upstream AdamW learning rate
finetune_epochs = 6    # passes over the rest windows
finetune_batch = 32    # windows per fine-tuning step
finetune_lr = 3e-2     # AdamW learning rate of the tremor head
dropout = 0.2          # dropout in the tremor head (the rest set is small)
log_interval = 100     # pretraining steps between progress lines
task_seed = 1234       # fixes the activity and tremor signatures (the task itself)
seed = 0               # fixes the model init, the samples and the shuffling
# -----------------------------------------------------------------------------

torch.manual_seed(seed)
device = "cuda" if torch.cuda.is_available() else "mps" if torch.backends.mps.is_available() else "cpu"


# -----------------------------------------------------------------------------
# data: each activity has its own feature signature; rest windows sit near the "rest" activity,
# and a tremor adds a small signature of its own on top
def signatures():
    g = torch.Generator().manual_seed(task_seed)
    activity = 1.0 * torch.randn(n_activities, n_features, generator=g)  # (A, D)
    tremor = 0.5 * torch.randn(n_features, generator=g)                 # (D,)
    return activity, tremor


def make_activity_data(n, split_seed):
    activity, _ = signatures()
    g = torch.Generator().manual_seed(split_seed)
    y = torch.randint(0, n_activities, (n,), generator=g)              # (N,)
    x = activity[y] + torch.randn(n, n_features, generator=g)           # (N, D)
    return x, y


def make_rest_data(n, split_seed):
    activity, tremor = signatures()
    g = torch.Generator().manual_seed(split_seed)
    y = torch.randint(0, 2, (n,), generator=g)                         # (N,) 1 = tremor
    x = activity[0] + y[:, None] * tremor + 0.15 * torch.randn(n, n_features, generator=g)  # (N, D)
    return x, y


# -----------------------------------------------------------------------------
# model
class Backbone(nn.Module):
    def __init__(self):
        super().__init__()
        self.net = nn.Sequential(
            nn.Linear(n_features, n_hidden), nn.BatchNorm1d(n_hidden), nn.ReLU(),
            nn.Linear(n_hidden, n_hidden), nn.BatchNorm1d(n_hidden), nn.ReLU(),
        )

    def forward(self, x):  # x: (B, D)
        return self.net(x)  # (B, H)


class ActivityNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.backbone = Backbone()
        self.activity_head = nn.Linear(n_hidden, n_activities)

    def forward(self, x):  # x: (B, D)
        return self.activity_head(self.backbone(x))  # (B, A)


class Recognizer(nn.Module):
    """What ships on the band: the published backbone and activity head, plus the tremor head."""

    def __init__(self):
        super().__init__()
        self.backbone = Backbone()
        self.activity_head = nn.Linear(n_hidden, n_activities)
        self.tremor_head = nn.Sequential(nn.Dropout(dropout), nn.Linear(n_hidden, 2))

    def forward(self, x):  # x: (B, D)
        h = self.backbone(x)                                # (B, H)
        return self.activity_head(h), self.tremor_head(h)   # (B, A), (B, 2)


# -----------------------------------------------------------------------------
# upstream pretraining: activities, then a published checkpoint
t0 = time.time()
x_act, y_act = (t.to(device) for t in make_activity_data(n_pretrain, split_seed=1))
upstream = ActivityNet().to(device)
optimizer = torch.optim.AdamW(upstream.parameters(), lr=pretrain_lr)
upstream.train()
for step in range(pretrain_steps):
    idx = torch.randint(0, n_pretrain, (pretrain_batch,), device=device)  # (B,)
    loss = F.cross_entropy(upstream(x_act[idx]), y_act[idx])
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    optimizer.step()
    if step % log_interval == 0 or step == pretrain_steps - 1:
        print(f"pretrain step {step:4d} | loss {loss.item():.4f}")
published = copy.deepcopy(upstream.state_dict())  # the checkpoint upstream publishes

# -----------------------------------------------------------------------------
# our job: add the tremor head to the published model, everything else frozen
model = Recognizer().to(device)
missing, unexpected = model.load_state_dict(published, strict=False)
assert not unexpected and all(k.startswith("tremor_head.") for k in missing), f"checkpoint mismatch: {missing} {unexpected}"
model.backbone.requires_grad_(False)
model.activity_head.requires_grad_(False)
optimizer = torch.optim.AdamW(model.tremor_head.parameters(), lr=finetune_lr)

x_rest, y_rest = make_rest_data(n_rest, split_seed=2)
x_rest_val, y_rest_val = (t.to(device) for t in make_rest_data(n_rest_val, split_seed=3))
rest_loader = DataLoader(TensorDataset(x_rest, y_rest), batch_size=finetune_batch, shuffle=True, drop_last=True)


@torch.no_grad()
def evaluate():
    model.eval()
    activity_acc = (model(x_act[:2048])[0].argmax(dim=-1) == y_act[:2048]).float().mean().item()
    tremor_acc = (model(x_rest_val)[1].argmax(dim=-1) == y_rest_val).float().mean().item()
    return activity_acc, tremor_acc


print(f"before fine-tuning: activity accuracy {evaluate()[0]:.3f}")
for epoch in range(finetune_epochs):
    model.train()
    for x, y in rest_loader:
        x, y = x.to(device), y.to(device)  # (B, D), (B,)
        _, tremor_logits = model(x)         # (B, 2)
        loss = F.cross_entropy(tremor_logits, y)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
    activity_acc, tremor_acc = evaluate()
    print(f"epoch {epoch} | loss {loss.item():.4f} | activity accuracy {activity_acc:.3f} | tremor accuracy {tremor_acc:.3f}")

print(f"done in {time.time() - t0:.1f}s")
