# doctor corpus: cosine-similarity (normalised-prototype) classifier with a learnable softmax temperature on synthetic 10-class feature vectors
# modelled on: PyTorch forums thread "Difference between torch.Tensor.requires_grad and torch.nn.parameter.Parameter" (a learnable scalar made with torch.tensor(..., requires_grad=True) inside a Module is not registered, so model.parameters() and the optimizer miss it), https://discuss.pytorch.org/t/difference-between-torch-tensor-requires-grad-and-torch-nn-parameter-parameter/190293
# expect: param-not-in-optimizer
import math

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

# ---------------- config ----------------
SEED = 6
N_CLASSES = 10
D_IN = 32
FEAT = 64
N_TRAIN = 10000
N_TEST = 2000
BATCH = 128
EPOCHS = 4               # ~79 steps per epoch
LR = 3e-3
INIT_TEMPERATURE = 1.0
LOG_EVERY = 40

np.random.seed(SEED)
torch.manual_seed(SEED)
device = "cuda" if torch.cuda.is_available() else "cpu"

# ---------------- synthetic data: noisy class clusters through a random nonlinearity ----------------
centers = torch.randn(N_CLASSES, D_IN) * 1.5
warp = torch.randn(D_IN, D_IN) / D_IN ** 0.5


def make_split(n):
    y = torch.randint(0, N_CLASSES, (n,))
    z = centers[y] + torch.randn(n, D_IN)
    x = z + 0.5 * torch.sin(z @ warp)            # (N, D_IN)
    return x, y


x_train, y_train = make_split(N_TRAIN)
x_test, y_test = make_split(N_TEST)


# ---------------- model ----------------
class CosineClassifier(nn.Module):
    def __init__(self):
        super().__init__()
        self.encoder = nn.Sequential(nn.Linear(D_IN, 128), nn.ReLU(), nn.Linear(128, FEAT))
        self.prototypes = nn.Parameter(torch.randn(N_CLASSES, FEAT) * 0.1)
        self.temperature = torch.tensor(INIT_TEMPERATURE, requires_grad=True)

    def forward(self, x):                                   # (B, D_IN)
        f = F.normalize(self.encoder(x), dim=-1)            # (B, FEAT)
        w = F.normalize(self.prototypes, dim=-1)            # (K, FEAT)
        cos = f @ w.t()                                     # (B, K) in [-1, 1]
        return cos / self.temperature                       # (B, K)


model = CosineClassifier().to(device)
optimizer = torch.optim.Adam(model.parameters(), lr=LR)
n_params = sum(p.numel() for p in model.parameters())
print(f"trainable parameters: {n_params} | chance loss ln({N_CLASSES}) = {math.log(N_CLASSES):.3f}")

# ---------------- training ----------------
step = 0
for epoch in range(EPOCHS):
    model.train()
    perm = torch.randperm(N_TRAIN)
    for i in range(0, N_TRAIN, BATCH):
        idx = perm[i:i + BATCH]
        xb, yb = x_train[idx].to(device), y_train[idx].to(device)
        logits = model(xb)                                  # (B, K)
        loss = F.cross_entropy(logits, yb)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        step += 1
        if step % LOG_EVERY == 0:
            print(f"epoch {epoch} step {step:4d} | loss {loss.item():.4f} | temperature {model.temperature.item():.3f}")

# ---------------- evaluation ----------------
model.eval()
with torch.no_grad():
    logits = model(x_test.to(device))
    test_loss = F.cross_entropy(logits, y_test.to(device)).item()
    test_acc = (logits.argmax(-1).cpu() == y_test).float().mean().item()
print(f"test loss {test_loss:.4f} | test acc {test_acc:.3f} | final temperature {model.temperature.item():.3f}")
