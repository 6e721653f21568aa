# doctor corpus: minimal GPT-style character LM (hand-written causal self-attention) on a templated synthetic corpus
# modelled on: nanoGPT / minGPT conventions (decay vs no-decay AdamW param groups, grad clipping, manual warmup + cosine LR)
# expect: none
import math
import random
import torch
import torch.nn as nn
import torch.nn.functional as F

# ---------------- config ----------------
SEED = 1337
BLOCK = 32
N_LAYER, N_HEAD, N_EMBD = 2, 4, 48
BATCH = 16
MAX_ITERS = 200
WARMUP = 20
MAX_LR, MIN_LR = 5e-3, 5e-4
WEIGHT_DECAY = 0.1
GRAD_CLIP = 1.0

random.seed(SEED)
torch.manual_seed(SEED)
device = "cuda" if torch.cuda.is_available() else "cpu"

# ---------------- corpus ----------------
subjects = ["the cat", "a dog", "my friend", "the robot", "our teacher", "the old man"]
verbs = ["sees", "likes", "finds", "paints", "follows", "builds"]
objects = ["a red ball", "the blue door", "two small birds", "a green hat", "the tall tree"]
endings = [" today.", " again.", " at night.", "."]
text = "\n".join(f"{random.choice(subjects)} {random.choice(verbs)} {random.choice(objects)}{random.choice(endings)}"
                 for _ in range(4000))
chars = sorted(set(text))
stoi = {c: i for i, c in enumerate(chars)}
data = torch.tensor([stoi[c] for c in text], dtype=torch.long)
split = int(0.9 * len(data))
train_data, val_data = data[:split], data[split:]
VOCAB = len(chars)


def get_batch(src):
    ix = torch.randint(len(src) - BLOCK - 1, (BATCH,))
    x = torch.stack([src[i:i + BLOCK] for i in ix])
    y = torch.stack([src[i + 1:i + BLOCK + 1] for i in ix])
    return x.to(device), y.to(device)                     # (B, T) each


class CausalSelfAttention(nn.Module):
    def __init__(self):
        super().__init__()
        self.qkv = nn.Linear(N_EMBD, 3 * N_EMBD)
        self.proj = nn.Linear(N_EMBD, N_EMBD)
        self.register_buffer("mask", torch.tril(torch.ones(BLOCK, BLOCK)).view(1, 1, BLOCK, BLOCK))

    def forward(self, x):
        B, T, C = x.shape
        q, k, v = self.qkv(x).split(N_EMBD, dim=2)
        q, k, v = (t.view(B, T, N_HEAD, C // N_HEAD).transpose(1, 2) for t in (q, k, v))   # (B, h, T, hs)
        att = (q @ k.transpose(-2, -1)) / math.sqrt(k.shape[-1])                            # (B, h, T, T)
        att = att.masked_fill(self.mask[:, :, :T, :T] == 0, float("-inf"))
        att = F.softmax(att, dim=-1)
        y = (att @ v).transpose(1, 2).contiguous().view(B, T, C)                            # (B, T, C)
        return self.proj(y)


class Block(nn.Module):
    def __init__(self):
        super().__init__()
        self.ln1, self.ln2 = nn.LayerNorm(N_EMBD), nn.LayerNorm(N_EMBD)
        self.attn = CausalSelfAttention()
        self.mlp = nn.Sequential(nn.Linear(N_EMBD, 4 * N_EMBD), nn.GELU(), nn.Linear(4 * N_EMBD, N_EMBD))

    def forward(self, x):
        x = x + self.attn(self.ln1(x))
        return x + self.mlp(self.ln2(x))


class GPT(nn.Module):
    def __init__(self):
        super().__init__()
        self.wte = nn.Embedding(VOCAB, N_EMBD)
        self.wpe = nn.Embedding(BLOCK, N_EMBD)
        self.blocks = nn.Sequential(*[Block() for _ in range(N_LAYER)])
        self.ln_f = nn.LayerNorm(N_EMBD)
        self.head = nn.Linear(N_EMBD, VOCAB, bias=False)

    def forward(self, idx, targets=None):
        pos = torch.arange(idx.shape[1], device=idx.device)
        x = self.blocks(self.wte(idx) + self.wpe(pos))
        logits = self.head(self.ln_f(x))                  # (B, T, VOCAB)
        loss = None if targets is None else F.cross_entropy(logits.view(-1, VOCAB), targets.view(-1))
        return logits, loss


model = GPT().to(device)
decay = [p for n, p in model.named_parameters() if p.dim() >= 2]
no_decay = [p for n, p in model.named_parameters() if p.dim() < 2]
optimizer = torch.optim.AdamW([{"params": decay, "weight_decay": WEIGHT_DECAY},
                               {"params": no_decay, "weight_decay": 0.0}], lr=MAX_LR, betas=(0.9, 0.95))


def get_lr(it):
    if it < WARMUP:
        return MAX_LR * (it + 1) / WARMUP
    progress = (it - WARMUP) / (MAX_ITERS - WARMUP)
    return MIN_LR + 0.5 * (MAX_LR - MIN_LR) * (1 + math.cos(math.pi * progress))


@torch.no_grad()
def estimate_val_loss(n=2):
    model.eval()
    out = sum(model(*get_batch(val_data))[1].item() for _ in range(n)) / n
    model.train()
    return out


print(f"vocab {VOCAB}, params {sum(p.numel() for p in model.parameters()) / 1e3:.1f}k, uniform loss {math.log(VOCAB):.3f}")
for it in range(MAX_ITERS):
    lr = get_lr(it)
    for group in optimizer.param_groups:
        group["lr"] = lr
    xb, yb = get_batch(train_data)
    _, loss = model(xb, yb)
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    torch.nn.utils.clip_grad_norm_(model.parameters(), GRAD_CLIP)
    optimizer.step()
    if it % 40 == 0 or it == MAX_ITERS - 1:
        print(f"iter {it:4d} lr {lr:.2e} train loss {loss.item():.4f} val loss {estimate_val_loss():.4f}")

model.eval()
idx = torch.tensor([[stoi["t"]]], device=device)
with torch.no_grad():
    for _ in range(40):
        logits, _ = model(idx[:, -BLOCK:])
        idx = torch.cat([idx, torch.multinomial(F.softmax(logits[:, -1], dim=-1), 1)], dim=1)
print("sample:", "".join(chars[i] for i in idx[0].tolist()).replace("\n", " | "))
