"""Training-loop signals: what a script shows about its own loop, with no reference fix to compare.

- torch's own warnings, with the learner's line that triggered them;
- the learning rate of every step (from the optimizer's param groups) and what the schedulers
  declare as their ceiling;
- the training loss as the loss function computed it, and the loss of the best constant
  prediction for the targets it saw (chance level: label entropy for cross-entropy, target
  variance for MSE, mean label entropy for binary cross-entropy);
- for two steps, every softmax / log_softmax / normalize and every elementwise arithmetic op, to
  find normalisation over the batch axis and a prediction broadcast against its target;
- backward calls per step, and whether each was on a loss divided by a constant (accumulation);
- how the model is run outside training steps: forwards under no_grad in train mode, forwards in
  eval mode that build a graph no backward uses.

Only `summarise` runs in the parent; doctor (debuglab.doctor) turns the figures into findings.
Labs do not list this probe, so it has no lab checks.
"""

from __future__ import annotations

import math
import sys
import weakref

from debuglab.probes.base import Probe, passes_through

LOSS_FUNCTIONS = ("cross_entropy", "nll_loss", "mse_loss", "binary_cross_entropy", "binary_cross_entropy_with_logits")
NORMALISERS = ("softmax", "log_softmax", "normalize")
ARITHMETIC = {"__sub__", "__rsub__", "sub", "__add__", "__radd__", "add", "__mul__", "__rmul__", "mul", "__truediv__", "div"}
INSPECT_STEPS = 2  # steps whose forwards go through the torch-function mode (slow: keep it short)
MAX_WARNINGS = 50
STATS_EVERY_CALL, STATS_SAMPLE = 50, 5  # target statistics from every batch at first, then from every 5th
READ_LOSSES_EVERY = 25  # steps between reading the kept loss tensors back to the host (one sync)


