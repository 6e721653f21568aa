# doctor corpus: 1-D CNN waveform classifier that logs loss.item() and accuracy every step into a history list (CPU host syncs are expected)
# modelled on: common training-loop practice (metrics history + tqdm-style progress line)
# expect: none
import math
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

# ---- config ----
SEED = 3
N_TRAIN, N_VAL = 3072, 512
LENGTH = 64
NUM_CLASSES = 3            # sine, square, sawtooth
BATCH = 64
EPOCHS = 5
LR = 2e-3
PRINT_EVERY = 20
device = "cuda" if torch.cuda.is_available() else "cpu"
torch.manual_seed(SEED)
rng = np.random.default_rng(SEED)


# ---- data: noisy periodic waveforms with random frequency and phase ----
def make_split(n):
    y = rng.integers(0, NUM_CLASSES, size=n)
    t = np.linspace(0, 1, LENGTH, dtype=np.float32)[None, :]           # [1, L]
    freq = rng.uniform(2, 6, size=(n, 1)).astype(np.float32)
    phase = rng.uniform(0, 1, size=(n, 1)).astype(np.float32)
    cyc = freq * t + phase                                              # [N, L]
    sine = np.sin(2 * math.pi * cyc)
    square = np.sign(sine)
    saw = 2 * (cyc - np.floor(cyc)) - 1
    x = np.choose(y[:, None], [sine, square, saw]).astype(np.float32)
    x += rng.normal(0, 0.5, size=x.shape).astype(np.float32)
    return torch.from_numpy(x).unsqueeze(1), torch.from_numpy(y).long()  # [N, 1, L], [N]


x_train, y_train = make_split(N_TRAIN)
x_val, y_val = make_split(N_VAL)

# ---- model ----
model = nn.Sequential(
    nn.Conv1d(1, 16, 5, padding=2), nn.ReLU(),                          # [B, 16, 64]
    nn.Conv1d(16, 32, 5, padding=2, stride=2), nn.ReLU(),               # [B, 32, 32]
    nn.Conv1d(32, 32, 5, padding=2, stride=2), nn.ReLU(),               # [B, 32, 16]
    nn.AdaptiveAvgPool1d(1), nn.Flatten(),                              # [B, 32]
    nn.Linear(32, NUM_CLASSES),
).to(device)
optimizer = torch.optim.Adam(model.parameters(), lr=LR)

# ---- training with a full per-step metrics history ----
history = {"loss": [], "acc": []}
steps_per_epoch = math.ceil(N_TRAIN / BATCH)
total_steps = EPOCHS * steps_per_epoch
start = time.time()
step = 0
for epoch in range(EPOCHS):
    model.train()
    perm = torch.randperm(N_TRAIN)
    for i in range(0, N_TRAIN, BATCH):
        idx = perm[i:i + BATCH]
        xb, yb = x_train[idx].to(device), y_train[idx].to(device)
        logits = model(xb)                                              # [B, C]
        loss = F.cross_entropy(logits, yb)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()

        # python floats only: the history never holds on to the graph
        history["loss"].append(loss.item())
        history["acc"].append((logits.argmax(1) == yb).float().mean().item())
        step += 1
        if step % PRINT_EVERY == 0 or step == total_steps:
            recent = history["loss"][-PRINT_EVERY:]
            rate = step / (time.time() - start)
            print(f"[{step:4d}/{total_steps}] {100 * step / total_steps:5.1f}% "
                  f"loss {sum(recent) / len(recent):.4f} acc {history['acc'][-1]:.3f} "
                  f"({rate:.0f} it/s)")

    # ---- evaluation ----
    model.eval()
    with torch.no_grad():
        logits = model(x_val.to(device))
        val_loss = F.cross_entropy(logits, y_val.to(device)).item()
        val_acc = (logits.argmax(1).cpu() == y_val).float().mean().item()
    print(f"epoch {epoch} val_loss {val_loss:.4f} val_acc {val_acc:.3f}")

print(f"first-epoch mean loss {np.mean(history['loss'][:steps_per_epoch]):.4f}, "
      f"last-epoch mean loss {np.mean(history['loss'][-steps_per_epoch:]):.4f}")
