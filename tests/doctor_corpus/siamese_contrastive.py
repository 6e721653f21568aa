# doctor corpus: siamese MIL bag encoder called twice per step with a margin contrastive loss; attention softmax over dim 0 is right because dim 0 indexes the instances of ONE bag
# modelled on: Hadsell et al. contrastive loss (pytorch siamese tutorials) + Ilse et al. attention-based MIL pooling
# expect: none
import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

# ---- config ----
SEED = 12
NUM_CLASSES, IN_DIM, EMB_DIM = 4, 16, 8
BAG_MIN, BAG_MAX, KEY_MIN = 6, 16, 2
STEPS = 500                # one pair of bags per step
MARGIN = 2.0
LR = 1e-3
N_VAL_PAIRS = 300
device = "cuda" if torch.cuda.is_available() else "cpu"
torch.manual_seed(SEED)
rng = np.random.default_rng(SEED)

# ---- data: a bag is a set of instances; a few "key" instances reveal the bag's class ----
prototypes = rng.normal(0, 1, (NUM_CLASSES, IN_DIM)).astype(np.float32) * 1.5


def make_bag(label):
    n = rng.integers(BAG_MIN, BAG_MAX + 1)
    bag = rng.normal(0, 1, (n, IN_DIM)).astype(np.float32)                  # background
    k = rng.integers(KEY_MIN, n // 2 + 1)
    bag[:k] = prototypes[label] + 0.5 * rng.normal(0, 1, (k, IN_DIM))
    rng.shuffle(bag)
    return torch.from_numpy(bag)                                             # [n_instances, D]


def make_pair():
    a = int(rng.integers(NUM_CLASSES))
    same = rng.random() < 0.5
    b = a if same else int((a + rng.integers(1, NUM_CLASSES)) % NUM_CLASSES)
    return make_bag(a).to(device), make_bag(b).to(device), torch.tensor(float(same), device=device)


val_pairs = [make_pair() for _ in range(N_VAL_PAIRS)]


# ---- model: instance MLP -> gated attention pooling over the bag -> embedding ----
class BagEncoder(nn.Module):
    def __init__(self):
        super().__init__()
        self.instance = nn.Sequential(nn.Linear(IN_DIM, 32), nn.ReLU(), nn.Linear(32, 32), nn.ReLU())
        self.att_v = nn.Linear(32, 16)
        self.att_u = nn.Linear(32, 16)
        self.att_w = nn.Linear(16, 1)
        self.out = nn.Linear(32, EMB_DIM)

    def forward(self, bag):                                                  # bag: [n, D], one bag
        h = self.instance(bag)                                               # [n, 32]
        scores = self.att_w(torch.tanh(self.att_v(h)) * torch.sigmoid(self.att_u(h)))  # [n, 1]
        attn = torch.softmax(scores, dim=0)          # over the instances of this bag, sums to 1
        pooled = (attn * h).sum(0)                                           # [32]
        return self.out(pooled)                                              # [EMB_DIM]


def contrastive_loss(z1, z2, same):
    d = F.pairwise_distance(z1.unsqueeze(0), z2.unsqueeze(0)).squeeze(0)    # scalar distance
    return same * d.pow(2) + (1 - same) * F.relu(MARGIN - d).pow(2)


encoder = BagEncoder().to(device)
optimizer = torch.optim.Adam(encoder.parameters(), lr=LR)


def evaluate():
    encoder.eval()
    with torch.no_grad():
        z_a = torch.stack([encoder(a) for a, _, _ in val_pairs])               # [P, EMB_DIM]
        z_b = torch.stack([encoder(b) for _, b, _ in val_pairs])               # [P, EMB_DIM]
        y = torch.stack([s for _, _, s in val_pairs])                          # [P]
        d = F.pairwise_distance(z_a, z_b)                                      # [P]
        loss = (y * d.pow(2) + (1 - y) * F.relu(MARGIN - d).pow(2)).mean()
    encoder.train()
    acc = ((d < MARGIN / 2).float() == y).float().mean()                     # verify at half margin
    return loss.item(), acc.item()


# ---- training: the same encoder (shared weights) embeds both bags ----
val_loss, val_acc = evaluate()
print(f"before: val_loss {val_loss:.4f} verify_acc {val_acc:.3f}")
running = 0.0
for step in range(1, STEPS + 1):
    bag_a, bag_b, same = make_pair()
    z_a = encoder(bag_a)                                                     # forward pass 1
    z_b = encoder(bag_b)                                                     # forward pass 2
    loss = contrastive_loss(z_a, z_b, same)
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    optimizer.step()
    running += loss.item()
    if step % 50 == 0:
        print(f"step {step:4d} avg loss (last 50) {running / 50:.4f}")
        running = 0.0
    if step % 250 == 0:
        val_loss, val_acc = evaluate()
        print(f"step {step:4d} val_loss {val_loss:.4f} verify_acc {val_acc:.3f}")