class LoopSignalsProbe(Probe):
    name = "loop_signals"

    def install(self, run) -> None:
        import warnings

        import torch
        import torch.nn.functional as F
        from torch.optim import lr_scheduler

        self.warnings: list[dict] = []
        self.warning_keys: set = set()
        self.lrs: list[list] = []  # [step, lr]
        self.schedulers: list[dict] = []
        self.ceiling: float | None = None
        self.batch_size: int | None = None
        self.pending = None  # the training loss call awaiting its backward: (weakref to output, call)
        self.kind: str | None = None  # the loss function behind backward, when it is one we know
        self.kinds: set[str] = set()
        self.stats = None  # running sums over the targets, for the chance level
        self.calls_counted = 0
        self.loss_tensors: list = []  # (step, loss) kept on the device until the next read
        self.task_losses: list[list] = []  # [step, loss] of the loss function's own output
        self.step_calls: list = []  # this step's known loss outputs
        self.backward_lines: dict[int, int] = {}  # backward calls this step, per line
        self.all_backward_lines: dict[int, int] = {}
        self.backward_scaled: list[bool] = []
        self.accumulation: list[dict] = []  # steps with several backward calls from one line
        self.normalised: dict | None = None
        self.broadcast: dict | None = None
        self.mode = None
        self.inspected: int | None = None  # the step after which the mode was entered
        self.eval_train = {"count": 0, "line": None, "modules": []}
        self.eval_grad = {"count": 0, "line": None}
        self.backward_in_eval = 0
        self.closure_step = False
        self.optimizer_kinds: set[str] = set()
        self.stepping: set[int] = set()
        probe = self

        original_show = warnings.showwarning

        note_warning = run.guarded(probe, "warning hook", probe._warning)

        def showwarning(message, category, filename, lineno, file=None, line=None):
            note_warning(run, message, category, filename, lineno)
            return original_show(message, category, filename, lineno, file, line)

        warnings.showwarning = showwarning

        note_loss = run.guarded(probe, "loss-function wrapper", probe._loss_call)

        def loss_wrapper(kind, original):
            @passes_through
            def loss(input, target, *args, **kwargs):
                output = original(input, target, *args, **kwargs)
                if probe.batch_size is None and isinstance(input, torch.Tensor) and input.dim() >= 1 and torch.is_grad_enabled():
                    probe.batch_size = int(input.shape[0])  # the batch axis, for the torch-function mode
                if run.in_training and torch.is_grad_enabled() and isinstance(output, torch.Tensor) and output.requires_grad:
                    note_loss(kind, input, target, output, args, kwargs)
                return output

            loss.__wrapped__ = original
            return loss

        for kind in LOSS_FUNCTIONS:
            setattr(F, kind, loss_wrapper(kind, getattr(F, kind)))

        original_init = lr_scheduler.LRScheduler.__init__

        def scheduler_init(scheduler, *args, **kwargs):
            original_init(scheduler, *args, **kwargs)
            maxima = getattr(scheduler, "max_lrs", None)
            probe.schedulers.append({"type": type(scheduler).__name__, "max_lrs": [float(m) for m in maxima] if maxima else []})

        lr_scheduler.LRScheduler.__init__ = scheduler_init

    # -- the phases ------------------------------------------------------------------------------
    def on_model(self, run) -> None:
        from torch.nn.modules import module as module_hooks

        if getattr(self, "_hooked", False) or run.model is None:
            return
        self._hooked = True
        module_hooks.register_module_forward_hook(run.guarded(self, "forward hook", lambda module, args, output: self._root_forward(run, module, output) if module is run.model else None))

    def on_backward(self, run, tensor) -> None:
        line = run.script_line(sys._getframe(1))
        self.backward_lines[line] = self.backward_lines.get(line, 0) + 1
        if line in self.all_backward_lines or len(self.all_backward_lines) < 20:
            self.all_backward_lines[line] = self.all_backward_lines.get(line, 0) + 1
        self.backward_scaled.append(_scaled(tensor, scaler_root=run._unscaled[0]() is tensor))
        pending, self.pending = self.pending, None
        if pending is not None:
            output = pending[0]()
            if output is not None and _reaches(tensor, output):
                self._count_call(output, *pending[1])
        if run.model is not None and not run.model.training:
            self.backward_in_eval += 1

    def before_step(self, run, optimizer) -> None:
        self.stepping.add(id(optimizer))
        self.optimizer_kinds.add(type(optimizer).__name__)
        # Several backward calls from one line before one step: micro-batches accumulated. Only
        # the calls before the step count: LBFGS's closure calls backward inside step().
        repeated = max(self.backward_lines.values(), default=0)
        if repeated >= 2 and len(self.accumulation) < 200:
            line = max(self.backward_lines, key=self.backward_lines.get)
            self.accumulation.append({"step": run.step + 1, "calls": repeated, "line": line, "scaled": all(self.backward_scaled)})
        self.backward_lines, self.backward_scaled = {}, []

    def after_step(self, run, record: dict) -> None:
        step = run.step
        optimizer = run.lead
        groups = getattr(optimizer, "param_groups", None) or []
        lrs = [_number(g.get("lr")) for g in groups]
        lrs = [v for v in lrs if v is not None]
        if lrs:
            record["lr"] = max(lrs)
            if self.ceiling is None:  # what the optimizer was built with, or what a scheduler declared
                declared = [_number(g.get(key)) for g in groups for key in ("initial_lr", "max_lr")]
                self.ceiling = max([v for v in declared if v is not None] + [max(lrs)])
        self.backward_lines, self.backward_scaled = {}, []  # calls inside step() (a closure) are not micro-batches
        if self.step_calls:
            import torch

            values = self.step_calls
            self.loss_tensors.append((step, torch.stack(values).float().mean() if len(values) > 1 else values[0]))
            self.step_calls = []
        if len(self.loss_tensors) >= READ_LOSSES_EVERY:
            self._read_losses()
        self._inspect(run, step)

    def finish(self, run) -> dict:
        self._stop_inspecting()
        self._read_losses()
        return {
            "warnings": self.warnings,
            "schedulers": self.schedulers,
            "ceiling": self.ceiling,
            "loss_kind": self.kind if len(self.kinds) == 1 else None,
            "loss_kinds": sorted(self.kinds),
            "chance": self._chance(),
            "task_losses": self.task_losses,
            "accumulation": self.accumulation,
            "normalised": self.normalised,
            "broadcast": self.broadcast,
            "eval_train": self.eval_train,
            "eval_grad": self.eval_grad,
            "backward_in_eval": self.backward_in_eval,
            "optimizers_stepping": len(self.stepping),
            "optimizer_kinds": sorted(self.optimizer_kinds),
            "batch_size": self.batch_size,
            "backward_line": max(self.all_backward_lines, key=self.all_backward_lines.get) if self.all_backward_lines else None,
            "manual": getattr(run.lead, "manual", False),
        }

    def summarise(self, evidence) -> dict:
        lrs = [r["lr"] for r in evidence.steps if r.get("lr") is not None]
        return {"lr_first": lrs[0], "lr_last": lrs[-1], "lr_peak": max(lrs)} if lrs else {}

    # -- child-side helpers ----------------------------------------------------------------------
    def _warning(self, run, message, category, filename, lineno) -> None:
        text = str(message)
        key = (category.__name__, text[:200])
        if key in self.warning_keys or len(self.warnings) >= MAX_WARNINGS:
            return
        self.warning_keys.add(key)
        line = run.script_line(sys._getframe(2))
        from_torch = "torch" in str(filename).replace("\\", "/").split("/") or filename == run.script
        self.warnings.append(
            {"category": category.__name__, "message": text, "file": str(filename), "lineno": lineno, "line": line,
             "step": run.step, "in_training": run.in_training, "torch": from_torch}
        )

    def _loss_call(self, kind, input, target, output, args, kwargs) -> None:
        reduction = kwargs.get("reduction", "mean")
        weighted = kwargs.get("weight") is not None or kwargs.get("pos_weight") is not None
        # Chance level is defined for a mean over the batch with equal weights.
        usable = reduction == "mean" and not weighted and output.numel() == 1 and not args
        # The output only by weak reference: holding it would keep its graph alive.
        options = {k: kwargs[k] for k in ("ignore_index",) if k in kwargs}
        self.pending = (weakref.ref(output), (kind, tuple(input.shape), target.detach(), usable, options))

    def _count_call(self, output, kind, input_shape, target, usable, kwargs) -> None:
        import torch

        self.kinds.add(kind)
        self.kind = kind
        self.step_calls.append(output.detach().clone())
        self.calls_counted += 1
        if not usable or self.stats == "unknown" or (self.calls_counted > STATS_EVERY_CALL and self.calls_counted % STATS_SAMPLE):
            return  # the label frequencies are an estimate: every batch at first, then every STATS_SAMPLE-th
        with torch.no_grad():
            new = _target_stats(kind, input_shape, target, kwargs)
        if new is None:
            self.stats = "unknown"
            return
        if self.stats is None:
            self.stats = (kind, list(new))
        elif self.stats[0] != kind or any(a.shape != b.shape for a, b in zip(self.stats[1], new)):
            self.stats = "unknown"
        else:
            self.stats = (kind, [a + b for a, b in zip(self.stats[1], new)])

    def _chance(self) -> float | None:
        if not isinstance(self.stats, tuple):
            return None
        kind, sums = self.stats
        return _chance_level(kind, sums)

    def _read_losses(self) -> None:
        if not self.loss_tensors:
            return
        import torch

        values = torch.stack([t.float() for _, t in self.loss_tensors]).cpu().tolist()
        self.task_losses.extend([step, value] for (step, _), value in zip(self.loss_tensors, values))
        self.loss_tensors = []

    def _root_forward(self, run, module, output) -> None:
        import torch

        if not torch.is_grad_enabled() or torch.is_inference_mode_enabled():
            if module.training:
                active = _active_mode_modules(module)
                if active:
                    self.eval_train["count"] += 1
                    if self.eval_train["line"] is None:
                        self.eval_train.update(line=run.script_line(sys._getframe(1)), modules=active[:4], step=run.step)
        elif not module.training and _requires_grad(output):
            self.eval_grad["count"] += 1
            if self.eval_grad["line"] is None:
                self.eval_grad.update(line=run.script_line(sys._getframe(1)), step=run.step)

    def _inspect(self, run, step: int) -> None:
        """A torch-function mode over the forwards of INSPECT_STEPS steps, from the first step
        after the batch size is known: every op passes through Python there, so only a few."""
        if self.mode is None and self.inspected is None and self.batch_size and self.batch_size > 1:
            try:
                self.mode = _InspectMode(self, run)
                self.mode.__enter__()
                self.inspected = step
            except Exception:
                self.mode, self.inspected = None, step
        elif self.mode is not None and step >= self.inspected + INSPECT_STEPS:
            self._stop_inspecting()

    def _stop_inspecting(self) -> None:
        mode, self.mode = self.mode, None
        if mode is not None:
            try:
                mode.__exit__(None, None, None)
            except Exception:
                pass

    def _seen_op(self, run, func, args, kwargs, result) -> None:
        import torch

        name = getattr(func, "__name__", "")
        batch = self.batch_size
        if name in NORMALISERS and self.normalised is None and args and isinstance(args[0], torch.Tensor):
            x = args[0]
            dim = _dim_argument(name, args, kwargs, x.dim())
            if dim == 0 and x.dim() >= 2 and x.shape[0] == batch and x.numel() > x.shape[0]:
                self.normalised = {"op": name, "shape": list(x.shape), "dim": 0, "line": run.script_line(sys._getframe(2)), "step": run.step + 1}
        elif name in ARITHMETIC and self.broadcast is None and len(args) >= 2:
            a, b = args[0], args[1]
            if not (isinstance(a, torch.Tensor) and isinstance(b, torch.Tensor) and isinstance(result, torch.Tensor)):
                return
            if not (a.is_floating_point() and b.is_floating_point()) or a.requires_grad == b.requires_grad:
                return
            shapes = sorted([tuple(a.shape), tuple(b.shape)], key=len)
            # (B,) against (B, 1): a column of predictions against a row of targets makes (B, B).
            if shapes[0] == (batch,) and shapes[1] == (batch, 1) and tuple(result.shape) == (batch, batch):
                prediction = a if a.requires_grad else b
                self.broadcast = {
                    "op": name, "prediction": list(prediction.shape), "target": list((b if prediction is a else a).shape),
                    "result": list(result.shape), "line": run.script_line(sys._getframe(2)), "step": run.step + 1,
                }


