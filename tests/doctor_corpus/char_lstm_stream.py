# doctor corpus: a character-level LSTM language model trained with truncated BPTT over one long text stream
# modelled on: PyTorch forums "Trying to backward through the graph a second time" with a stateful LSTM, "fixed" with retain_graph=True, then memory/time per step keep growing; loop styled after pytorch/examples word_language_model (https://github.com/pytorch/examples/tree/main/word_language_model)
# expect: leaked-graph
import math
import time

import numpy as np
import torch
import torch.nn as nn

# ---------------- config ----------------
SEED = 3
N_WORDS = 1100            # words in the synthetic corpus
BATCH_SIZE = 16           # parallel streams
BPTT = 20                 # chunk length
EMB, HIDDEN = 32, 96
LR = 2.0                  # plain SGD, as in the word_language_model example
CLIP = 0.25
EPOCHS = 8
LOG_EVERY = 5
device = "cuda" if torch.cuda.is_available() else "cpu"

torch.manual_seed(SEED)
rng = np.random.default_rng(SEED)

# ---------------- data ----------------
lexicon = ["sensor", "reading", "stable", "alarm", "valve", "open", "closed", "pressure", "rising",
           "falling", "pump", "motor", "check", "normal", "fault", "reset", "level", "high", "low", "ok"]
text = " ".join(lexicon[i] for i in rng.integers(0, len(lexicon), size=N_WORDS))
chars = sorted(set(text))
stoi = {c: i for i, c in enumerate(chars)}
stream = torch.tensor([stoi[c] for c in text], dtype=torch.long)

n_cols = stream.numel() // BATCH_SIZE
data = stream[: n_cols * BATCH_SIZE].view(BATCH_SIZE, n_cols).t().contiguous().to(device)  # (S, B)
VOCAB = len(chars)
print(f"{len(text)} chars, vocab {VOCAB}, {n_cols // BPTT} chunks per epoch")


def get_chunk(source, i):
    seq_len = min(BPTT, source.size(0) - 1 - i)
    return source[i:i + seq_len], source[i + 1:i + 1 + seq_len]   # (T, B), (T, B)


# ---------------- model ----------------
class CharLM(nn.Module):
    def __init__(self, vocab, emb, hidden):
        super().__init__()
        self.hidden_size = hidden
        self.embed = nn.Embedding(vocab, emb)
        self.rnn = nn.LSTM(emb, hidden)
        self.decoder = nn.Linear(hidden, vocab)

    def init_hidden(self, bsz):
        z = torch.zeros(1, bsz, self.hidden_size, device=device)
        return (z, z.clone())

    def forward(self, x, hidden):                 # x: (T, B)
        out, hidden = self.rnn(self.embed(x), hidden)   # (T, B, H)
        return self.decoder(out), hidden          # (T, B, V)


model = CharLM(VOCAB, EMB, HIDDEN).to(device)
criterion = nn.CrossEntropyLoss()

# ---------------- training ----------------
t0 = time.time()
for epoch in range(EPOCHS):
    model.train()
    hidden = model.init_hidden(BATCH_SIZE)
    total, count = 0.0, 0
    for batch, i in enumerate(range(0, data.size(0) - 1, BPTT)):
        x, y = get_chunk(data, i)
        model.zero_grad()
        logits, hidden = model(x, hidden)
        loss = criterion(logits.view(-1, VOCAB), y.reshape(-1))
        loss.backward(retain_graph=True)

        torch.nn.utils.clip_grad_norm_(model.parameters(), CLIP)
        for p in model.parameters():
            p.data.add_(p.grad, alpha=-LR)

        total += loss.item()
        count += 1
        if batch % LOG_EVERY == 0 and batch > 0:
            print(f"epoch {epoch + 1} batch {batch:3d}  loss {total / count:.3f}  "
                  f"ppl {math.exp(total / count):6.2f}  {time.time() - t0:.1f}s")
            total, count = 0.0, 0

# ---------------- evaluation ----------------
model.eval()
with torch.no_grad():
    hidden = model.init_hidden(BATCH_SIZE)
    val_loss, n = 0.0, 0
    for i in range(0, data.size(0) - 1, BPTT):
        x, y = get_chunk(data, i)
        logits, hidden = model(x, hidden)
        val_loss += criterion(logits.view(-1, VOCAB), y.reshape(-1)).item() * x.size(0)
        n += x.size(0)
print(f"final loss {val_loss / n:.3f} (uniform {math.log(VOCAB):.3f})")
