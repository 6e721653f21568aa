# doctor corpus: multi-task clinical-style tabular model: length-of-stay regression + diagnosis group + rare adverse-event flag (weighted sum of 3 losses)
# modelled on: common multi-task learning setups (shared trunk, per-task heads, fixed loss weights, BCE pos_weight for the rare label)
# expect: none
import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.utils.data import Dataset, DataLoader

# ---------------- config ----------------
SEED = 8
N_NUM, N_CAT_LEVELS = 16, 12           # numeric features + one categorical (admission ward)
N_DIAG = 5
N_TRAIN, N_VAL = 6000, 2000
BATCH = 64
EPOCHS = 4                             # 94 batches/epoch -> 376 steps
LR = 1e-3
LOSS_WEIGHTS = {"los": 1.0, "diag": 0.5, "event": 2.0}

torch.manual_seed(SEED)
rng = np.random.default_rng(SEED)
device = "cuda" if torch.cuda.is_available() else "cpu"


class PatientDataset(Dataset):
    A = rng.normal(size=(N_NUM, N_DIAG))
    ward_effect = rng.normal(0, 0.5, size=N_CAT_LEVELS)

    def __init__(self, n):
        self.num = rng.normal(size=(n, N_NUM)).astype(np.float32)
        self.ward = rng.integers(0, N_CAT_LEVELS, size=n)
        self.diag = (self.num @ self.A + 0.5 * rng.normal(size=(n, N_DIAG))).argmax(1)
        self.los = (1.0 + 0.6 * self.num[:, 0] - 0.4 * self.num[:, 1] * self.num[:, 2]
                    + self.ward_effect[self.ward] + 0.3 * (self.diag == 2) + 0.3 * rng.normal(size=n)).astype(np.float32)
        risk = -5.2 + 1.5 * self.num[:, 3] + 1.0 * (self.diag == 4) + 0.8 * np.maximum(self.los, 0)
        self.event = (rng.random(n) < 1 / (1 + np.exp(-risk))).astype(np.float32)   # ~5% positives

    def __len__(self):
        return len(self.num)

    def __getitem__(self, i):
        return {"num": self.num[i], "ward": self.ward[i], "los": self.los[i], "diag": self.diag[i], "event": self.event[i]}


class MultiTaskNet(nn.Module):
    def __init__(self, hidden=96):
        super().__init__()
        self.ward_emb = nn.Embedding(N_CAT_LEVELS, 8)
        self.trunk = nn.Sequential(nn.Linear(N_NUM + 8, hidden), nn.LayerNorm(hidden), nn.GELU(),
                                   nn.Dropout(0.1), nn.Linear(hidden, hidden), nn.GELU())
        self.los_head = nn.Linear(hidden, 1)
        self.diag_head = nn.Linear(hidden, N_DIAG)
        self.event_head = nn.Sequential(nn.Linear(hidden, 32), nn.GELU(), nn.Linear(32, 1))

    def forward(self, num, ward):                         # num: (B, N_NUM), ward: (B,)
        h = self.trunk(torch.cat([num, self.ward_emb(ward)], -1))   # (B, hidden)
        return self.los_head(h).squeeze(-1), self.diag_head(h), self.event_head(h).squeeze(-1)


train_ds, val_ds = PatientDataset(N_TRAIN), PatientDataset(N_VAL)
pos_rate = train_ds.event.mean()
print(f"adverse-event rate {pos_rate:.3f}")
train_dl = DataLoader(train_ds, batch_size=BATCH, shuffle=True)
val_dl = DataLoader(val_ds, batch_size=500)

model = MultiTaskNet().to(device)
opt = torch.optim.AdamW(model.parameters(), lr=LR, weight_decay=1e-2)
pos_weight = torch.tensor((1 - pos_rate) / pos_rate, device=device)


def losses(batch):
    b = {k: v.to(device) for k, v in batch.items()}
    los_pred, diag_logits, event_logit = model(b["num"], b["ward"])
    return {"los": F.smooth_l1_loss(los_pred, b["los"]),
            "diag": F.cross_entropy(diag_logits, b["diag"]),
            "event": F.binary_cross_entropy_with_logits(event_logit, b["event"], pos_weight=pos_weight)}


step = 0
for epoch in range(EPOCHS):
    model.train()
    for batch in train_dl:
        parts = losses(batch)
        loss = sum(LOSS_WEIGHTS[k] * v for k, v in parts.items())
        opt.zero_grad()
        loss.backward()
        opt.step()
        step += 1
        if step % 40 == 0:
            print(f"step {step:4d} total {loss.item():.4f} " + " ".join(f"{k} {v.item():.3f}" for k, v in parts.items()))

    model.eval()
    totals = {"los": 0.0, "diag": 0.0, "event": 0.0}
    with torch.no_grad():
        for batch in val_dl:
            for k, v in losses(batch).items():
                totals[k] += v.item() / len(val_dl)
    print(f"epoch {epoch} val " + " ".join(f"{k} {v:.3f}" for k, v in totals.items()))
