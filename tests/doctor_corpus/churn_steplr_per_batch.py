# doctor corpus: a customer-churn classifier (embeddings for plan/region + numeric usage features) with a StepLR schedule
# modelled on: PyTorch forums "model stops learning after the first epoch" -- scheduler.step() for an epoch-based StepLR placed inside the batch loop (https://discuss.pytorch.org/)
# expect: lr-collapse
import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

# ---------------- config ----------------
SEED = 8
N_TRAIN, N_VAL = 1024, 1600
N_NUMERIC = 8
N_PLANS, N_REGIONS = 6, 12
BATCH_SIZE = 64
EPOCHS = 30
LR = 5e-2
LR_STEP_EPOCHS = 10       # decay LR by 10x every 10 epochs
LR_GAMMA = 0.1
device = "cuda" if torch.cuda.is_available() else "cpu"

torch.manual_seed(SEED)
rng = np.random.default_rng(SEED)

# ---------------- data ----------------
plan_risk = rng.normal(0, 1.0, N_PLANS)
region_risk = rng.normal(0, 0.7, N_REGIONS)
w_num = rng.normal(0, 1.0, N_NUMERIC)


def make_customers(n):
    num = rng.standard_normal((n, N_NUMERIC)).astype(np.float32)          # (N, F) standardised usage
    plan = rng.integers(0, N_PLANS, n)
    region = rng.integers(0, N_REGIONS, n)
    logit = num @ w_num + 1.5 * num[:, 0] * num[:, 1] + plan_risk[plan] + region_risk[region] - 0.5
    churn = (rng.random(n) < 1 / (1 + np.exp(-2 * logit))).astype(np.float32)
    return (torch.from_numpy(num), torch.as_tensor(plan), torch.as_tensor(region), torch.from_numpy(churn))


train = [t.to(device) for t in make_customers(N_TRAIN)]
val = [t.to(device) for t in make_customers(N_VAL)]


# ---------------- model ----------------
class ChurnNet(nn.Module):
    def __init__(self, hidden=64):
        super().__init__()
        self.plan_emb = nn.Embedding(N_PLANS, 4)
        self.region_emb = nn.Embedding(N_REGIONS, 4)
        self.mlp = nn.Sequential(nn.Linear(N_NUMERIC + 8, hidden), nn.ReLU(),
                                 nn.Linear(hidden, hidden), nn.ReLU(), nn.Linear(hidden, 1))

    def forward(self, num, plan, region):                   # (B, F), (B,), (B,)
        x = torch.cat([num, self.plan_emb(plan), self.region_emb(region)], dim=1)  # (B, F + 8)
        return self.mlp(x).squeeze(-1)                      # (B,) logits


model = ChurnNet().to(device)
optimizer = torch.optim.SGD(model.parameters(), lr=LR, momentum=0.9, nesterov=True)
scheduler = torch.optim.lr_scheduler.StepLR(optimizer, step_size=LR_STEP_EPOCHS, gamma=LR_GAMMA)

# ---------------- training ----------------
step = 0
for epoch in range(EPOCHS):
    model.train()
    perm = torch.randperm(N_TRAIN, device=device)
    for start in range(0, N_TRAIN, BATCH_SIZE):
        idx = perm[start:start + BATCH_SIZE]
        num, plan, region, y = (t[idx] for t in train)
        logits = model(num, plan, region)
        loss = F.binary_cross_entropy_with_logits(logits, y)

        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        scheduler.step()
        step += 1
        if step % 40 == 0:
            print(f"epoch {epoch + 1:2d} step {step:4d}  bce {loss.item():.4f}  lr {scheduler.get_last_lr()[0]:.2e}")

# ---------------- evaluation ----------------
model.eval()
with torch.no_grad():
    num, plan, region, y = val
    logits = model(num, plan, region)
    val_bce = F.binary_cross_entropy_with_logits(logits, y).item()
    acc = ((logits > 0).float() == y).float().mean().item()
p = train[3].mean().item()
print(f"val bce {val_bce:.4f} (base rate {-(p * np.log(p) + (1 - p) * np.log(1 - p)):.4f})  acc {acc:.3f}")
