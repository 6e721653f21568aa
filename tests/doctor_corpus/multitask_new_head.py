# doctor corpus: a multi-task MLP on synthetic customer features: segment classification plus basket-size regression
# modelled on: PyTorch forums "weights of newly added layer are not updating" -- optimizer param groups list the existing submodules, the later-added head is left out (https://discuss.pytorch.org/)
# expect: param-not-in-optimizer
import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

# ---------------- config ----------------
SEED = 21
N_FEATURES = 20
N_SEGMENTS = 5
N_TRAIN, N_VAL = 4000, 1000
BATCH_SIZE = 100
EPOCHS = 8
LR_BACKBONE = 1e-3
LR_HEAD = 3e-3
AUX_WEIGHT = 0.5
device = "cuda" if torch.cuda.is_available() else "cpu"

torch.manual_seed(SEED)
rng = np.random.default_rng(SEED)

# ---------------- data ----------------
W_seg = rng.standard_normal((N_FEATURES, N_SEGMENTS))
w_basket = rng.standard_normal(N_FEATURES)


def make_customers(n):
    x = rng.standard_normal((n, N_FEATURES))                               # (N, F)
    seg = (x @ W_seg + 0.5 * rng.standard_normal((n, N_SEGMENTS))).argmax(1)
    basket = np.sin(x @ w_basket / 3) * 2 + 0.3 * x[:, 0] * x[:, 1] + 0.2 * rng.standard_normal(n)
    return (torch.as_tensor(x, dtype=torch.float32), torch.as_tensor(seg),
            torch.as_tensor(basket, dtype=torch.float32))


x_tr, seg_tr, bsk_tr = (t.to(device) for t in make_customers(N_TRAIN))
x_va, seg_va, bsk_va = (t.to(device) for t in make_customers(N_VAL))
b_mean, b_std = bsk_tr.mean(), bsk_tr.std()
bsk_tr, bsk_va = (bsk_tr - b_mean) / b_std, (bsk_va - b_mean) / b_std


# ---------------- model ----------------
class MultiTaskNet(nn.Module):
    def __init__(self, n_in, n_seg, hidden=64):
        super().__init__()
        self.backbone = nn.Sequential(nn.Linear(n_in, hidden), nn.ReLU(), nn.LayerNorm(hidden),
                                      nn.Linear(hidden, hidden), nn.ReLU())
        self.segment_head = nn.Linear(hidden, n_seg)
        # auxiliary task: basket-size regression
        self.basket_head = nn.Sequential(nn.Linear(hidden, 32), nn.ReLU(), nn.Linear(32, 1))

    def forward(self, x):                               # x: (B, F)
        h = self.backbone(x)                            # (B, H)
        return self.segment_head(h), self.basket_head(h).squeeze(-1)   # (B, K), (B,)


model = MultiTaskNet(N_FEATURES, N_SEGMENTS).to(device)
optimizer = torch.optim.Adam([
    {"params": model.backbone.parameters(), "lr": LR_BACKBONE},
    {"params": model.segment_head.parameters(), "lr": LR_HEAD},
])

# ---------------- training ----------------
step = 0
for epoch in range(EPOCHS):
    model.train()
    perm = torch.randperm(N_TRAIN, device=device)
    for start in range(0, N_TRAIN, BATCH_SIZE):
        idx = perm[start:start + BATCH_SIZE]
        seg_logits, basket_pred = model(x_tr[idx])
        seg_loss = F.cross_entropy(seg_logits, seg_tr[idx])
        basket_loss = F.mse_loss(basket_pred, bsk_tr[idx])
        loss = seg_loss + AUX_WEIGHT * basket_loss

        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        step += 1
        if step % 40 == 0:
            print(f"step {step:4d}  seg ce {seg_loss.item():.4f}  basket mse {basket_loss.item():.4f}")

# ---------------- evaluation ----------------
model.eval()
with torch.no_grad():
    seg_logits, basket_pred = model(x_va)
    acc = (seg_logits.argmax(1) == seg_va).float().mean().item()
    mse = F.mse_loss(basket_pred, bsk_va).item()
print(f"val segment acc {acc:.3f} (chance {1 / N_SEGMENTS:.2f})  val basket mse {mse:.4f} (variance 1.0)")
