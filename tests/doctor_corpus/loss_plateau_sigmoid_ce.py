# doctor corpus: MLP classifying noisy, jittered 8x8 synthetic glyphs into 10 classes, trained with plain SGD
# modelled on: PyTorch forums thread "Is softmax mandatory in a neural network?" (model ends in nn.Softmax and is fed to nn.CrossEntropyLoss, which applies log_softmax again; training crawls near the starting loss), https://discuss.pytorch.org/t/is-softmax-mandatory-in-a-neural-network/149862
# expect: loss-at-chance
import math

import numpy as np
import torch
import torch.nn as nn

# ---------------- config ----------------
SEED = 9
N_CLASSES = 10
SIDE = 8
N_TRAIN = 8000
N_TEST = 2000
BATCH = 64
EPOCHS = 3               # 125 steps per epoch
LR = 0.1
LOG_EVERY = 25

np.random.seed(SEED)
torch.manual_seed(SEED)
device = "cuda" if torch.cuda.is_available() else "cpu"

# ---------------- synthetic glyphs ----------------
templates = (np.random.rand(N_CLASSES, SIDE + 2, SIDE + 2) < 0.35).astype(np.float32)


def make_split(n):
    y = np.random.randint(0, N_CLASSES, size=n)
    dx, dy = np.random.randint(0, 3, size=n), np.random.randint(0, 3, size=n)
    imgs = np.stack([templates[c, r:r + SIDE, s:s + SIDE] for c, r, s in zip(y, dy, dx)])   # (N, 8, 8)
    imgs = imgs * np.random.uniform(0.6, 1.0, size=(n, 1, 1)) + 0.3 * np.random.randn(n, SIDE, SIDE)
    return torch.from_numpy(imgs.astype(np.float32)), torch.from_numpy(y).long()


x_train, y_train = make_split(N_TRAIN)   # (N, 8, 8), (N,)
x_test, y_test = make_split(N_TEST)

# ---------------- model ----------------
model = nn.Sequential(
    nn.Flatten(),                 # (B, 64)
    nn.Linear(SIDE * SIDE, 128),
    nn.ReLU(),
    nn.Linear(128, 64),
    nn.ReLU(),
    nn.Linear(64, N_CLASSES),     # (B, K)
    nn.Softmax(dim=1),            # class probabilities
).to(device)

criterion = nn.CrossEntropyLoss()
optimizer = torch.optim.SGD(model.parameters(), lr=LR)

# ---------------- training ----------------
print(f"chance loss ln({N_CLASSES}) = {math.log(N_CLASSES):.4f}")
step = 0
for epoch in range(EPOCHS):
    model.train()
    perm = torch.randperm(N_TRAIN)
    running, seen = 0.0, 0
    for i in range(0, N_TRAIN, BATCH):
        idx = perm[i:i + BATCH]
        xb, yb = x_train[idx].to(device), y_train[idx].to(device)
        probs = model(xb)                      # (B, K)
        loss = criterion(probs, yb)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        running += loss.item() * len(yb)
        seen += len(yb)
        step += 1
        if step % LOG_EVERY == 0:
            print(f"epoch {epoch} step {step:4d} | loss {loss.item():.4f}")
    print(f"epoch {epoch} | mean train loss {running / seen:.4f}")

# ---------------- evaluation ----------------
model.eval()
with torch.no_grad():
    probs = model(x_test.to(device))
    test_loss = criterion(probs, y_test.to(device)).item()
    test_acc = (probs.argmax(1).cpu() == y_test).float().mean().item()
print(f"test loss {test_loss:.4f} | test acc {test_acc:.3f}")
