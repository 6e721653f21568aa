# doctor corpus: LSTM language model on one long synthetic Markov stream with truncated BPTT (hidden detached per chunk), argparse with a required --epochs
# modelled on: pytorch/examples word_language_model (batchify, get_batch, repackage_hidden, clip_grad_norm_)
# expect: none
# args: --epochs 2 --bptt 20
import argparse
import math

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

# ---- config ----
parser = argparse.ArgumentParser(description="LSTM LM with truncated BPTT on a synthetic stream")
parser.add_argument("--epochs", type=int, required=True, help="number of passes over the stream")
parser.add_argument("--bptt", type=int, default=35, help="truncated BPTT length")
parser.add_argument("--batch-size", type=int, default=16)
parser.add_argument("--lr", type=float, default=3e-3)
parser.add_argument("--clip", type=float, default=0.25)
parser.add_argument("--seed", type=int, default=13)
args = parser.parse_args()
VOCAB, EMB, HIDDEN = 24, 32, 64
N_TRAIN_TOKENS, N_VAL_TOKENS = 40000, 4000
device = "cuda" if torch.cuda.is_available() else "cpu"
torch.manual_seed(args.seed)
rng = np.random.default_rng(args.seed)

# ---- data: a sparse first-order Markov chain, so the entropy is far below log(VOCAB) ----
transition = rng.dirichlet(np.full(VOCAB, 0.08), size=VOCAB)                 # [V, V]


def generate(n):
    out = np.empty(n, dtype=np.int64)
    out[0] = rng.integers(VOCAB)
    u = rng.random(n)
    cdf = transition.cumsum(1)
    for i in range(1, n):
        out[i] = min(np.searchsorted(cdf[out[i - 1]], u[i]), VOCAB - 1)
    return torch.from_numpy(out)


def batchify(data, bsz):
    n = data.size(0) // bsz
    return data[:n * bsz].view(bsz, n).t().contiguous().to(device)           # [T, B]


def get_batch(source, i):
    seq_len = min(args.bptt, len(source) - 1 - i)
    return source[i:i + seq_len], source[i + 1:i + 1 + seq_len]              # [S, B], [S, B]


train_data = batchify(generate(N_TRAIN_TOKENS), args.batch_size)
val_data = batchify(generate(N_VAL_TOKENS), 8)


# ---- model ----
class LSTMLM(nn.Module):
    def __init__(self):
        super().__init__()
        self.emb = nn.Embedding(VOCAB, EMB)
        self.rnn = nn.LSTM(EMB, HIDDEN)                                      # seq-first
        self.decoder = nn.Linear(HIDDEN, VOCAB)

    def forward(self, x, hidden):                                            # x: [S, B]
        out, hidden = self.rnn(self.emb(x), hidden)                          # [S, B, H]
        return self.decoder(out), hidden                                     # [S, B, V]

    def init_hidden(self, bsz):
        return (torch.zeros(1, bsz, HIDDEN, device=device), torch.zeros(1, bsz, HIDDEN, device=device))


model = LSTMLM().to(device)
optimizer = torch.optim.Adam(model.parameters(), lr=args.lr)


def evaluate(source):
    model.eval()
    total, count = 0.0, 0
    hidden = model.init_hidden(source.size(1))
    with torch.no_grad():
        for i in range(0, source.size(0) - 1, args.bptt):
            x, y = get_batch(source, i)
            logits, hidden = model(x, hidden)
            total += F.cross_entropy(logits.view(-1, VOCAB), y.reshape(-1), reduction="sum").item()
            count += y.numel()
    model.train()
    return total / count


# ---- training ----
print(f"uniform loss {math.log(VOCAB):.4f}; initial val loss {evaluate(val_data):.4f}")
step = 0
for epoch in range(1, args.epochs + 1):
    model.train()
    hidden = model.init_hidden(args.batch_size)
    for i in range(0, train_data.size(0) - 1, args.bptt):
        x, y = get_batch(train_data, i)
        hidden = tuple(h.detach() for h in hidden)   # keep the state, cut the graph at the chunk boundary
        logits, hidden = model(x, hidden)
        loss = F.cross_entropy(logits.view(-1, VOCAB), y.reshape(-1))
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), args.clip)
        optimizer.step()
        step += 1
        if step == 1 or step % 40 == 0:
            print(f"epoch {epoch} step {step:4d} loss {loss.item():.4f} ppl {math.exp(loss.item()):.2f}")
    val_loss = evaluate(val_data)
    print(f"epoch {epoch} val_loss {val_loss:.4f} val_ppl {math.exp(val_loss):.2f}")
