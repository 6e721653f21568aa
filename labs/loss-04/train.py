"""
Photo-to-listing matcher: a dual encoder trained CLIP-style with a symmetric contrastive loss.

Each product has a photo (features from a frozen image backbone) and a listing text (features from
a frozen text model). Two MLP towers map both into one embedding space, where a photo should be
nearest to its own listing. The other pairs in the batch serve as negatives.
Shapes: N products, B batch, P photo features, L text features, E embedding size.
Run: python train.py
"""
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

# -----------------------------------------------------------------------------
# config
photo_dim = 32         # photo features per product
text_dim = 24          # listing-text features per product
n_latent = 24          # product attributes both views are made from
n_hidden = 128         # tower width
n_embd = 32            # shared embedding size
temperature = 0.07     # softmax temperature of the contrastive loss (CLIP's initial value)
n_train = 16384        # training pairs
n_val = 1024           # validation pairs (retrieval among all of them)
batch_size = 128       # pairs per optimizer step
max_steps = 300        # optimizer steps
learning_rate = 3e-3   # AdamW peak learning rate
weight_decay = 1e-4    # AdamW weight decay
log_interval = 50      # steps between progress lines
task_seed = 1234       # fixes how photos and texts depend on the product (the task itself)
seed = 0               # torch seed for init and batching
# -----------------------------------------------------------------------------

torch.manual_seed(seed)
device = "cuda" if torch.cuda.is_available() else "mps" if torch.backends.mps.is_available() else "cpu"


# -----------------------------------------------------------------------------
# data: both views of a product are noisy nonlinear functions of its hidden attributes
def make_pairs(n, split_seed):
    gt = torch.Generator().manual_seed(task_seed)
    w_photo = torch.randn(n_latent, photo_dim, generator=gt)                # (Z, P)
    w_text = torch.randn(n_latent, text_dim, generator=gt)                  # (Z, L)
    g = torch.Generator().manual_seed(split_seed)
    z = torch.randn(n, n_latent, generator=g)                               # (N, Z)
    photos = torch.tanh(z @ w_photo / n_latent**0.5 * 2) + 0.2 * torch.randn(n, photo_dim, generator=g)  # (N, P)
    texts = torch.tanh(z @ w_text / n_latent**0.5 * 2) + 0.2 * torch.randn(n, text_dim, generator=g)     # (N, L)
    return photos, texts


train_photos, train_texts = make_pairs(n_train, split_seed=1)
val_photos, val_texts = make_pairs(n_val, split_seed=2)
train_photos, train_texts, val_photos, val_texts = (t.to(device) for t in (train_photos, train_texts, val_photos, val_texts))


# -----------------------------------------------------------------------------
# model
def tower(in_dim):
    return nn.Sequential(nn.Linear(in_dim, n_hidden), nn.GELU(), nn.Linear(n_hidden, n_hidden), nn.GELU(), nn.Linear(n_hidden, n_embd))


class DualEncoder(nn.Module):
    def __init__(self):
        super().__init__()
        self.photo_tower = tower(photo_dim)
        self.text_tower = tower(text_dim)

    def forward(self, photos, texts):  # (B, P), (B, L)
        photo_emb = F.normalize(self.photo_tower(photos), dim=-1)          # (B, E) unit vectors
        text_emb = F.normalize(self.text_tower(texts), dim=-1)             # (B, E) unit vectors
        return photo_emb, text_emb


def contrastive_loss(photo_emb, text_emb):  # (B, E), (B, E)
    logits = photo_emb @ text_emb.T * temperature                           # (B, B) photo i vs text j
    labels = torch.arange(len(photo_emb), device=photo_emb.device)          # (B,) pair i matches text i
    return (F.cross_entropy(logits, labels) + F.cross_entropy(logits.T, labels)) / 2


model = DualEncoder().to(device)
optimizer = torch.optim.AdamW(model.parameters(), lr=learning_rate, weight_decay=weight_decay)
scheduler = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=learning_rate, total_steps=max_steps, pct_start=0.1)
print(f"{sum(p.numel() for p in model.parameters())} parameters on {device}")


@torch.no_grad()
def retrieval_top1(photos, texts):
    model.eval()
    photo_emb, text_emb = model(photos, texts)
    sim = photo_emb @ text_emb.T                                            # (N, N)
    target = torch.arange(len(photos), device=photos.device)
    model.train()
    return (sim.argmax(dim=1) == target).float().mean().item(), (sim.argmax(dim=0) == target).float().mean().item()


# -----------------------------------------------------------------------------
# training loop
t0 = time.time()
for step in range(max_steps):
    idx = torch.randint(0, n_train, (batch_size,), device=device)          # (B,)
    photo_emb, text_emb = model(train_photos[idx], train_texts[idx])       # (B, E), (B, E)
    loss = contrastive_loss(photo_emb, text_emb)
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    optimizer.step()
    scheduler.step()
    if step % log_interval == 0 or step == max_steps - 1:
        print(f"step {step:4d} | loss {loss.item():.4f} | lr {scheduler.get_last_lr()[0]:.2e}")

print(f"trained {max_steps} steps in {time.time() - t0:.1f}s")
photo_to_text, text_to_photo = retrieval_top1(val_photos, val_texts)
print(f"val top-1 among {n_val}: photo -> listing {photo_to_text:.3f} | listing -> photo {text_to_photo:.3f}")
