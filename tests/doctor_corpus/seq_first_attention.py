# doctor corpus: single-layer self-attention encoder (nn.MultiheadAttention, sequence-first) classifying token sequences by topic
# modelled on: PyTorch forums thread "Different between permute, transpose, view? Which should I use?" (reshaping (B, T, E) to the (T, B, E) layout with view instead of transpose silently mixes samples), https://discuss.pytorch.org/t/different-between-permute-transpose-view-which-should-i-use/32916
# expect: loss-at-chance
import math

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

# ---------------- config ----------------
SEED = 11
VOCAB = 64
N_TOPICS = 4
TOPIC_WORDS = 8          # words strongly tied to each topic
TOPIC_RATE = 0.3         # fraction of tokens drawn from the topic's words
SEQ_LEN = 20
EMB = 32
HEADS = 4
BATCH = 32
STEPS = 300
LR = 2e-3
LOG_EVERY = 30

np.random.seed(SEED)
torch.manual_seed(SEED)
device = "cuda" if torch.cuda.is_available() else "cpu"

# ---------------- synthetic documents ----------------
topic_words = torch.arange(N_TOPICS * TOPIC_WORDS).view(N_TOPICS, TOPIC_WORDS)


def sample_batch(n):
    y = torch.randint(0, N_TOPICS, (n,))                                   # (B,)
    tokens = torch.randint(N_TOPICS * TOPIC_WORDS, VOCAB, (n, SEQ_LEN))    # (B, T) background words
    use_topic = torch.rand(n, SEQ_LEN) < TOPIC_RATE
    topical = topic_words[y][torch.arange(n)[:, None], torch.randint(0, TOPIC_WORDS, (n, SEQ_LEN))]
    tokens = torch.where(use_topic, topical, tokens)
    return tokens, y


# ---------------- model ----------------
class AttentionClassifier(nn.Module):
    def __init__(self):
        super().__init__()
        self.tok = nn.Embedding(VOCAB, EMB)
        self.pos = nn.Parameter(torch.randn(SEQ_LEN, EMB) * 0.02)
        self.attn = nn.MultiheadAttention(EMB, HEADS)       # expects (T, B, E)
        self.norm1 = nn.LayerNorm(EMB)
        self.ff = nn.Sequential(nn.Linear(EMB, 4 * EMB), nn.GELU(), nn.Linear(4 * EMB, EMB))
        self.norm2 = nn.LayerNorm(EMB)
        self.head = nn.Linear(EMB, N_TOPICS)

    def forward(self, tokens):                     # (B, T)
        B, T = tokens.shape
        x = self.tok(tokens) + self.pos            # (B, T, E)
        x = x.view(T, B, -1)                       # (T, B, E) for nn.MultiheadAttention
        a, _ = self.attn(x, x, x, need_weights=False)
        x = self.norm1(x + a)                      # (T, B, E)
        x = self.norm2(x + self.ff(x))             # (T, B, E)
        pooled = x.mean(dim=0)                     # (B, E)
        return self.head(pooled)                   # (B, K)


model = AttentionClassifier().to(device)
optimizer = torch.optim.AdamW(model.parameters(), lr=LR, weight_decay=0.01)

# ---------------- training ----------------
print(f"chance loss ln({N_TOPICS}) = {math.log(N_TOPICS):.3f}")
model.train()
running = 0.0
for step in range(1, STEPS + 1):
    tokens, y = sample_batch(BATCH)
    tokens, y = tokens.to(device), y.to(device)
    logits = model(tokens)                         # (B, K)
    loss = F.cross_entropy(logits, y)
    optimizer.zero_grad()
    loss.backward()
    torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
    optimizer.step()
    running += loss.item()
    if step % LOG_EVERY == 0:
        print(f"step {step:4d} | train loss {running / LOG_EVERY:.4f}")
        running = 0.0

# ---------------- evaluation ----------------
model.eval()
torch.manual_seed(SEED + 1)
with torch.no_grad():
    tokens, y = sample_batch(1024)
    logits = model(tokens.to(device))
    val_loss = F.cross_entropy(logits, y.to(device)).item()
    val_acc = (logits.argmax(-1).cpu() == y).float().mean().item()
print(f"held-out loss {val_loss:.4f} | acc {val_acc:.3f}")
