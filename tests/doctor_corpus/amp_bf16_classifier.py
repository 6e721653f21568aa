# doctor corpus: MLP classifier under bf16 autocast with a GradScaler that is disabled off-CUDA and clipping after unscale_
# modelled on: PyTorch "Automatic Mixed Precision examples" (autocast + GradScaler + unscale_ before clip)
# expect: none
import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

# ---- config ----
SEED = 1
N_TRAIN, N_VAL = 4096, 1024
IN_DIM, HIDDEN, NUM_CLASSES = 32, 64, 5
BATCH = 128
EPOCHS = 8
LR = 1e-3
MAX_NORM = 1.0
device = "cuda" if torch.cuda.is_available() else "cpu"
torch.manual_seed(SEED)
rng = np.random.default_rng(SEED)

# ---- data: Gaussian clusters around random centers ----
centers = rng.normal(0, 0.4, size=(NUM_CLASSES, IN_DIM)).astype(np.float32)


def make_split(n):
    y = rng.integers(0, NUM_CLASSES, size=n)
    x = centers[y] + rng.normal(0, 1.0, size=(n, IN_DIM)).astype(np.float32)
    return torch.from_numpy(x), torch.from_numpy(y).long()       # [N, D], [N]


x_train, y_train = make_split(N_TRAIN)
x_val, y_val = make_split(N_VAL)

# ---- model ----
model = nn.Sequential(
    nn.Linear(IN_DIM, HIDDEN), nn.GELU(),
    nn.Linear(HIDDEN, HIDDEN), nn.GELU(),
    nn.Linear(HIDDEN, NUM_CLASSES),
).to(device)
optimizer = torch.optim.AdamW(model.parameters(), lr=LR, weight_decay=1e-2)
# bf16 has fp32's exponent range, so loss scaling only matters for fp16 on CUDA
scaler = torch.amp.GradScaler("cuda", enabled=(device == "cuda"))
amp_dtype = torch.bfloat16

# ---- training ----
step = 0
for epoch in range(EPOCHS):
    model.train()
    perm = torch.randperm(N_TRAIN)
    for i in range(0, N_TRAIN, BATCH):
        idx = perm[i:i + BATCH]
        xb, yb = x_train[idx].to(device), y_train[idx].to(device)
        optimizer.zero_grad(set_to_none=True)
        with torch.autocast(device_type=device, dtype=amp_dtype):
            logits = model(xb)                                     # [B, C] bf16
            loss = F.cross_entropy(logits.float(), yb)             # loss in fp32
        scaler.scale(loss).backward()
        scaler.unscale_(optimizer)                                 # no-op when disabled
        torch.nn.utils.clip_grad_norm_(model.parameters(), MAX_NORM)
        scaler.step(optimizer)
        scaler.update()
        if step % 50 == 0:
            print(f"epoch {epoch} step {step:4d} loss {loss.item():.4f}")
        step += 1

    # ---- evaluation ----
    model.eval()
    with torch.no_grad(), torch.autocast(device_type=device, dtype=amp_dtype):
        logits = model(x_val.to(device)).float()
    val_loss = F.cross_entropy(logits, y_val.to(device)).item()
    acc = (logits.argmax(1).cpu() == y_val).float().mean().item()
    print(f"epoch {epoch} val_loss {val_loss:.4f} val_acc {acc:.3f}")
