"""Bug: each item is slow to produce, so the loop waits on the DataLoader."""
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
class Slow(torch.utils.data.Dataset):
    def __len__(self):
        return STEPS * 32

    def __getitem__(self, i):
        import time
        time.sleep(0.0005)
        x = torch.randn(16)
        return x, (x @ weights).argmax()


for step, (x, y) in enumerate(torch.utils.data.DataLoader(Slow(), batch_size=32)):
    loss = nn.functional.cross_entropy(model(x), y)
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
    if step % 40 == 0:
        print(f"step {step} loss {loss.item():.4f}")
