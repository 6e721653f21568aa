# doctor corpus: LSTMCell next-value predictor on sine waves fit with LBFGS; the closure zeroes grads, runs backward and prints the loss (many backward calls per step)
# modelled on: pytorch/examples time_sequence_prediction (LBFGS + closure)
# expect: none
import numpy as np
import torch
import torch.nn as nn

# ---- config ----
SEED = 8
N_SEQ, SEQ_LEN, PERIOD = 36, 45, 20.0
N_TEST = 4
HIDDEN = 24
STEPS = 15                 # optimizer.step(closure) calls
MAX_ITER = 5               # closure evaluations per LBFGS step (at most)
LR = 0.8
FUTURE = 20
device = "cuda" if torch.cuda.is_available() else "cpu"
torch.manual_seed(SEED)
np.random.seed(SEED)

# ---- data: shifted sine waves; predict x[t+1] from x[<=t] ----
shift = np.random.randint(-4 * int(PERIOD), 4 * int(PERIOD), size=(N_SEQ, 1))
t = np.arange(SEQ_LEN + 1)[None, :] + shift
waves = torch.from_numpy(np.sin(2 * np.pi * t / PERIOD))      # [N, L+1] float64, as in the example
inputs, targets = waves[N_TEST:, :-1].to(device), waves[N_TEST:, 1:].to(device)                # [N-4, L]
test_in, test_tgt = waves[:N_TEST, :-1].to(device), waves[:N_TEST, 1:].to(device)              # [4, L]


# ---- model: two stacked LSTM cells unrolled by hand ----
class Sequence(nn.Module):
    def __init__(self):
        super().__init__()
        self.lstm1 = nn.LSTMCell(1, HIDDEN)
        self.lstm2 = nn.LSTMCell(HIDDEN, HIDDEN)
        self.linear = nn.Linear(HIDDEN, 1)

    def forward(self, x, future=0):                          # x: [B, L]
        b = x.size(0)
        h1 = c1 = x.new_zeros(b, HIDDEN)
        h2 = c2 = x.new_zeros(b, HIDDEN)
        outputs = []
        for x_t in x.split(1, dim=1):                        # x_t: [B, 1]
            h1, c1 = self.lstm1(x_t, (h1, c1))
            h2, c2 = self.lstm2(h1, (h2, c2))
            out = self.linear(h2)                            # [B, 1]
            outputs.append(out)
        for _ in range(future):                              # feed predictions back in
            h1, c1 = self.lstm1(out, (h1, c1))
            h2, c2 = self.lstm2(h1, (h2, c2))
            out = self.linear(h2)
            outputs.append(out)
        return torch.cat(outputs, dim=1)                     # [B, L + future]


model = Sequence().double().to(device)   # LBFGS line searches behave better in double
criterion = nn.MSELoss()
optimizer = torch.optim.LBFGS(model.parameters(), lr=LR, max_iter=MAX_ITER)

# ---- training ----
for step in range(STEPS):
    print(f"STEP {step}")

    def closure():
        optimizer.zero_grad()
        out = model(inputs)
        loss = criterion(out, targets)
        print(f"  loss: {loss.item():.6f}")
        loss.backward()
        return loss

    optimizer.step(closure)

    # ---- evaluation: teacher-forced test loss + free-running continuation ----
    model.eval()
    with torch.no_grad():
        pred = model(test_in, future=FUTURE)                  # [4, L + FUTURE]
        test_loss = criterion(pred[:, :-FUTURE], test_tgt)
    model.train()
    print(f"  test loss: {test_loss.item():.6f}")

future_y = pred[:, -FUTURE:].cpu().numpy()
print(f"free-running continuation range [{future_y.min():.2f}, {future_y.max():.2f}]")
