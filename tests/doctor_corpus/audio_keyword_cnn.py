# doctor corpus: keyword spotting CNN on log-spectrograms of variable-length synthetic tone "words", length-bucketed batches
# modelled on: StackOverflow / forum reports "accuracy stuck at 1/num_classes" where features were reordered (sorted) but labels were not
# expect: loss-at-chance
import random
import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.utils.data import Dataset, DataLoader, Sampler

# ---------------- config ----------------
SEED = 11
SR = 4000
N_CLASSES = 8
N_TRAIN, N_VAL = 1600, 400
MIN_LEN, MAX_LEN = int(0.4 * SR), int(0.8 * SR)
N_FFT, HOP, N_BANDS = 128, 64, 32
BATCH = 32
EPOCHS = 3              # 50 batches/epoch -> 150 steps
LR = 0.05

random.seed(SEED)
torch.manual_seed(SEED)
device = "cuda" if torch.cuda.is_available() else "cpu"
# each keyword = three tones in a fixed order (Hz)
KEYWORDS = np.random.default_rng(0).choice(np.arange(300, 1800, 100), size=(N_CLASSES, 3))


def synth_keyword(k, n, rng):
    t = np.arange(n) / SR
    seg = np.minimum((3 * np.arange(n)) // n, 2)        # which third of the clip
    f = KEYWORDS[k][seg] * rng.uniform(0.97, 1.03)
    wav = np.sin(2 * np.pi * f * t + rng.uniform(0, 2 * np.pi))
    return (wav + 1.0 * rng.normal(size=n)).astype(np.float32)


def log_spec(wav):
    spec = torch.stft(torch.from_numpy(wav), N_FFT, HOP, window=torch.hann_window(N_FFT), return_complex=True)
    mag = spec.abs()[: N_FFT // 2]                       # (64, frames)
    bands = mag.reshape(N_BANDS, -1, mag.shape[1]).mean(1)   # (N_BANDS, frames)
    return torch.log1p(bands)


class KeywordDataset(Dataset):
    def __init__(self, n, seed):
        rng = np.random.default_rng(seed)
        labels, clips = [], []
        for _ in range(n):
            k = int(rng.integers(N_CLASSES))
            clips.append(synth_keyword(k, int(rng.integers(MIN_LEN, MAX_LEN)), rng))
            labels.append(k)
        # sort by duration so that length buckets need little padding
        clips = sorted(clips, key=len)
        self.feats = [log_spec(w) for w in clips]
        self.labels = torch.tensor(labels)

    def __len__(self):
        return len(self.feats)

    def __getitem__(self, i):
        return self.feats[i], self.labels[i]


class BucketBatchSampler(Sampler):
    """Consecutive (similar-length) items form a batch; batch order is shuffled."""

    def __init__(self, n, batch_size):
        self.batches = [list(range(i, min(i + batch_size, n))) for i in range(0, n, batch_size)]

    def __iter__(self):
        random.shuffle(self.batches)
        return iter(self.batches)

    def __len__(self):
        return len(self.batches)


def pad_collate(batch):
    feats, labels = zip(*batch)
    T = max(f.shape[1] for f in feats)
    x = torch.stack([F.pad(f, (0, T - f.shape[1])) for f in feats]).unsqueeze(1)   # (B, 1, N_BANDS, T)
    return x, torch.stack(labels)


model = nn.Sequential(
    nn.Conv2d(1, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU(), nn.MaxPool2d(2),      # (B,8,16,T/2)
    nn.Conv2d(8, 16, 3, padding=1), nn.BatchNorm2d(16), nn.ReLU(), nn.MaxPool2d(2),    # (B,16,8,T/4)
    nn.Conv2d(16, 16, 3, padding=1), nn.BatchNorm2d(16), nn.ReLU(),
    nn.AdaptiveAvgPool2d((4, 4)), nn.Flatten(),                                        # (B,256)
    nn.Linear(256, N_CLASSES),
).to(device)

train_ds, val_ds = KeywordDataset(N_TRAIN, SEED), KeywordDataset(N_VAL, SEED + 1)
train_dl = DataLoader(train_ds, batch_sampler=BucketBatchSampler(len(train_ds), BATCH), collate_fn=pad_collate)
val_dl = DataLoader(val_ds, batch_sampler=BucketBatchSampler(len(val_ds), 100), collate_fn=pad_collate)
opt = torch.optim.SGD(model.parameters(), lr=LR, momentum=0.9, nesterov=True)
criterion = nn.CrossEntropyLoss()

step = 0
for epoch in range(EPOCHS):
    model.train()
    for x, y in train_dl:
        x, y = x.to(device), y.to(device)
        loss = criterion(model(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        step += 1
        if step % 10 == 0:
            print(f"epoch {epoch} step {step:4d} loss {loss.item():.4f}")

    model.eval()
    correct = total = 0
    with torch.no_grad():
        for x, y in val_dl:
            correct += (model(x.to(device)).argmax(1).cpu() == y).sum().item()
            total += len(y)
    print(f"epoch {epoch} val acc {correct / total:.3f}")
