# doctor corpus: trains a new linear head on a frozen BatchNorm CNN backbone kept in eval() and run under no_grad on purpose
# modelled on: PyTorch transfer-learning tutorial ("ConvNet as fixed feature extractor")
# expect: none
import torch
import torch.nn as nn
import torch.nn.functional as F

# ---- config ----
SEED = 0
N_TRAIN, N_VAL = 2048, 512
NUM_CLASSES = 4
BATCH = 64
EPOCHS = 5
LR = 0.05
device = "cuda" if torch.cuda.is_available() else "cpu"
torch.manual_seed(SEED)


# ---- data: 1x16x16 images with a class-specific blob position ----
def make_images(n, g):
    y = torch.randint(0, NUM_CLASSES, (n,), generator=g)           # [N]
    x = 0.3 * torch.randn(n, 1, 16, 16, generator=g)               # [N, 1, 16, 16]
    for c in range(NUM_CLASSES):
        r, col = divmod(c, 2)
        idx = y == c
        x[idx, :, r * 8 + 2:r * 8 + 6, col * 8 + 2:col * 8 + 6] += 1.0
    return x, y


g = torch.Generator().manual_seed(SEED)
x_train, y_train = make_images(N_TRAIN, g)
x_val, y_val = make_images(N_VAL, g)


# ---- model: "pretrained" backbone + new head ----
class Backbone(nn.Module):
    def __init__(self):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(1, 16, 3, padding=1), nn.BatchNorm2d(16), nn.ReLU(),
            nn.MaxPool2d(2),                                       # [B, 16, 8, 8]
            nn.Conv2d(16, 32, 3, padding=1), nn.BatchNorm2d(32), nn.ReLU(),
            nn.MaxPool2d(2),                                       # [B, 32, 4, 4]
        )

    def forward(self, x):
        return self.features(x).flatten(1)                         # [B, 512]


backbone = Backbone().to(device)
# stand-in for loading pretrained weights: warm up the BN running statistics once
backbone.train()
with torch.no_grad():
    for i in range(0, N_TRAIN, 256):
        backbone(x_train[i:i + 256].to(device))
backbone.requires_grad_(False)
backbone.eval()  # frozen: BN keeps its running statistics during fine-tuning

head = nn.Linear(32 * 4 * 4, NUM_CLASSES).to(device)
optimizer = torch.optim.SGD(head.parameters(), lr=LR, momentum=0.9)  # head only


def forward(x):
    with torch.no_grad():
        feats = backbone(x)                                        # [B, 512], no graph
    return head(feats)                                             # [B, C]


# ---- training ----
step = 0
for epoch in range(EPOCHS):
    head.train()  # only the head switches mode; backbone stays in eval()
    perm = torch.randperm(N_TRAIN)
    for i in range(0, N_TRAIN, BATCH):
        idx = perm[i:i + BATCH]
        xb, yb = x_train[idx].to(device), y_train[idx].to(device)
        logits = forward(xb)
        loss = F.cross_entropy(logits, yb)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        if step % 40 == 0:
            print(f"epoch {epoch} step {step:4d} loss {loss.item():.4f}")
        step += 1

    # ---- evaluation ----
    head.eval()
    with torch.no_grad():
        logits = forward(x_val.to(device))
        val_loss = F.cross_entropy(logits, y_val.to(device)).item()
        acc = (logits.argmax(1).cpu() == y_val).float().mean().item()
    print(f"epoch {epoch} val_loss {val_loss:.4f} val_acc {acc:.3f}")
