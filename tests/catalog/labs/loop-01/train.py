"""A small classifier on a synthetic task (test catalog: gradients accumulate across steps)."""
import torch
import torch.nn as nn

# config
steps = 150        # optimizer steps
batch_size = 32
lr = 0.05

torch.manual_seed(0)
device = "cuda" if torch.cuda.is_available() else "cpu"
teacher = torch.randn(16, 4, generator=torch.Generator().manual_seed(1))


def batch(n: int, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    x = torch.randn(n, 16, generator=generator)  # (B, 16)
    return x, (x @ teacher).argmax(dim=1)  # (B,)


model = nn.Sequential(nn.Linear(16, 64), nn.ReLU(), nn.Linear(64, 4)).to(device)
optimizer = torch.optim.SGD(model.parameters(), lr=lr)
generator = torch.Generator().manual_seed(0)
for step in range(steps):
    x, y = batch(batch_size, generator)
    logits = model(x.to(device))  # (B, 4)
    loss = nn.functional.cross_entropy(logits, y.to(device))
    loss.backward()
    optimizer.step()
    if step % 50 == 0:
        print(f"step {step} | loss {loss.item():.4f}")
