# doctor corpus: a small CNN classifying synthetic 1x16x16 stroke images (horizontal / vertical / diagonal / anti-diagonal)
# modelled on: Stack Overflow / PyTorch forums "loss oscillates and accuracy stays low" where optimizer.zero_grad() sits outside the training loop, so gradients accumulate across steps (https://stackoverflow.com/questions/48001598/why-do-we-need-to-call-zero-grad-in-pytorch)
# expect: stale-gradient
import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

# ---------------- config ----------------
SEED = 0
IMG = 16
N_CLASSES = 4
N_TRAIN, N_VAL = 2560, 640
BATCH_SIZE = 64
EPOCHS = 6
LR = 0.02
MOMENTUM = 0.9
device = "cuda" if torch.cuda.is_available() else "cpu"

torch.manual_seed(SEED)
rng = np.random.default_rng(SEED)


# ---------------- data ----------------
def make_images(n):
    """Each image holds one short stroke whose orientation is the class, at a random place, plus noise."""
    imgs = 0.3 * rng.standard_normal((n, 1, IMG, IMG)).astype(np.float32)
    labels = rng.integers(0, N_CLASSES, size=n)
    steps = {0: (0, 1), 1: (1, 0), 2: (1, 1), 3: (1, -1)}
    for i, c in enumerate(labels):
        dr, dc = steps[int(c)]
        r, col = rng.integers(4, IMG - 4), rng.integers(4, IMG - 4)
        for k in range(-3, 4):
            imgs[i, 0, r + k * dr, col + k * dc] += 1.0
    return torch.from_numpy(imgs), torch.as_tensor(labels)


x_tr, y_tr = make_images(N_TRAIN)      # (N, 1, 16, 16), (N,)
x_va, y_va = make_images(N_VAL)
x_tr, y_tr, x_va, y_va = x_tr.to(device), y_tr.to(device), x_va.to(device), y_va.to(device)


# ---------------- model ----------------
class StrokeNet(nn.Module):
    def __init__(self, n_classes):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 16, 3, padding=1)    # (B, 16, 16, 16)
        self.conv2 = nn.Conv2d(16, 32, 3, padding=1)   # (B, 32, 8, 8)
        self.fc = nn.Linear(32, n_classes)

    def forward(self, x):                              # x: (B, 1, 16, 16)
        x = F.max_pool2d(F.relu(self.conv1(x)), 2)     # (B, 16, 8, 8)
        x = F.relu(self.conv2(x))                      # (B, 32, 8, 8)
        x = F.adaptive_max_pool2d(x, 1).flatten(1)     # (B, 32)
        return self.fc(x)                              # (B, K)


model = StrokeNet(N_CLASSES).to(device)
optimizer = torch.optim.SGD(model.parameters(), lr=LR, momentum=MOMENTUM)
criterion = nn.CrossEntropyLoss()

# ---------------- training ----------------
step = 0
optimizer.zero_grad()
for epoch in range(EPOCHS):
    model.train()
    perm = torch.randperm(N_TRAIN, device=device)
    correct, seen = 0, 0
    for start in range(0, N_TRAIN, BATCH_SIZE):
        idx = perm[start:start + BATCH_SIZE]
        logits = model(x_tr[idx])                      # (B, K)
        loss = criterion(logits, y_tr[idx])
        loss.backward()
        optimizer.step()

        correct += (logits.argmax(1) == y_tr[idx]).sum().item()
        seen += idx.numel()
        step += 1
        if step % 40 == 0:
            print(f"step {step:4d}  loss {loss.item():.4f}")
    print(f"epoch {epoch + 1}  train acc {correct / seen:.3f}")

# ---------------- evaluation ----------------
model.eval()
with torch.no_grad():
    logits = model(x_va)
    val_loss = criterion(logits, y_va).item()
    val_acc = (logits.argmax(1) == y_va).float().mean().item()
print(f"val loss {val_loss:.4f} (chance {np.log(N_CLASSES):.4f})  val acc {val_acc:.3f}")
