# doctor corpus: bag-of-words intent classifier (EmbeddingBag + MLP) trained with gradient accumulation
# modelled on: PyTorch forums thread "Pytorch gradient accumulation" (why each micro-batch loss must be divided by accumulation_steps; summed losses give an 8x larger step), https://discuss.pytorch.org/t/pytorch-gradient-accumulation/55955
# expect: accumulation-not-averaged, non-finite
import math
import random

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

# ---------------- config ----------------
SEED = 0
VOCAB = 400
N_INTENTS = 8
KEYWORDS_PER_INTENT = 12
SEQ_LEN = 14
N_TRAIN = 4096
N_VAL = 512
EMB_DIM = 64
HIDDEN = 128
MICRO_BATCH = 16
ACCUM_STEPS = 8          # effective batch = 128
OPT_STEPS = 200
LR = 0.8
MOMENTUM = 0.9
LOG_EVERY = 20

random.seed(SEED)
np.random.seed(SEED)
torch.manual_seed(SEED)
device = "cuda" if torch.cuda.is_available() else "cpu"

# ---------------- synthetic utterances ----------------
# each intent owns a block of keyword ids; the rest of the vocab is filler words
keyword_table = np.arange(N_INTENTS * KEYWORDS_PER_INTENT).reshape(N_INTENTS, KEYWORDS_PER_INTENT) + 1
filler_ids = np.arange(N_INTENTS * KEYWORDS_PER_INTENT + 1, VOCAB)


def make_split(n):
    labels = np.random.randint(0, N_INTENTS, size=n)
    tokens = np.random.choice(filler_ids, size=(n, SEQ_LEN))
    n_kw = np.random.randint(2, 5, size=n)
    for i in range(n):
        pos = np.random.choice(SEQ_LEN, size=n_kw[i], replace=False)
        tokens[i, pos] = np.random.choice(keyword_table[labels[i]], size=n_kw[i])
    return torch.from_numpy(tokens).long(), torch.from_numpy(labels).long()


x_train, y_train = make_split(N_TRAIN)   # (N, T), (N,)
x_val, y_val = make_split(N_VAL)


# ---------------- model ----------------
class IntentClassifier(nn.Module):
    def __init__(self):
        super().__init__()
        self.embed = nn.EmbeddingBag(VOCAB, EMB_DIM, mode="mean")
        self.mlp = nn.Sequential(
            nn.Linear(EMB_DIM, HIDDEN),
            nn.ReLU(),
            nn.Linear(HIDDEN, N_INTENTS),
        )

    def forward(self, tokens):           # (B, T)
        pooled = self.embed(tokens)      # (B, E)
        return self.mlp(pooled)          # (B, K)


model = IntentClassifier().to(device)
optimizer = torch.optim.SGD(model.parameters(), lr=LR, momentum=MOMENTUM)
criterion = nn.CrossEntropyLoss()


def micro_batches():
    while True:
        perm = torch.randperm(N_TRAIN)
        for i in range(0, N_TRAIN - MICRO_BATCH + 1, MICRO_BATCH):
            idx = perm[i:i + MICRO_BATCH]
            yield x_train[idx].to(device), y_train[idx].to(device)


# ---------------- training ----------------
print(f"chance loss ln({N_INTENTS}) = {math.log(N_INTENTS):.3f}")
stream = micro_batches()
model.train()
running = 0.0
for step in range(1, OPT_STEPS + 1):
    optimizer.zero_grad()
    step_loss = 0.0
    for _ in range(ACCUM_STEPS):
        tokens, labels = next(stream)
        logits = model(tokens)           # (B, K)
        loss = criterion(logits, labels)
        loss.backward()
        step_loss += loss.item() / ACCUM_STEPS
    optimizer.step()
    running += step_loss
    if step % LOG_EVERY == 0:
        print(f"step {step:4d} | train loss {running / LOG_EVERY:.4f}")
        running = 0.0

# ---------------- evaluation ----------------
model.eval()
with torch.no_grad():
    logits = model(x_val.to(device))
    val_loss = F.cross_entropy(logits, y_val.to(device)).item()
    val_acc = (logits.argmax(-1).cpu() == y_val).float().mean().item()
print(f"val loss {val_loss:.4f} | val acc {val_acc:.3f}")
