# doctor corpus: GRU next-token model over variable-length arithmetic-progression sequences, packed input, CE with ignore_index on padded targets
# modelled on: torch.nn.utils.rnn.pack_padded_sequence / pad_packed_sequence docs and the usual "mask padding with ignore_index" recipe
# expect: none
import numpy as np
import torch
import torch.nn as nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence, pad_sequence
from torch.utils.data import Dataset, DataLoader

# ---------------- config ----------------
SEED = 9
PAD = 0
N_SYMBOLS = 23          # tokens 1..23 are the values 0..22 (mod 23)
VOCAB = N_SYMBOLS + 1
MIN_LEN, MAX_LEN = 5, 24
EMB, HIDDEN = 32, 64
BATCH = 32
EPOCHS = 2              # 100 batches/epoch -> 200 steps
LR = 3e-3

torch.manual_seed(SEED)
device = "cuda" if torch.cuda.is_available() else "cpu"


class ProgressionDataset(Dataset):
    """x_{t+1} = (x_t + step) mod 23 with a per-sequence step; the model must infer the step from the prefix."""

    def __init__(self, n, seed):
        rng = np.random.default_rng(seed)
        self.seqs = []
        for _ in range(n):
            length = rng.integers(MIN_LEN, MAX_LEN + 1)
            start, step = rng.integers(0, N_SYMBOLS), rng.integers(1, 12)
            vals = (start + step * np.arange(length)) % N_SYMBOLS
            self.seqs.append(torch.from_numpy(vals + 1))  # shift so 0 stays PAD

    def __len__(self):
        return len(self.seqs)

    def __getitem__(self, i):
        s = self.seqs[i]
        return s[:-1], s[1:]                              # input, next-token target


def collate(batch):
    inputs, targets = zip(*batch)
    lengths = torch.tensor([len(x) for x in inputs])
    x = pad_sequence(inputs, batch_first=True, padding_value=PAD)    # (B, T)
    y = pad_sequence(targets, batch_first=True, padding_value=PAD)   # (B, T)
    return x, y, lengths


class NextTokenGRU(nn.Module):
    def __init__(self):
        super().__init__()
        self.emb = nn.Embedding(VOCAB, EMB, padding_idx=PAD)
        self.gru = nn.GRU(EMB, HIDDEN, batch_first=True)
        self.out = nn.Linear(HIDDEN, VOCAB)

    def forward(self, x, lengths):
        packed = pack_padded_sequence(self.emb(x), lengths, batch_first=True, enforce_sorted=False)
        out, _ = self.gru(packed)
        out, _ = pad_packed_sequence(out, batch_first=True, total_length=x.shape[1])   # (B, T, HIDDEN)
        return self.out(out)                              # (B, T, VOCAB)


train_dl = DataLoader(ProgressionDataset(3200, SEED), batch_size=BATCH, shuffle=True, collate_fn=collate)
val_dl = DataLoader(ProgressionDataset(500, SEED + 1), batch_size=250, collate_fn=collate)

model = NextTokenGRU().to(device)
opt = torch.optim.RMSprop(model.parameters(), lr=LR)
criterion = nn.CrossEntropyLoss(ignore_index=PAD)

step = 0
for epoch in range(EPOCHS):
    model.train()
    for x, y, lengths in train_dl:
        x, y = x.to(device), y.to(device)
        logits = model(x, lengths)
        loss = criterion(logits.reshape(-1, VOCAB), y.reshape(-1))
        opt.zero_grad()
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        step += 1
        if step == 1 or step % 20 == 0:
            print(f"epoch {epoch} step {step:4d} loss {loss.item():.4f}")

    model.eval()
    correct = count = 0
    with torch.no_grad():
        for x, y, lengths in val_dl:
            pred = model(x.to(device), lengths).argmax(-1).cpu()
            mask = (y != PAD) & (torch.arange(y.shape[1]) >= 2)      # after the step is identifiable
            correct += (pred[mask] == y[mask]).sum().item()
            count += mask.sum().item()
    print(f"epoch {epoch} val next-token acc (t>=2) {correct / count:.3f}")
