# doctor corpus: knowledge distillation on synthetic sensor activity data: wide BN/dropout teacher, then a small student trained with KL(T) + CE
# modelled on: Hinton et al. "Distilling the Knowledge in a Neural Network" as in the PyTorch knowledge-distillation tutorial (soft targets, T^2 scaling)
# expect: none
import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.utils.data import TensorDataset, DataLoader

# ---------------- config ----------------
SEED = 21
N_FEATURES, N_CLASSES = 24, 6
N_TRAIN, N_VAL = 6000, 1500
BATCH = 128
TEACHER_EPOCHS = 4      # 47 batches/epoch
STUDENT_EPOCHS = 5
TEMPERATURE = 4.0
ALPHA = 0.7             # weight of the soft-target term

torch.manual_seed(SEED)
rng = np.random.default_rng(SEED)
device = "cuda" if torch.cuda.is_available() else "cpu"

# ---------------- data: class = argmax of a fixed random nonlinear map, plus 8% label noise ----------------
W1 = rng.normal(size=(N_FEATURES, 32)) / np.sqrt(N_FEATURES)
W2 = rng.normal(size=(32, N_CLASSES)) / np.sqrt(32)


def make_split(n):
    x = rng.normal(size=(n, N_FEATURES)).astype(np.float32)
    y = (np.tanh(x @ W1) @ W2).argmax(1)
    flip = rng.random(n) < 0.08
    y[flip] = rng.integers(0, N_CLASSES, size=flip.sum())
    return torch.from_numpy(x), torch.from_numpy(y)


x_tr, y_tr = make_split(N_TRAIN)
x_va, y_va = make_split(N_VAL)
train_dl = DataLoader(TensorDataset(x_tr, y_tr), batch_size=BATCH, shuffle=True, drop_last=True)

teacher = nn.Sequential(
    nn.Linear(N_FEATURES, 256), nn.BatchNorm1d(256), nn.ReLU(), nn.Dropout(0.2),
    nn.Linear(256, 256), nn.BatchNorm1d(256), nn.ReLU(), nn.Dropout(0.2),
    nn.Linear(256, N_CLASSES),
).to(device)
student = nn.Sequential(nn.Linear(N_FEATURES, 32), nn.ReLU(), nn.Linear(32, N_CLASSES)).to(device)


@torch.no_grad()
def accuracy(model):
    model.eval()
    acc = (model(x_va.to(device)).argmax(1).cpu() == y_va).float().mean().item()
    return acc


# ---------------- phase 1: train the teacher ----------------
t_opt = torch.optim.Adam(teacher.parameters(), lr=2e-3)
for epoch in range(TEACHER_EPOCHS):
    teacher.train()
    for i, (x, y) in enumerate(train_dl):
        x, y = x.to(device), y.to(device)
        loss = F.cross_entropy(teacher(x), y)
        t_opt.zero_grad()
        loss.backward()
        t_opt.step()
        if i % 15 == 0:
            print(f"[teacher] epoch {epoch} batch {i:3d} loss {loss.item():.4f}")
    print(f"[teacher] epoch {epoch} val acc {accuracy(teacher):.3f}")

# ---------------- phase 2: freeze the teacher, distil into the student ----------------
teacher.eval()
for p in teacher.parameters():
    p.requires_grad_(False)
del t_opt

s_opt = torch.optim.SGD(student.parameters(), lr=0.1, momentum=0.9, weight_decay=1e-4)
for epoch in range(STUDENT_EPOCHS):
    student.train()
    for i, (x, y) in enumerate(train_dl):
        x, y = x.to(device), y.to(device)
        with torch.no_grad():
            t_logits = teacher(x)                         # (B, C)
        s_logits = student(x)                             # (B, C)
        soft = F.kl_div(F.log_softmax(s_logits / TEMPERATURE, dim=-1),
                        F.softmax(t_logits / TEMPERATURE, dim=-1),
                        reduction="batchmean") * TEMPERATURE ** 2
        hard = F.cross_entropy(s_logits, y)
        loss = ALPHA * soft + (1 - ALPHA) * hard
        s_opt.zero_grad()
        loss.backward()
        s_opt.step()
        if i % 15 == 0:
            print(f"[student] epoch {epoch} batch {i:3d} loss {loss.item():.4f} (kd {soft.item():.4f}, ce {hard.item():.4f})")
    print(f"[student] epoch {epoch} val acc {accuracy(student):.3f}")

print(f"final: teacher acc {accuracy(teacher):.3f}  student acc {accuracy(student):.3f}")
