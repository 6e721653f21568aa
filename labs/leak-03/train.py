"""Character-level LSTM language model, trained with truncated BPTT over one long synthetic text stream.

Shapes: B streams (batch), S tokens per stream, T tokens per chunk, H hidden size, V vocabulary.
"""
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

# -----------------------------------------------------------------------------
# config
n_words = 32           # lexicon size of the synthetic language
n_letters = 20         # letters the words are spelled with (token 0 is the space)
successors = 2         # words that may follow each word
batch_size = 16        # parallel streams the text is cut into
bptt = 16              # tokens per chunk (truncated BPTT length)
max_steps = 200        # chunks per stream: one pass over the text
val_chunks = 8         # chunks per stream of validation text
embed_dim = 32         # token embedding width
hidden_dim = 64        # LSTM hidden size
learning_rate = 3e-3   # AdamW learning rate
grad_clip = 1.0        # max global gradient norm
log_interval = 20      # steps between progress lines
task_seed = 1234       # fixes the lexicon and the word transitions (the language itself)
seed = 0               # fixes the model init and the text sampled from the language
# -----------------------------------------------------------------------------

torch.manual_seed(seed)
device = "cuda" if torch.cuda.is_available() else "mps" if torch.backends.mps.is_available() else "cpu"
dtype = torch.bfloat16  # autocast dtype of the forward pass; parameters stay float32
ctx = torch.autocast(device_type=device, dtype=dtype)
vocab_size = n_letters + 1


def make_text(n_tokens, sample_seed):
    """A stream of words from a fixed lexicon; each word is followed by one of a few successors."""
    task = torch.Generator().manual_seed(task_seed)
    lengths = torch.randint(2, 7, (n_words,), generator=task).tolist()
    lexicon = [torch.randint(1, vocab_size, (n,), generator=task).tolist() for n in lengths]
    follows = torch.randint(0, n_words, (n_words, successors), generator=task).tolist()
    g = torch.Generator().manual_seed(sample_seed)
    picks = torch.randint(0, successors, (n_tokens // 2 + 1,), generator=g).tolist()
    tokens, word = [], 0
    for pick in picks:
        tokens += lexicon[word] + [0]
        if len(tokens) >= n_tokens:
            break
        word = follows[word][pick]
    return torch.tensor(tokens[:n_tokens])


def make_streams(n_chunks, sample_seed):
    """Cut one text into batch_size contiguous rows: chunk i of every row follows chunk i-1."""
    text = make_text(batch_size * (n_chunks * bptt + 1), sample_seed)
    return text.view(batch_size, -1).to(device)  # (B, S)


def get_chunk(streams, i):
    x = streams[:, i * bptt:(i + 1) * bptt]  # (B, T)
    y = streams[:, i * bptt + 1:(i + 1) * bptt + 1]  # (B, T) next token
    return x, y


train_streams = make_streams(max_steps, sample_seed=seed)
val_streams = make_streams(val_chunks, sample_seed=seed + 1)
assert (train_streams.size(1) - 1) // bptt == max_steps, "the training text must cover max_steps chunks"


class CharLSTM(nn.Module):
    def __init__(self):
        super().__init__()
        self.embed = nn.Embedding(vocab_size, embed_dim)
        self.lstm = nn.LSTM(embed_dim, hidden_dim, batch_first=True)
        self.head = nn.Linear(hidden_dim, vocab_size)

    def forward(self, idx, hidden=None):  # idx: (B, T)
        out, hidden = self.lstm(self.embed(idx), hidden)  # (B, T, H), ((1, B, H), (1, B, H))
        return self.head(out), hidden  # (B, T, V)


model = CharLSTM().to(device)
optimizer = torch.optim.AdamW(model.parameters(), lr=learning_rate)

hidden = None  # carries the state of every row from one chunk to the next
for step in range(max_steps):
    t0 = time.perf_counter()
    x, y = get_chunk(train_streams, step)
    with ctx:
        logits, hidden = model(x, hidden)  # (B, T, V)
        loss = F.cross_entropy(logits.view(-1, vocab_size).float(), y.reshape(-1))
    optimizer.zero_grad(set_to_none=True)
    loss.backward(retain_graph=True)
    torch.nn.utils.clip_grad_norm_(model.parameters(), grad_clip)
    optimizer.step()

    if step % log_interval == 0 or step == max_steps - 1:
        lossf = loss.item()  # waits for the device, so the step time below is real
        dt = time.perf_counter() - t0
        print(f"step {step:4d} | loss {lossf:.4f} | time {dt * 1000:.1f} ms")


@torch.no_grad()
def evaluate(streams, n_chunks):
    """Mean next-token loss on fresh text, read chunk by chunk with the state carried as in training."""
    model.eval()
    state, total = None, 0.0
    for i in range(n_chunks):
        x, y = get_chunk(streams, i)
        with ctx:
            logits, state = model(x, state)  # (B, T, V)
        total += F.cross_entropy(logits.view(-1, vocab_size).float(), y.reshape(-1)).item()
    return total / n_chunks


print(f"val loss {evaluate(val_streams, val_chunks):.4f}")