def _make_mode_class():
    from torch.overrides import TorchFunctionMode

    class InspectMode(TorchFunctionMode):
        def __init__(self, probe, run):
            super().__init__()
            self.probe, self.run = probe, run

        @passes_through
        def __torch_function__(self, func, types, args=(), kwargs=None):
            kwargs = kwargs or {}
            result = func(*args, **kwargs)
            if self.probe in self.run.probes:
                try:
                    self.probe._seen_op(self.run, func, args, kwargs, result)
                except Exception as exc:
                    self.run.drop(self.probe, "torch-function mode", exc)
            return result

    return InspectMode


def _InspectMode(probe, run):
    return _make_mode_class()(probe, run)


def _number(value) -> float | None:
    if value is None:
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def _requires_grad(output) -> bool:
    if isinstance(output, (tuple, list)):
        return any(_requires_grad(o) for o in output)
    if isinstance(output, dict):
        return any(_requires_grad(o) for o in output.values())
    return bool(getattr(output, "requires_grad", False))


def _active_mode_modules(model) -> list[str]:
    """Modules whose forward differs in train mode and that are in train mode now."""
    from torch import nn

    found = []
    for name, m in model.named_modules():
        if not m.training:
            continue
        if (isinstance(m, nn.modules.dropout._DropoutNd) and m.p > 0) or (isinstance(m, nn.modules.batchnorm._BatchNorm) and m.track_running_stats):
            found.append(f"{name} ({type(m).__name__})" if name else type(m).__name__)
    return found


