"""Bug: a weight is a raw tensor with requires_grad, not an nn.Parameter."""
import torch
import torch.nn as nn

torch.manual_seed(0)
STEPS = 120


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.encoder = nn.Sequential(nn.Linear(16, 32), nn.ReLU())
        self.head = nn.Linear(32, 4)

    def forward(self, x):
        return self.head(self.encoder(x))


model = Net()
scale = torch.ones(4, requires_grad=True)
optimizer = torch.optim.SGD([*model.parameters(), scale], lr=0.1)
weights = torch.randn(16, 4)
for step in range(STEPS):
    x = torch.randn(32, 16)
    y = (x @ weights).argmax(dim=1)
    loss = nn.functional.cross_entropy(model(x) * scale, y)
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
    if step % 40 == 0:
        print(f"step {step} loss {loss.item():.4f}")
