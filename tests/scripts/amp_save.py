"""A correct loop with a GradScaler that saves the whole model with torch.save: the harness must
report the loss, not scaler.scale(loss), and its hooks must not stop the model from pickling."""
import pickle, io
import torch, torch.nn as nn
torch.manual_seed(0)
model = nn.Sequential(nn.Linear(8, 16), nn.ReLU(), nn.Linear(16, 1))
opt = torch.optim.SGD(model.parameters(), lr=0.05)
scaler = torch.amp.GradScaler("cpu", init_scale=1024.0)
w = torch.randn(8, 1)
for step in range(80):
    x = torch.randn(32, 8)
    y = x @ w
    with torch.autocast("cpu", dtype=torch.bfloat16):
        loss = nn.functional.mse_loss(model(x).float(), y)
    opt.zero_grad()
    scaler.scale(loss).backward()
    scaler.step(opt)
    scaler.update()
torch.save(model, io.BytesIO())
print("saved whole model", loss.item())
