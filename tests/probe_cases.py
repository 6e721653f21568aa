"""Bug-present variants of tests/scripts/base.py, one bug each, written out when a test needs them.

Each variant is (docstring, [(text in base.py, replacement), ...]); every replacement must apply.
"""

from pathlib import Path

BASE = Path(__file__).resolve().parent / "scripts" / "base.py"

VARIANTS = {
    "detached": (
        "Bug: the encoder's output is detached, so the encoder never gets a gradient.",
        [("return self.head(self.encoder(x))", "return self.head(self.encoder(x).detach())")],
    ),
    "stale_grad": (
        "Bug: zero_grad is never called, so gradients add up across steps.",
        [("    optimizer.zero_grad()\n", "")],
    ),
    "raw_weight": (
        "Bug: a weight is a raw tensor with requires_grad, not an nn.Parameter.",
        [
            ("model = Net()\n", "model = Net()\nscale = torch.ones(4, requires_grad=True)\n"),
            ("torch.optim.SGD(model.parameters(), lr=0.1)", "torch.optim.SGD([*model.parameters(), scale], lr=0.1)"),
            ("model(x), y)", "model(x) * scale, y)"),
        ],
    ),
    "no_optimizer": (
        "Bug: the head's parameters are not given to the optimizer.",
        [("torch.optim.SGD(model.parameters(), lr=0.1)", "torch.optim.SGD(model.encoder.parameters(), lr=0.1)")],
    ),
    "leak_loss": (
        "Bug: the running loss is accumulated as a tensor, chaining every step's graph.",
        [
            ("weights = torch.randn(16, 4)\n", "weights = torch.randn(16, 4)\nrunning = 0.0\n"),
            ("    optimizer.step()\n", "    optimizer.step()\n    running = running + loss\n"),
        ],
    ),
    "leak_list": (
        "Bug: every step's activations (with their graph) are kept in a list.",
        [
            ("weights = torch.randn(16, 4)\n", "weights = torch.randn(16, 4)\nfeatures = []\n"),
            (
                "    loss = nn.functional.cross_entropy(model(x), y)\n",
                "    hidden = model.encoder(torch.randn(256, 16))\n    features.append(hidden)\n"
                "    loss = nn.functional.cross_entropy(model(x), y)\n",
            ),
        ],
    ),
    "nan_mid": (
        "Bug: from step 60 the encoder's output is divided by zero, so a NaN appears mid-training.",
        [
            (
                "class Net(nn.Module):",
                "class Scale(nn.Module):\n    def __init__(self):\n        super().__init__()\n        self.calls = 0\n\n"
                "    def forward(self, x):\n        self.calls += 1\n        return x / (0.0 if self.calls > 60 else 1.0)\n\n\n"
                "class Net(nn.Module):",
            ),
            ("nn.Sequential(nn.Linear(16, 32), nn.ReLU())", "nn.Sequential(nn.Linear(16, 32), nn.ReLU(), Scale())"),
        ],
    ),
    "sync_every_step": (
        "Bug: .item() on every step makes the host wait for the device every step.",
        [("    if step % 40 == 0:\n        print", "    value = loss.item()\n    if step % 40 == 0:\n        print")],
    ),
    "slow_loader": (
        "Bug: each item is slow to produce, so the loop waits on the DataLoader.",
        [
            (
                "for step in range(STEPS):\n    x = torch.randn(32, 16)\n    y = (x @ weights).argmax(dim=1)\n",
                "class Slow(torch.utils.data.Dataset):\n    def __len__(self):\n        return STEPS * 32\n\n"
                "    def __getitem__(self, i):\n        import time\n        time.sleep(0.0005)\n        x = torch.randn(16)\n"
                "        return x, (x @ weights).argmax()\n\n\n"
                "for step, (x, y) in enumerate(torch.utils.data.DataLoader(Slow(), batch_size=32)):\n",
            )
        ],
    ),
    "eval_left_on": (
        "Bug: an evaluation at step 30 calls model.eval() and training goes on in eval mode (Dropout off).",
        [
            ("nn.Sequential(nn.Linear(16, 32), nn.ReLU())", "nn.Sequential(nn.Linear(16, 32), nn.ReLU(), nn.Dropout(0.1))"),
            ("    if step % 40 == 0:\n", "    if step == 30:\n        model.eval()\n        with torch.no_grad():\n            model(x)\n    if step % 40 == 0:\n"),
        ],
    ),
    "resumed_nan": (
        "Bug: after a resume from a checkpoint at step 30, the rebuilt model divides by zero from its 31st forward.",
        [
            (
                "class Net(nn.Module):",
                "class Scale(nn.Module):\n    def __init__(self):\n        super().__init__()\n        self.calls = 0\n\n"
                "    def forward(self, x):\n        self.calls += 1\n        return x / (0.0 if self.calls > 30 else 1.0)\n\n\n"
                "class Net(nn.Module):",
            ),
            ("nn.Sequential(nn.Linear(16, 32), nn.ReLU())", "nn.Sequential(nn.Linear(16, 32), nn.ReLU(), Scale())"),
            ("for step in range(STEPS):\n", "for step in range(STEPS):\n" + "RESUME"),
        ],
    ),
}