def _scale_chain(node, limit: int = 4):
    """The nodes below a backward root while each is a multiply or divide with one input that
    needs no gradient (a constant: 1/k, a GradScaler's scale): (node, is_constant_scale) pairs."""
    for _ in range(limit):
        if node is None:
            return
        inputs = [n for n, _ in node.next_functions]
        constant = node.name() in ("MulBackward0", "DivBackward0") and len(inputs) == 2 and None in inputs
        yield node, constant
        if not constant:
            return
        node = next(n for n in inputs if n is not None)


def _reaches(tensor, output) -> bool:
    """tensor is output, or output multiplied or divided by constants (loss / k, a GradScaler)."""
    if tensor is output:
        return True
    return any(node is output.grad_fn for node, _ in _scale_chain(tensor.grad_fn, 5))


def _scaled(tensor, scaler_root: bool) -> bool:
    """The backward root is a loss multiplied or divided by a constant (loss / k), not counting
    the multiply by a GradScaler's scale on top."""
    constants = [constant for _, constant in _scale_chain(tensor.grad_fn)]
    return sum(constants) > (1 if scaler_root else 0)


def _dim_argument(name: str, args, kwargs, ndim: int) -> int | None:
    if name == "normalize":
        dim = kwargs.get("dim", args[2] if len(args) > 2 else 1)
    else:
        dim = kwargs.get("dim", args[1] if len(args) > 1 else None)
        if dim is None:  # torch's implicit choice for softmax without dim
            dim = 0 if ndim in (0, 1, 3) else 1
    if not isinstance(dim, int):
        return None
    return dim + ndim if dim < 0 else dim


