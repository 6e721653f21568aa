# doctor corpus: EmbeddingBag text classifier with gradient accumulation over 4 micro-batches (loss / 4, step + zero_grad every 4th)
# modelled on: PyTorch text-classification tutorial (EmbeddingBag) + the usual gradient-accumulation recipe
# expect: none
import torch
import torch.nn as nn
import torch.nn.functional as F

# ---- config ----
SEED = 2
VOCAB, NUM_CLASSES = 500, 4
SEQ_MIN, SEQ_MAX = 8, 24
N_TRAIN, N_VAL = 4096, 512
MICRO_BATCH = 16
ACCUM_STEPS = 4            # effective batch = 64
EPOCHS = 4
LR = 5.0             # the tutorial uses plain SGD with lr=5
device = "cuda" if torch.cuda.is_available() else "cpu"
torch.manual_seed(SEED)

# ---- data: each class prefers its own slice of the vocabulary ----
g = torch.Generator().manual_seed(SEED)
class_slices = torch.arange(VOCAB).chunk(NUM_CLASSES)


def make_doc(label):
    n = int(torch.randint(SEQ_MIN, SEQ_MAX + 1, (1,), generator=g))
    n_topic = n // 3
    topic = class_slices[label][torch.randint(0, len(class_slices[label]), (n_topic,), generator=g)]
    noise = torch.randint(0, VOCAB, (n - n_topic,), generator=g)
    return torch.cat([topic, noise])


def make_split(n):
    labels = torch.randint(0, NUM_CLASSES, (n,), generator=g)
    return [make_doc(int(l)) for l in labels], labels


train_docs, train_y = make_split(N_TRAIN)
val_docs, val_y = make_split(N_VAL)


def collate(docs):
    offsets = torch.tensor([0] + [len(d) for d in docs[:-1]]).cumsum(0)  # [B]
    return torch.cat(docs), offsets                                        # [sum(len)], [B]


# ---- model ----
class TextClassifier(nn.Module):
    def __init__(self, vocab, dim, classes):
        super().__init__()
        self.embedding = nn.EmbeddingBag(vocab, dim, mode="mean")
        self.fc = nn.Linear(dim, classes)

    def forward(self, tokens, offsets):
        return self.fc(self.embedding(tokens, offsets))                    # [B, C]


model = TextClassifier(VOCAB, 32, NUM_CLASSES).to(device)
optimizer = torch.optim.SGD(model.parameters(), lr=LR)

# ---- training ----
opt_step = 0
for epoch in range(EPOCHS):
    model.train()
    perm = torch.randperm(N_TRAIN)
    optimizer.zero_grad(set_to_none=True)
    running = torch.zeros((), device=device)
    for micro, i in enumerate(range(0, N_TRAIN, MICRO_BATCH)):
        idx = perm[i:i + MICRO_BATCH].tolist()
        tokens, offsets = collate([train_docs[j] for j in idx])
        yb = train_y[idx].to(device)
        logits = model(tokens.to(device), offsets.to(device))
        loss = F.cross_entropy(logits, yb) / ACCUM_STEPS   # average over the accumulation window
        loss.backward()                                     # grads add up across micro-batches
        running += loss.detach()                            # stays on device
        if (micro + 1) % ACCUM_STEPS == 0:
            optimizer.step()
            optimizer.zero_grad(set_to_none=True)
            if opt_step % 25 == 0:
                print(f"epoch {epoch} opt_step {opt_step:4d} loss {running.item():.4f}")
            running = torch.zeros((), device=device)
            opt_step += 1

    # ---- evaluation ----
    model.eval()
    with torch.no_grad():
        tokens, offsets = collate(val_docs)
        logits = model(tokens.to(device), offsets.to(device))
        val_loss = F.cross_entropy(logits, val_y.to(device)).item()
        acc = (logits.argmax(1).cpu() == val_y).float().mean().item()
    print(f"epoch {epoch} val_loss {val_loss:.4f} val_acc {acc:.3f}")