# Bug-absent counterparts of some variants: the same structure, done right.
CLEAN_VARIANTS = {
    "loader_reads_values": (
        "No bug: the Dataset reads tensor values with .item() and bool(): host code, before anything reaches the device.",
        [
            (
                "for step in range(STEPS):\n    x = torch.randn(32, 16)\n    y = (x @ weights).argmax(dim=1)\n",
                "class Batches(torch.utils.data.Dataset):\n    def __init__(self):\n        self.x = torch.randn(STEPS * 32, 16)\n\n"
                "    def __len__(self):\n        return STEPS\n\n"
                "    def __getitem__(self, i):\n        x = self.x[i * 32 : (i + 1) * 32]\n        if bool(x.abs().max() > 10):\n            x = x.clamp(-10, 10)\n"
                "        assert x.shape[0] == 32, f'short batch at {x.mean().item()}'\n"
                "        return x, (x @ weights).argmax(dim=1)\n\n\n"
                "for step, (x, y) in enumerate(torch.utils.data.DataLoader(Batches(), batch_size=None)):\n",
            )
        ],
    ),
    "eval_restored": (
        "No bug: an evaluation at step 30 calls model.eval(), then model.train() before training goes on.",
        [
            ("nn.Sequential(nn.Linear(16, 32), nn.ReLU())", "nn.Sequential(nn.Linear(16, 32), nn.ReLU(), nn.Dropout(0.1))"),
            (
                "    if step % 40 == 0:\n",
                "    if step == 30:\n        model.eval()\n        with torch.no_grad():\n            model(x)\n        model.train()\n"
                "    if step % 40 == 0:\n",
            ),
        ],
    ),
    "dist_new_sampler_each_epoch": (
        "No bug: a new DistributedSampler every epoch, seeded with the epoch, so each epoch has its own order.",
        [
            ("    sampler.set_epoch(epoch)\n    for xb, yb in loader:\n",
             "    sampler = DistributedSampler(TensorDataset(x, y), num_replicas=world, rank=rank, shuffle=True, seed=epoch)\n"
             "    for xb, yb in DataLoader(TensorDataset(x, y), batch_size=32, sampler=sampler):\n"),
        ],
    ),
    "mse_loss": (
        "No bug: an MSE loss over a batch of 1024; on the CPU its 0-d result views the 16 KB buffer of squared errors.",
        [
            ("x = torch.randn(32, 16)", "x = torch.randn(1024, 16)"),
            ("nn.functional.cross_entropy(model(x), y)", "nn.functional.mse_loss(model(x), nn.functional.one_hot(y, 4).float())"),
        ],
    ),
    "resumed": (
        "No bug: at step 30 the run resumes from a checkpoint into a new model and optimizer, as after a preemption.",
        [("for step in range(STEPS):\n", "for step in range(STEPS):\n" + "RESUME")],
    ),
}
VARIANTS.update(CLEAN_VARIANTS)

