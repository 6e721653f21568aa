"""Bug: every step's activations (with their graph) are kept in a list."""
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
optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
weights = torch.randn(16, 4)
features = []
for step in range(STEPS):
    x = torch.randn(32, 16)
    y = (x @ weights).argmax(dim=1)
    hidden = model.encoder(torch.randn(256, 16))
    features.append(hidden)
    loss = nn.functional.cross_entropy(model(x), y)
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
    if step % 40 == 0:
        print(f"step {step} loss {loss.item():.4f}")