def _target_stats(kind: str, input_shape: tuple, target, kwargs) -> list | None:
    """Running sums over a batch's targets from which the chance level follows."""
    import torch

    if kind in ("cross_entropy", "nll_loss"):
        if target.is_floating_point() or not input_shape:
            return None  # class probabilities as targets: no single chance level
        classes = input_shape[1] if len(input_shape) >= 2 else input_shape[0]
        # No boolean masks and no bincount: both read a size back to the host (a sync on a GPU).
        labels = target.reshape(-1)
        valid = (labels >= 0) & (labels < classes) & (labels != kwargs.get("ignore_index", -100))
        counts = torch.zeros(classes, dtype=torch.float64, device=labels.device)
        return [counts.scatter_add_(0, labels.clamp(0, classes - 1), valid.double())]
    if kind in ("mse_loss", "binary_cross_entropy", "binary_cross_entropy_with_logits"):
        y = target.detach().double()
        y = y.reshape(y.shape[0], -1) if y.dim() >= 2 else y.reshape(-1, 1)
        count = torch.full((), float(y.shape[0]), dtype=torch.float64, device=y.device)  # a fill, not a copy to the device
        return [y.sum(0), (y * y).sum(0), count] if kind == "mse_loss" else [y.sum(0), count]
    return None


def _chance_level(kind: str, sums: list) -> float | None:
    """The loss of the best prediction that ignores the inputs, for the targets seen."""
    if kind in ("cross_entropy", "nll_loss"):
        counts = sums[0].cpu().tolist()
        total = sum(counts)
        if total <= 0:
            return None
        return -sum(c / total * math.log(c / total) for c in counts if c > 0)
    if kind == "mse_loss":
        total, squares, n = sums
        n = float(n)
        if n < 2:
            return None
        mean = total / n
        return float((squares / n - mean * mean).clamp(min=0).mean())
    if kind in ("binary_cross_entropy", "binary_cross_entropy_with_logits"):
        positives, n = sums
        p = (positives / float(n)).clamp(1e-12, 1 - 1e-12)
        return float((-(p * p.log() + (1 - p) * (1 - p).log())).mean())
    return None


