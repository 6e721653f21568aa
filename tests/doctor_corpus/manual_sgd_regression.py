# doctor corpus: polynomial regression with hand-written SGD under torch.no_grad() (w -= lr * w.grad; grad.zero_()), no torch.optim at all
# modelled on: pytorch/examples regression/main.py (fit a random polynomial with manual parameter updates)
# expect: none
import torch

# ---- config ----
SEED = 9
POLY_DEGREE = 4
BATCH = 4096
STEPS = 600
LR = 0.3
NOISE = 0.05
device = "cuda" if torch.cuda.is_available() else "cpu"
torch.manual_seed(SEED)

# ---- ground truth: y = W_target . [x, x^2, x^3, x^4] + b_target ----
W_target = (torch.randn(POLY_DEGREE, 1) * 2).to(device)                 # [4, 1]
b_target = (torch.randn(1) * 2).to(device)                              # [1]


def make_features(x):
    """x: [B] -> [B, POLY_DEGREE] with columns x, x^2, ..., x^POLY_DEGREE."""
    x = x.unsqueeze(1)
    return torch.cat([x ** i for i in range(1, POLY_DEGREE + 1)], 1)


def f(x):
    return x.mm(W_target) + b_target                                     # [B, 1]


def poly_desc(w, b):
    terms = " ".join(f"{c:+.2f} x^{i}" for i, c in enumerate(w.view(-1).tolist(), 1))
    return f"y = {terms} {b.item():+.2f}"


def get_batch(batch_size=BATCH):
    x = torch.rand(batch_size, device=device) * 2 - 1                   # uniform in [-1, 1]
    feats = make_features(x)                                             # [B, 4]
    return feats, f(feats) + NOISE * torch.randn(batch_size, 1, device=device)


# ---- model: raw leaf tensors, no nn.Module ----
w = torch.zeros(POLY_DEGREE, 1, device=device, requires_grad=True)      # [4, 1]
b = torch.zeros(1, device=device, requires_grad=True)                   # [1]

val_x, val_y = get_batch(1024)
with torch.no_grad():
    init_val = torch.mean((val_x.mm(w) + b - val_y) ** 2).item()
print(f"initial val mse {init_val:.4f}")

# ---- training: plain SGD written out by hand ----
for step in range(1, STEPS + 1):
    batch_x, batch_y = get_batch()
    pred = batch_x.mm(w) + b                                             # [B, 1]
    loss = torch.mean((pred - batch_y) ** 2)
    loss.backward()

    with torch.no_grad():                     # the update itself must not be recorded
        w -= LR * w.grad
        b -= LR * b.grad
        w.grad.zero_()
        b.grad.zero_()

    if step == 1 or step % 75 == 0:
        print(f"step {step:4d} loss {loss.item():.4f}")

# ---- evaluation ----
with torch.no_grad():
    val_mse = torch.mean((val_x.mm(w) + b - val_y) ** 2).item()
print(f"val mse {val_mse:.4f} (initial {init_val:.4f}, noise floor {NOISE ** 2:.4f})")
print("==> Learned function:\t" + poly_desc(w, b))
print("==> Actual function:\t" + poly_desc(W_target, b_target))
