# doctor corpus: tiny Transformer encoder with linear warmup + cosine decay to exactly 0 via LambdaLR stepped per batch (LR -> 0 at the end is intended)
# modelled on: the warmup+cosine schedule of HF get_cosine_schedule_with_warmup, written as a LambdaLR
# expect: none
import math

import torch
import torch.nn as nn
import torch.nn.functional as F

# ---- config ----
SEED = 5
VOCAB, SEQ_LEN = 12, 16
N_TRAIN, N_VAL = 4096, 1024
D_MODEL, N_HEAD, N_LAYERS = 32, 4, 1
BATCH = 64
EPOCHS = 4
PEAK_LR = 3e-3
WARMUP_FRAC = 0.1
device = "cuda" if torch.cuda.is_available() else "cpu"
torch.manual_seed(SEED)

# ---- data: label = the token that occurs most often (ties -> smallest id) ----
g = torch.Generator().manual_seed(SEED)


def make_split(n):
    base = torch.randint(0, VOCAB, (n, 1), generator=g)
    x = torch.randint(0, VOCAB, (n, SEQ_LEN), generator=g)             # [N, T]
    plant = torch.rand(n, SEQ_LEN, generator=g) < 0.35
    x = torch.where(plant, base.expand(-1, SEQ_LEN), x)
    counts = F.one_hot(x, VOCAB).sum(1)                                  # [N, V]
    return x, counts.argmax(1)                                           # [N, T], [N]


x_train, y_train = make_split(N_TRAIN)
x_val, y_val = make_split(N_VAL)


# ---- model ----
class MajorityTransformer(nn.Module):
    def __init__(self):
        super().__init__()
        self.tok = nn.Embedding(VOCAB, D_MODEL)
        self.pos = nn.Parameter(torch.zeros(1, SEQ_LEN, D_MODEL))
        layer = nn.TransformerEncoderLayer(D_MODEL, N_HEAD, dim_feedforward=64,
                                           dropout=0.0, batch_first=True)
        self.encoder = nn.TransformerEncoder(layer, N_LAYERS, enable_nested_tensor=False)
        self.head = nn.Linear(D_MODEL, VOCAB)

    def forward(self, x):                                                # x: [B, T]
        h = self.encoder(self.tok(x) + self.pos)                         # [B, T, D]
        return self.head(h.mean(1))                                      # [B, V]


model = MajorityTransformer().to(device)
optimizer = torch.optim.AdamW(model.parameters(), lr=PEAK_LR, weight_decay=0.01)
total_steps = EPOCHS * math.ceil(N_TRAIN / BATCH)
warmup_steps = int(WARMUP_FRAC * total_steps)


def lr_lambda(step):
    if step < warmup_steps:
        return (step + 1) / warmup_steps                                 # linear warmup
    progress = (step - warmup_steps) / max(1, total_steps - warmup_steps)
    return 0.5 * (1.0 + math.cos(math.pi * progress))                    # cosine to 0


scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lr_lambda)

# ---- training ----
step = 0
for epoch in range(EPOCHS):
    model.train()
    perm = torch.randperm(N_TRAIN)
    for i in range(0, N_TRAIN, BATCH):
        idx = perm[i:i + BATCH]
        xb, yb = x_train[idx].to(device), y_train[idx].to(device)
        loss = F.cross_entropy(model(xb), yb)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        scheduler.step()                                                 # per batch, not per epoch
        step += 1
        if step == 1 or step % 32 == 0:
            print(f"step {step:4d}/{total_steps} lr {scheduler.get_last_lr()[0]:.2e} loss {loss.item():.4f}")

    # ---- evaluation ----
    model.eval()
    with torch.no_grad():
        logits = model(x_val.to(device))
        val_loss = F.cross_entropy(logits, y_val.to(device)).item()
        acc = (logits.argmax(1).cpu() == y_val).float().mean().item()
    print(f"epoch {epoch} val_loss {val_loss:.4f} val_acc {acc:.3f} (chance {1 / VOCAB:.3f})")
