# doctor corpus: EmbeddingBag topic classifier on synthetic bag-of-words documents; checkpoint mid-run (model+optimizer+scheduler), rebuild, resume
# modelled on: PyTorch tutorial "Saving and loading a general checkpoint for inference and/or resuming training"
# expect: none
import os
import tempfile
import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

# ---------------- config ----------------
SEED = 17
VOCAB, N_TOPICS = 3000, 8
EMB_DIM = 64
N_TRAIN, N_VAL = 6000, 1000
BATCH = 48
TOTAL_STEPS = 360
CHECKPOINT_AT = 180
MAX_LR = 0.01

torch.manual_seed(SEED)
rng = np.random.default_rng(SEED)
device = "cuda" if torch.cuda.is_available() else "cpu"

# ---------------- data: each topic prefers its own slice of the vocabulary ----------------
topic_word = rng.dirichlet(np.full(VOCAB, 0.05), size=N_TOPICS)
background = rng.dirichlet(np.full(VOCAB, 1.0))


def make_docs(n):
    docs, labels = [], []
    for _ in range(n):
        t = rng.integers(N_TOPICS)
        length = rng.integers(15, 60)
        n_topic = rng.binomial(length, 0.35)
        words = np.concatenate([rng.choice(VOCAB, n_topic, p=topic_word[t]),
                                rng.choice(VOCAB, length - n_topic, p=background)])
        docs.append(torch.from_numpy(words))
        labels.append(t)
    return docs, torch.tensor(labels)


train_docs, train_y = make_docs(N_TRAIN)
val_docs, val_y = make_docs(N_VAL)


def to_bag(docs):
    """Flatten a list of 1-D token tensors into (tokens, offsets) for nn.EmbeddingBag."""
    offsets = torch.tensor([0] + [len(d) for d in docs[:-1]]).cumsum(0)
    return torch.cat(docs).to(device), offsets.to(device)


class BagClassifier(nn.Module):
    def __init__(self):
        super().__init__()
        self.bag = nn.EmbeddingBag(VOCAB, EMB_DIM, mode="mean")
        self.fc = nn.Sequential(nn.Linear(EMB_DIM, 64), nn.ReLU(), nn.Linear(64, N_TOPICS))

    def forward(self, tokens, offsets):
        return self.fc(self.bag(tokens, offsets))         # (B, N_TOPICS)


def build():
    model = BagClassifier().to(device)
    opt = torch.optim.AdamW(model.parameters(), lr=MAX_LR, weight_decay=0.01)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=MAX_LR, total_steps=TOTAL_STEPS, pct_start=0.2)
    return model, opt, sched


def evaluate(model):
    model.eval()
    with torch.no_grad():
        logits = model(*to_bag(val_docs))
        return F.cross_entropy(logits, val_y.to(device)).item(), (logits.argmax(1).cpu() == val_y).float().mean().item()


def train_steps(model, opt, sched, start, stop, gen):
    for step in range(start, stop):
        model.train()
        idx = torch.randint(0, N_TRAIN, (BATCH,), generator=gen)
        tokens, offsets = to_bag([train_docs[i] for i in idx])
        loss = F.cross_entropy(model(tokens, offsets), train_y[idx].to(device))
        opt.zero_grad()
        loss.backward()
        opt.step()
        sched.step()
        if (step + 1) % 30 == 0:
            print(f"step {step + 1:4d} loss {loss.item():.4f} lr {sched.get_last_lr()[0]:.5f}")


gen = torch.Generator().manual_seed(SEED)
model, opt, sched = build()
train_steps(model, opt, sched, 0, CHECKPOINT_AT, gen)
print("val before checkpoint: loss %.4f acc %.3f" % evaluate(model))

with tempfile.TemporaryDirectory() as tmp:
    path = os.path.join(tmp, "ckpt.pt")
    torch.save({"step": CHECKPOINT_AT, "model": model.state_dict(), "optimizer": opt.state_dict(),
                "scheduler": sched.state_dict(), "rng": gen.get_state()}, path)
    del model, opt, sched                                 # simulate a restarted job

    model, opt, sched = build()
    ckpt = torch.load(path, map_location=device)
    model.load_state_dict(ckpt["model"])
    opt.load_state_dict(ckpt["optimizer"])
    sched.load_state_dict(ckpt["scheduler"])
    gen.set_state(ckpt["rng"])
    start = ckpt["step"]

print(f"resumed at step {start}, lr {sched.get_last_lr()[0]:.5f}")
print("val after reload:      loss %.4f acc %.3f" % evaluate(model))
train_steps(model, opt, sched, start, TOTAL_STEPS, gen)
print("val at end:            loss %.4f acc %.3f" % evaluate(model))