# Variants for doctor's findings that the corpus (tests/doctor_corpus) does not cover; each is
# a bug-present case, and base.py (or the variant named in tests/test_doctor.py) the absent one.
DOCTOR_VARIANTS = {
    "eval_with_grad": (
        "Bug: every 20 steps an evaluation runs in eval mode but without torch.no_grad(): its graphs are built for nothing.",
        [
            (
                "    if step % 40 == 0:\n",
                "    if step % 20 == 0:\n        model.eval()\n        for _ in range(3):\n            val = model(torch.randn(64, 16))\n        model.train()\n"
                "    if step % 40 == 0:\n",
            ),
        ],
    ),
    "scheduler_first": (
        "Bug: the scheduler steps before the optimizer.",
        [
            ("torch.optim.SGD(model.parameters(), lr=0.1)\n", "torch.optim.SGD(model.parameters(), lr=0.1)\nscheduler = torch.optim.lr_scheduler.StepLR(optimizer, 1000)\n"),
            ("    loss.backward()\n    optimizer.step()\n", "    loss.backward()\n    scheduler.step()\n    optimizer.step()\n"),
        ],
    ),
    "scheduler_after": (
        "No bug: the scheduler steps after the optimizer.",
        [
            ("torch.optim.SGD(model.parameters(), lr=0.1)\n", "torch.optim.SGD(model.parameters(), lr=0.1)\nscheduler = torch.optim.lr_scheduler.StepLR(optimizer, 1000)\n"),
            ("    loss.backward()\n    optimizer.step()\n", "    loss.backward()\n    optimizer.step()\n    scheduler.step()\n"),
        ],
    ),
    "feature_history": (
        "Bug: every step keeps a detached (256, 32) batch of features for later: the heap grows, no graph leaks.",
        [
            ("weights = torch.randn(16, 4)\n", "weights = torch.randn(16, 4)\nfeatures = []\n"),
            ("    optimizer.step()\n", "    optimizer.step()\n    features.append(model.encoder(torch.randn(256, 16)).detach())\n"),
        ],
    ),
    "noise_targets": (
        "Bug: the targets are fresh noise every step, so nothing can be learned; the loss is written by hand.",
        [("    loss = nn.functional.cross_entropy(model(x), y)\n", "    loss = ((model(x) - torch.randn(32, 4)) ** 2).mean()\n")],
    ),
    "implicit_softmax": (
        "Smell: log_softmax without dim.",
        [("nn.functional.cross_entropy(model(x), y)", "nn.functional.nll_loss(nn.functional.log_softmax(model(x)), y)")],
    ),
}
VARIANTS.update(DOCTOR_VARIANTS)

RESUME = """    if step == 30:
        checkpoint = {"model": model.state_dict(), "optimizer": optimizer.state_dict()}
        model = Net()
        model.load_state_dict(checkpoint["model"])
        optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
        optimizer.load_state_dict(checkpoint["optimizer"])
"""
for _name, (_doc, _edits) in VARIANTS.items():
    VARIANTS[_name] = (_doc, [(old, new.replace("RESUME", RESUME)) for old, new in _edits])


DIST_BASE = BASE.parent / "dist_base.py"
# Variants of dist_base.py, a torchrun job of two ranks.
DIST_VARIANTS = {
    "dist_no_set_epoch": (
        "Bug: sampler.set_epoch is never called, so every epoch visits the data in the same order.",
        [("    sampler.set_epoch(epoch)\n", "")],
    ),
    "dist_every_rank_saves": (
        "Bug: every rank writes the checkpoint to the same file.",
        [("    if rank == 0:\n        torch.save(", "    if True:\n        torch.save(")],
    ),
    "dist_rank_local_lr": (
        "Bug: each rank sets its learning rate from its own, unreduced loss, so the replicas drift apart.",
        [
            (
                "        optimizer.step()\n",
                "        optimizer.step()\n        for group in optimizer.param_groups:\n            group[\"lr\"] = 0.1 * loss.item()\n",
            )
        ],
    ),
}


def write_variant(name: str, folder: Path) -> Path:
    doc, edits = {**VARIANTS, **DIST_VARIANTS}[name]
    source = (DIST_BASE if name.startswith("dist_") else BASE).read_text()
    source = f'"""{doc}"""\n' + source[source.index('"""', 3) + 4 :]
    for old, new in edits:
        assert old in source, f"variant {name}: {old!r} is not in base.py any more"
        source = source.replace(old, new)
    path = folder / f"{name}.py"
    path.write_text(source)
    return path
