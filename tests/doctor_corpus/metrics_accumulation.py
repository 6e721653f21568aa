# doctor corpus: imbalanced binary tabular classifier; validation preds/targets collected per epoch with .detach().cpu() for an epoch-level ROC-AUC, plus a per-epoch history
# modelled on: common validation-loop practice (collect outputs, torch.cat, compute AUC; eval()/no_grad then train())
# expect: none
import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.utils.data import DataLoader, TensorDataset

# ---- config ----
SEED = 10
N_TRAIN, N_VAL, IN_DIM = 6000, 2000, 20
POS_RATE = 0.15            # share of positive logits; the label rate ends up a bit higher
BATCH = 128
EPOCHS = 6
LR = 1e-3
device = "cuda" if torch.cuda.is_available() else "cpu"
torch.manual_seed(SEED)
rng = np.random.default_rng(SEED)

# ---- data: logistic ground truth with an interaction term, mostly negatives ----
w = rng.normal(0, 1, IN_DIM)


def make_split(n):
    x = rng.normal(0, 1, (n, IN_DIM)).astype(np.float32)
    logit = 0.6 * x @ w + 1.5 * x[:, 0] * x[:, 1]
    logit -= np.quantile(logit, 1 - POS_RATE)                    # shift towards the target base rate
    y = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(np.float32)
    return TensorDataset(torch.from_numpy(x), torch.from_numpy(y))  # [N, D], [N]


train_loader = DataLoader(make_split(N_TRAIN), batch_size=BATCH, shuffle=True)
val_loader = DataLoader(make_split(N_VAL), batch_size=512)


def roc_auc(scores, labels):
    """Rank-based AUC (Mann-Whitney U); scores, labels: 1-D numpy arrays."""
    order = np.argsort(scores)
    ranks = np.empty(len(scores))
    ranks[order] = np.arange(1, len(scores) + 1)
    n_pos = labels.sum()
    n_neg = len(labels) - n_pos
    return (ranks[labels == 1].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg)


# ---- model ----
model = nn.Sequential(
    nn.Linear(IN_DIM, 64), nn.ReLU(), nn.Dropout(0.2),
    nn.Linear(64, 64), nn.ReLU(), nn.Dropout(0.2),
    nn.Linear(64, 1),
).to(device)
optimizer = torch.optim.Adam(model.parameters(), lr=LR)


def evaluate():
    model.eval()
    all_scores, all_targets = [], []
    total_loss = 0.0
    with torch.no_grad():
        for xb, yb in val_loader:
            xb, yb = xb.to(device), yb.to(device)
            logits = model(xb).squeeze(1)                          # [B]
            total_loss += F.binary_cross_entropy_with_logits(logits, yb, reduction="sum").item()
            all_scores.append(torch.sigmoid(logits).detach().cpu())
            all_targets.append(yb.detach().cpu())
    model.train()
    scores = torch.cat(all_scores).numpy()                         # [N_VAL]
    targets = torch.cat(all_targets).numpy()                       # [N_VAL]
    return total_loss / len(targets), roc_auc(scores, targets), ((scores > 0.5) == targets).mean(), targets.mean()


# ---- training ----
history = []                                                       # one dict per epoch
val_loss, auc, acc, pos_rate = evaluate()
p = pos_rate
chance_loss = -(p * np.log(p) + (1 - p) * np.log(1 - p))          # loss of predicting the base rate
print(f"before training: val_loss {val_loss:.4f} auc {auc:.3f} "
      f"(positives {pos_rate:.2f}, base-rate loss {chance_loss:.4f})")
model.train()
for epoch in range(EPOCHS):
    running, seen = 0.0, 0
    for step, (xb, yb) in enumerate(train_loader):
        xb, yb = xb.to(device), yb.to(device)
        loss = F.binary_cross_entropy_with_logits(model(xb).squeeze(1), yb)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        running += loss.item() * len(yb)
        seen += len(yb)
        if step % 20 == 0:
            print(f"epoch {epoch} step {step:3d} loss {loss.item():.4f}")

    val_loss, auc, acc, _ = evaluate()
    history.append({"epoch": epoch, "train_loss": running / seen, "val_loss": val_loss,
                    "val_auc": float(auc), "val_acc": float(acc)})
    print(f"epoch {epoch} train_loss {running / seen:.4f} val_loss {val_loss:.4f} "
          f"val_auc {auc:.3f} val_acc {acc:.3f}")

best = max(history, key=lambda h: h["val_auc"])
print(f"best epoch {best['epoch']} auc {best['val_auc']:.3f}; majority-class acc {max(p, 1 - p):.3f}")
