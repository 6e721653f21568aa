# doctor corpus: small BERT-style encoder (learned positions, masked mean pooling) for synthetic review sentiment, SGD + gradient accumulation
# modelled on: Hugging Face forum / transformers issues on gradient accumulation ("divide the loss by gradient_accumulation_steps before backward")
# expect: accumulation-not-averaged
import math
import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

# ---------------- config ----------------
SEED = 13
VOCAB = 80              # 0 = [PAD], 1 = [CLS], 2..13 positive words, 14..25 negative words, rest neutral
PAD, CLS = 0, 1
POS_WORDS, NEG_WORDS = range(2, 14), range(14, 26)
MAX_LEN = 16
D_MODEL, N_HEADS, N_LAYERS = 32, 4, 2
MICRO_BATCH = 16
ACCUM_STEPS = 4         # effective batch 64
OPT_STEPS = 130
LR = 0.1

torch.manual_seed(SEED)
rng = np.random.default_rng(SEED)
device = "cuda" if torch.cuda.is_available() else "cpu"


def make_reviews(n):
    """Label = 1 if the review has more positive than negative words (ties broken towards positive)."""
    ids = np.full((n, MAX_LEN), PAD, dtype=np.int64)
    labels = np.zeros(n, dtype=np.int64)
    for k in range(n):
        length = rng.integers(6, MAX_LEN)
        toks = rng.integers(26, VOCAB, size=length - 1)
        n_sent = rng.integers(1, 5)
        pos = rng.choice(length - 1, size=n_sent, replace=False)
        score = 0
        for p in pos:
            positive = rng.random() < 0.5
            toks[p] = rng.choice(POS_WORDS if positive else NEG_WORDS)
            score += 1 if positive else -1
        if score == 0:
            toks[pos[0]] = rng.choice(POS_WORDS)
            score = 1
        ids[k, 0] = CLS
        ids[k, 1:length] = toks
        labels[k] = int(score > 0)
    return torch.from_numpy(ids), torch.from_numpy(labels)


train_x, train_y = make_reviews(8000)
val_x, val_y = make_reviews(1000)


class EncoderClassifier(nn.Module):
    def __init__(self):
        super().__init__()
        self.tok = nn.Embedding(VOCAB, D_MODEL, padding_idx=PAD)
        self.pos = nn.Parameter(torch.randn(MAX_LEN, D_MODEL) * 0.02)
        layer = nn.TransformerEncoderLayer(D_MODEL, N_HEADS, dim_feedforward=2 * D_MODEL, dropout=0.1,
                                           batch_first=True, norm_first=True)
        self.encoder = nn.TransformerEncoder(layer, N_LAYERS, enable_nested_tensor=False)
        self.norm = nn.LayerNorm(D_MODEL)
        self.cls_head = nn.Linear(D_MODEL, 2)

    def forward(self, ids):                               # ids: (B, L)
        h = self.tok(ids) + self.pos[: ids.shape[1]]      # (B, L, D)
        h = self.encoder(h, src_key_padding_mask=ids.eq(PAD))
        keep = ids.ne(PAD).unsqueeze(-1).float()          # (B, L, 1)
        pooled = (h * keep).sum(1) / keep.sum(1)          # (B, D) masked mean over tokens
        return self.cls_head(self.norm(pooled))           # (B, 2)


model = EncoderClassifier().to(device)
opt = torch.optim.SGD(model.parameters(), lr=LR, momentum=0.9)


def evaluate():
    model.eval()
    with torch.no_grad():
        logits = model(val_x.to(device))
        return F.cross_entropy(logits, val_y.to(device)).item(), (logits.argmax(1).cpu() == val_y).float().mean().item()


print(f"before training: val loss {evaluate()[0]:.4f}")
perm = torch.randperm(len(train_x))
cursor = 0
for step in range(1, OPT_STEPS + 1):
    model.train()
    opt.zero_grad()
    running = 0.0
    for _ in range(ACCUM_STEPS):
        if cursor + MICRO_BATCH > len(perm):
            perm, cursor = torch.randperm(len(train_x)), 0
        idx = perm[cursor:cursor + MICRO_BATCH]
        cursor += MICRO_BATCH
        x, y = train_x[idx].to(device), train_y[idx].to(device)
        loss = F.cross_entropy(model(x), y)
        loss.backward()
        running += loss.item() / ACCUM_STEPS
    torch.nn.utils.clip_grad_norm_(model.parameters(), 5.0)
    opt.step()
    if step % 20 == 0:
        print(f"step {step:4d} train loss {running:.4f}")

val_loss, val_acc = evaluate()
print(f"val loss {val_loss:.4f}  val acc {val_acc:.3f}")
