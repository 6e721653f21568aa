"""Train a 1-D conv net to classify noisy waveforms, then report accuracy and embedding quality.

Shapes: N waveforms, B batch, L samples per waveform, C conv channels, E embedding width.
"""
import math

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.utils.data import DataLoader, TensorDataset

# -----------------------------------------------------------------------------
# config
signal_len = 64        # samples per waveform
n_classes = 4          # sine, square, sawtooth, pulse train
noise_std = 0.4        # Gaussian noise added to every waveform
n_train = 6400         # training waveforms
n_val = 1024           # validation waveforms
batch_size = 64        # waveforms per optimizer step
epochs = 2             # passes over the training set
channels = 32          # conv channels
embed_dim = 256        # width of the embedding the classifier reads
learning_rate = 5e-3   # AdamW learning rate
weight_decay = 1e-2    # AdamW weight decay
log_interval = 40      # steps between progress lines
seed = 0
# -----------------------------------------------------------------------------

torch.manual_seed(seed)
device = "cuda" if torch.cuda.is_available() else "mps" if torch.backends.mps.is_available() else "cpu"
dtype = torch.float32


def make_waveforms(n, sample_seed):
    """Random frequency, phase and amplitude per waveform; the label is the wave shape."""
    g = torch.Generator().manual_seed(sample_seed)
    y = torch.randint(0, n_classes, (n,), generator=g)  # (N,)
    cycles = 1.5 + 4.5 * torch.rand(n, 1, generator=g)  # (N, 1) cycles per window
    phase = torch.rand(n, 1, generator=g)  # (N, 1) in cycles
    amplitude = 0.5 + torch.rand(n, 1, generator=g)  # (N, 1)
    t = torch.arange(signal_len) / signal_len  # (L,)
    u = (cycles * t + phase) % 1.0  # (N, L) position within the current cycle
    shapes = torch.stack([
        torch.sin(2 * math.pi * u),
        torch.sign(0.5 - u),
        2 * u - 1,
        torch.where(u < 0.25, 1.0, -0.33),
    ], dim=1)  # (N, n_classes, L)
    x = amplitude * shapes[torch.arange(n), y] + noise_std * torch.randn(n, signal_len, generator=g)  # (N, L)
    return x.unsqueeze(1).to(dtype), y  # (N, 1, L), (N,)


x_train, y_train = make_waveforms(n_train, sample_seed=seed)
x_val, y_val = make_waveforms(n_val, sample_seed=seed + 1)
train_loader = DataLoader(TensorDataset(x_train, y_train), batch_size=batch_size, shuffle=True, drop_last=True)


class WaveClassifier(nn.Module):
    def __init__(self):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv1d(1, channels, 7, stride=2, padding=3), nn.GELU(),  # (B, C, L/2)
            nn.Conv1d(channels, channels, 5, stride=2, padding=2), nn.GELU(),  # (B, C, L/4)
            nn.AdaptiveAvgPool1d(1), nn.Flatten(),  # (B, C)
            nn.Linear(channels, embed_dim), nn.GELU(),  # (B, E)
        )
        self.classifier = nn.Linear(embed_dim, n_classes)

    def forward(self, x):  # x: (B, 1, L)
        return self.classifier(self.features(x))  # (B, n_classes)


model = WaveClassifier().to(device)

# Penultimate-layer features, for the embedding report at the end.
embeddings = []


def save_embedding(module, inputs, output):
    embeddings.append(output)


model.features.register_forward_hook(save_embedding)

optimizer = torch.optim.AdamW(model.parameters(), lr=learning_rate, weight_decay=weight_decay)
n_steps = epochs * len(train_loader)
scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=n_steps)

step = 0
for epoch in range(epochs):
    model.train()
    for x, y in train_loader:
        x, y = x.to(device), y.to(device)  # (B, 1, L), (B,)
        logits = model(x)  # (B, n_classes)
        loss = F.cross_entropy(logits, y)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        scheduler.step()
        if step % log_interval == 0 or step == n_steps - 1:
            print(f"epoch {epoch} | step {step:4d} | loss {loss.item():.4f}")
        step += 1


@torch.no_grad()
def evaluate(x, y):
    """Classifier accuracy, and nearest-centroid accuracy of the embeddings (how well they cluster)."""
    model.eval()
    embeddings.clear()
    x, y = x.to(device), y.to(device)
    preds = torch.cat([model(xb).argmax(dim=-1) for xb in x.split(256)])  # (N,)
    emb = F.normalize(torch.cat(embeddings), dim=-1)  # (N, E)
    assert emb.shape == (len(x), embed_dim), f"expected one embedding per validation waveform, got {tuple(emb.shape)}"
    centroids = F.normalize(torch.stack([emb[y == c].mean(dim=0) for c in range(n_classes)]), dim=-1)  # (n_classes, E)
    nearest = (emb @ centroids.T).argmax(dim=-1)  # (N,)
    return (preds == y).float().mean().item(), (nearest == y).float().mean().item()


val_acc, centroid_acc = evaluate(x_val, y_val)
print(f"val accuracy {val_acc:.3f} | embedding nearest-centroid accuracy {centroid_acc:.3f}")
