# doctor corpus: tiny attention U-Net segmenting discs (not squares) in noisy 24x24 images, per-pixel BCE
# modelled on: PyTorch forum threads "torch.round() has zero gradient / layers before it never update" (hard-binarised attention gate)
# expect: dead-gradient
import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.utils.data import Dataset, DataLoader

# ---------------- config ----------------
SEED = 3
IMG = 24
N_TRAIN, N_VAL = 1280, 200
BATCH = 16
EPOCHS = 2              # 80 batches/epoch -> 160 steps
LR = 5e-3
LOG_EVERY = 20

torch.manual_seed(SEED)
device = "cuda" if torch.cuda.is_available() else "cpu"


class ShapesDataset(Dataset):
    """Images with discs and squares of equal brightness; the mask marks discs only."""

    def __init__(self, n, seed):
        rng = np.random.default_rng(seed)
        yy, xx = np.mgrid[0:IMG, 0:IMG]
        self.images = np.zeros((n, 1, IMG, IMG), np.float32)
        self.masks = np.zeros((n, 1, IMG, IMG), np.float32)
        for k in range(n):
            for _ in range(rng.integers(1, 4)):
                cy, cx, r = rng.integers(4, IMG - 4), rng.integers(4, IMG - 4), rng.integers(2, 5)
                if rng.random() < 0.5:
                    disc = (yy - cy) ** 2 + (xx - cx) ** 2 <= r * r
                    self.images[k, 0][disc] = 1.0
                    self.masks[k, 0][disc] = 1.0
                else:
                    sq = (abs(yy - cy) <= r) & (abs(xx - cx) <= r)
                    self.images[k, 0][sq] = 1.0
                    self.masks[k, 0][sq] = 0.0
            self.images[k] += 0.25 * rng.normal(size=(1, IMG, IMG))

    def __len__(self):
        return len(self.images)

    def __getitem__(self, i):
        return torch.from_numpy(self.images[i]), torch.from_numpy(self.masks[i])


def conv_block(cin, cout):
    return nn.Sequential(nn.Conv2d(cin, cout, 3, padding=1), nn.BatchNorm2d(cout), nn.ReLU(inplace=True))


class AttentionGate(nn.Module):
    def __init__(self, g_ch, x_ch, inter):
        super().__init__()
        self.w_g = nn.Conv2d(g_ch, inter, 1)
        self.w_x = nn.Conv2d(x_ch, inter, 1)
        self.psi = nn.Conv2d(inter, 1, 1)

    def forward(self, g, x):
        a = F.relu(self.w_g(g) + self.w_x(x))             # (B, inter, H, W)
        alpha = torch.sigmoid(self.psi(a))                # (B, 1, H, W)
        return x * torch.round(alpha)                     # keep / drop skip pixels


class AttnUNet(nn.Module):
    def __init__(self, c=8):
        super().__init__()
        self.enc1, self.enc2 = conv_block(1, c), conv_block(c, 2 * c)
        self.mid = conv_block(2 * c, 4 * c)
        self.up2, self.up1 = nn.ConvTranspose2d(4 * c, 2 * c, 2, stride=2), nn.ConvTranspose2d(2 * c, c, 2, stride=2)
        self.att2, self.att1 = AttentionGate(2 * c, 2 * c, c), AttentionGate(c, c, c // 2)
        self.dec2, self.dec1 = conv_block(4 * c, 2 * c), conv_block(2 * c, c)
        self.head = nn.Conv2d(c, 1, 1)

    def forward(self, x):                                 # x: (B, 1, 24, 24)
        e1 = self.enc1(x)                                 # (B, c, 24, 24)
        e2 = self.enc2(F.max_pool2d(e1, 2))               # (B, 2c, 12, 12)
        m = self.mid(F.max_pool2d(e2, 2))                 # (B, 4c, 6, 6)
        u2 = self.up2(m)                                  # (B, 2c, 12, 12)
        d2 = self.dec2(torch.cat([u2, self.att2(u2, e2)], 1))
        u1 = self.up1(d2)                                 # (B, c, 24, 24)
        d1 = self.dec1(torch.cat([u1, self.att1(u1, e1)], 1))
        return self.head(d1)                              # (B, 1, 24, 24) logits


train_dl = DataLoader(ShapesDataset(N_TRAIN, SEED), batch_size=BATCH, shuffle=True, drop_last=True)
val_dl = DataLoader(ShapesDataset(N_VAL, SEED + 1), batch_size=100)

model = AttnUNet().to(device)
opt = torch.optim.Adam(model.parameters(), lr=LR)

step = 0
for epoch in range(EPOCHS):
    model.train()
    for img, mask in train_dl:
        img, mask = img.to(device), mask.to(device)
        loss = F.binary_cross_entropy_with_logits(model(img), mask)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        step += 1
        if step % LOG_EVERY == 0:
            print(f"epoch {epoch} step {step:4d} loss {loss.item():.4f}")

    model.eval()
    inter = union = 0.0
    with torch.no_grad():
        for img, mask in val_dl:
            pred = (model(img.to(device)) > 0).float().cpu()
            inter += (pred * mask).sum().item()
            union += ((pred + mask) > 0).float().sum().item()
    print(f"epoch {epoch} val IoU {inter / max(union, 1):.3f}")
