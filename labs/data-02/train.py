"""Train a small CNN to segment cells in DIC microscopy crops with a soft Dice loss."""
import random
import time

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.utils.data import DataLoader, Dataset, RandomSampler

# -----------------------------------------------------------------------------
# config
size = 16               # crop height and width, in pixels
max_cells = 3           # cells per crop, at most
shear = 2               # DIC shear: pixels between a cell's bright rim and its dark rim
n_train = 1024          # annotated training crops (all from scope A)
n_val = 256             # validation crops (scope A)
batch_size = 32         # crops per optimizer step
max_iters = 150         # optimizer steps
n_channels = 16         # CNN width
learning_rate = 1e-2    # AdamW learning rate
weight_decay = 1e-4     # AdamW weight decay
log_interval = 25       # steps between progress lines
seed = 0                # fixes the model init, the crops, the sampling and the augmentation
# -----------------------------------------------------------------------------

random.seed(seed)
torch.manual_seed(seed)
device = "cuda" if torch.cuda.is_available() else "mps" if torch.backends.mps.is_available() else "cpu"


def make_crops(n, sample_seed):
    """DIC-like crops: a cell shows as a bright rim on the side facing the shear and a dark rim opposite."""
    g = torch.Generator().manual_seed(sample_seed)
    yy, xx = torch.meshgrid(torch.arange(size), torch.arange(size), indexing="ij")  # (H, W)
    cy, cx = 2 + (size - 4) * torch.rand(2, n, max_cells, 1, 1, generator=g)  # (N, M, 1, 1) each
    radius = 2 + 2 * torch.rand(n, max_cells, 1, 1, generator=g)  # (N, M, 1, 1)
    present = torch.rand(n, max_cells, 1, 1, generator=g) < torch.tensor([1.0, 0.6, 0.3]).view(1, max_cells, 1, 1)
    masks = (((yy - cy) ** 2 + (xx - cx) ** 2 <= radius**2) & present).any(dim=1).float()  # (N, H, W)
    sheared = F.pad(masks, (0, 0, shear, 0))[:, :size]  # (N, H, W) the cells moved down by `shear`
    images = 1.3 * masks - sheared + 0.3 * torch.randn(n, size, size, generator=g)  # (N, H, W)
    return images.unsqueeze(1), masks.unsqueeze(1)  # (N, 1, H, W), (N, 1, H, W)


class RandomOrientation:
    """One of the 8 orientations of a square crop (a mirror flip and a quarter turn), drawn at random."""

    def __call__(self, t):  # t: (C, H, W)
        if random.random() < 0.5:
            t = t.flip(-1)
        return torch.rot90(t, random.randrange(4), dims=(-2, -1))


class Crops(Dataset):
    def __init__(self, images, masks, transform=None):
        self.images, self.masks, self.transform = images, masks, transform

    def __len__(self):
        return len(self.images)

    def __getitem__(self, i):
        image, mask = self.images[i], self.masks[i]  # (1, H, W), (1, H, W)
        if self.transform is not None:
            image, mask = self.transform(image), self.transform(mask)
        return image, mask


class CellSegmenter(nn.Module):
    """Three 3x3 convolutions with growing dilation (a 15-pixel receptive field), then a 1x1 to one logit per pixel."""

    def __init__(self):
        super().__init__()
        c = n_channels
        self.body = nn.Sequential(
            nn.Conv2d(1, c, 3, padding=1), nn.ReLU(),
            nn.Conv2d(c, c, 3, padding=2, dilation=2), nn.ReLU(),
            nn.Conv2d(c, c, 3, padding=4, dilation=4), nn.ReLU(),
        )
        self.head = nn.Conv2d(c, 1, 1)

    def forward(self, x):  # x: (B, 1, H, W)
        return self.head(self.body(x))  # (B, 1, H, W) logits


def soft_dice_loss(logits, masks, eps=1.0):
    """1 - Dice of the predicted probabilities, per crop, averaged over the batch."""
    probs = logits.sigmoid()  # (B, 1, H, W)
    overlap = (probs * masks).sum(dim=(1, 2, 3))  # (B,)
    total = probs.sum(dim=(1, 2, 3)) + masks.sum(dim=(1, 2, 3))  # (B,)
    return 1 - ((2 * overlap + eps) / (total + eps)).mean()


train_set = Crops(*make_crops(n_train, sample_seed=seed), transform=RandomOrientation())
val_images, val_masks = make_crops(n_val, sample_seed=seed + 1)
sampler = RandomSampler(train_set, replacement=True, num_samples=max_iters * batch_size)  # exactly max_iters batches
train_loader = DataLoader(train_set, batch_size=batch_size, sampler=sampler, drop_last=True)

model = CellSegmenter().to(device)
optimizer = torch.optim.AdamW(model.parameters(), lr=learning_rate, weight_decay=weight_decay)
print(f"{sum(p.numel() for p in model.parameters())} parameters | {len(train_set)} crops | {max_iters} steps")


@torch.no_grad()
def dice(images, masks):
    model.eval()
    pred = (model(images.to(device)) > 0).float()  # (N, 1, H, W) probability above 0.5
    masks = masks.to(device)
    score = (2 * (pred * masks).sum() / (pred.sum() + masks.sum())).item()
    model.train()
    return score


model.train()
t0 = time.time()
for step, (x, y) in enumerate(train_loader):
    x, y = x.to(device), y.to(device)  # (B, 1, H, W), (B, 1, H, W)
    loss = soft_dice_loss(model(x), y)
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    optimizer.step()
    if step % log_interval == 0 or step == max_iters - 1:
        print(f"step {step:4d} | dice loss {loss.item():.4f}")

print(f"{max_iters} steps in {time.time() - t0:.1f}s | val dice {dice(val_images, val_masks):.3f}")
