# doctor corpus: a bag-of-embeddings topic classifier over synthetic token documents, with epoch-level macro-F1
# modelled on: PyTorch forums threads "memory leak when storing outputs to compute epoch metrics" -- predictions appended to a list without .detach() (https://discuss.pytorch.org/)
# expect: leaked-graph
import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

# ---------------- config ----------------
SEED = 11
VOCAB = 600
N_CLASSES = 4
DOC_LEN = 24
TOPIC_WORDS = 12          # topic-specific tokens per class
TOPIC_RATE = 0.25         # fraction of a document drawn from its topic words
N_TRAIN, N_VAL = 3200, 800
BATCH_SIZE = 64
EPOCHS = 6
LR = 2e-3
EMB_DIM = 48
device = "cuda" if torch.cuda.is_available() else "cpu"

torch.manual_seed(SEED)
rng = np.random.default_rng(SEED)

# ---------------- data ----------------
topic_vocab = rng.choice(np.arange(1, VOCAB), size=(N_CLASSES, TOPIC_WORDS), replace=False)


def make_docs(n):
    labels = rng.integers(0, N_CLASSES, size=n)
    docs = rng.integers(1, VOCAB, size=(n, DOC_LEN))                 # background tokens
    use_topic = rng.random((n, DOC_LEN)) < TOPIC_RATE
    topic_tok = topic_vocab[labels[:, None], rng.integers(0, TOPIC_WORDS, size=(n, DOC_LEN))]
    docs = np.where(use_topic, topic_tok, docs)
    return torch.as_tensor(docs, dtype=torch.long), torch.as_tensor(labels, dtype=torch.long)


x_tr, y_tr = make_docs(N_TRAIN)      # (N, L), (N,)
x_va, y_va = make_docs(N_VAL)
x_tr, y_tr, x_va, y_va = x_tr.to(device), y_tr.to(device), x_va.to(device), y_va.to(device)


# ---------------- model ----------------
class BagClassifier(nn.Module):
    def __init__(self, vocab, dim, n_classes):
        super().__init__()
        self.embed = nn.EmbeddingBag(vocab, dim, mode="mean")
        self.mlp = nn.Sequential(nn.Linear(dim, dim), nn.GELU(), nn.Dropout(0.1), nn.Linear(dim, n_classes))

    def forward(self, tokens):          # tokens: (B, L)
        doc = self.embed(tokens)        # (B, D)
        return self.mlp(doc)            # (B, K)


def macro_f1(pred, target, k):
    f1s = []
    for c in range(k):
        tp = ((pred == c) & (target == c)).sum().item()
        fp = ((pred == c) & (target != c)).sum().item()
        fn = ((pred != c) & (target == c)).sum().item()
        f1s.append(2 * tp / max(2 * tp + fp + fn, 1))
    return sum(f1s) / k


model = BagClassifier(VOCAB, EMB_DIM, N_CLASSES).to(device)
optimizer = torch.optim.AdamW(model.parameters(), lr=LR, weight_decay=1e-2)

# ---------------- training ----------------
for epoch in range(EPOCHS):
    model.train()
    perm = torch.randperm(N_TRAIN, device=device)
    epoch_logits, epoch_labels, losses = [], [], []
    for step, start in enumerate(range(0, N_TRAIN, BATCH_SIZE)):
        idx = perm[start:start + BATCH_SIZE]
        logits = model(x_tr[idx])                  # (B, K)
        loss = F.cross_entropy(logits, y_tr[idx])

        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()

        epoch_logits.append(logits)
        epoch_labels.append(y_tr[idx])
        losses.append(loss.item())
        if step % 25 == 0:
            print(f"epoch {epoch + 1} step {step:3d}  loss {loss.item():.4f}")

    all_logits = torch.cat(epoch_logits)           # (N, K)
    all_labels = torch.cat(epoch_labels)           # (N,)
    train_f1 = macro_f1(all_logits.argmax(1), all_labels, N_CLASSES)
    print(f"epoch {epoch + 1}  mean loss {np.mean(losses):.4f}  train macro-F1 {train_f1:.3f}")

# ---------------- evaluation ----------------
model.eval()
with torch.no_grad():
    val_logits = model(x_va)
    val_loss = F.cross_entropy(val_logits, y_va).item()
    val_f1 = macro_f1(val_logits.argmax(1), y_va, N_CLASSES)
print(f"val loss {val_loss:.4f} (chance {np.log(N_CLASSES):.4f})  val macro-F1 {val_f1:.3f}")
