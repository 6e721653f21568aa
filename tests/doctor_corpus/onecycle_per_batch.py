# doctor corpus: MLP on 3-arm spirals with OneCycleLR stepped every batch, so the LR is near zero on the final steps by design
# modelled on: torch.optim.lr_scheduler.OneCycleLR docs (scheduler.step() after every batch) / fast.ai fit_one_cycle
# expect: none
import math

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

# ---- config ----
SEED = 4
N_PER_CLASS = 600
NUM_CLASSES = 3
BATCH = 64
EPOCHS = 12
MAX_LR = 0.05
device = "cuda" if torch.cuda.is_available() else "cpu"
torch.manual_seed(SEED)
rng = np.random.default_rng(SEED)


# ---- data: interleaved spirals in 2-D ----
def make_spirals(n_per_class):
    xs, ys = [], []
    for c in range(NUM_CLASSES):
        r = np.linspace(0.1, 1.0, n_per_class)
        theta = np.linspace(c * 2 * np.pi / NUM_CLASSES, c * 2 * np.pi / NUM_CLASSES + 3.5, n_per_class)
        theta = theta + rng.normal(0, 0.15, n_per_class)
        xs.append(np.stack([r * np.cos(theta), r * np.sin(theta)], 1))
        ys.append(np.full(n_per_class, c))
    x = torch.tensor(np.concatenate(xs), dtype=torch.float32)          # [N, 2]
    y = torch.tensor(np.concatenate(ys), dtype=torch.long)              # [N]
    return x, y


x_all, y_all = make_spirals(N_PER_CLASS)
perm = torch.randperm(len(x_all))
split = int(0.8 * len(x_all))
x_train, y_train = x_all[perm[:split]], y_all[perm[:split]]
x_val, y_val = x_all[perm[split:]], y_all[perm[split:]]

# ---- model ----
model = nn.Sequential(
    nn.Linear(2, 128), nn.ReLU(),
    nn.Linear(128, 128), nn.ReLU(),
    nn.Linear(128, NUM_CLASSES),
).to(device)
optimizer = torch.optim.SGD(model.parameters(), lr=MAX_LR, momentum=0.9, nesterov=True)
steps_per_epoch = math.ceil(len(x_train) / BATCH)
scheduler = torch.optim.lr_scheduler.OneCycleLR(
    optimizer, max_lr=MAX_LR, epochs=EPOCHS, steps_per_epoch=steps_per_epoch,
    pct_start=0.3, anneal_strategy="cos",
)  # final LR = max_lr / (div_factor * final_div_factor) ~2e-6 (intended)

# ---- training: one scheduler.step() per optimizer.step() ----
step = 0
for epoch in range(EPOCHS):
    model.train()
    order = torch.randperm(len(x_train))
    for i in range(0, len(x_train), BATCH):
        idx = order[i:i + BATCH]
        xb, yb = x_train[idx].to(device), y_train[idx].to(device)
        loss = F.cross_entropy(model(xb), yb)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        scheduler.step()
        step += 1
        if step == 1 or step % 40 == 0:
            print(f"step {step:4d} lr {scheduler.get_last_lr()[0]:.2e} loss {loss.item():.4f}")

    # ---- evaluation ----
    model.eval()
    with torch.no_grad():
        logits = model(x_val.to(device))
        val_loss = F.cross_entropy(logits, y_val.to(device)).item()
        acc = (logits.argmax(1).cpu() == y_val).float().mean().item()
    print(f"epoch {epoch:2d} val_loss {val_loss:.4f} val_acc {acc:.3f}")

print(f"final lr {scheduler.get_last_lr()[0]:.2e} after {step} steps")
