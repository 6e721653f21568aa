"""Numerics: the first step, and the module, where a non-finite value appears.

Forward hooks on the model's modules record a finite-flag per output (a tensor, no sync); the
flags are read once per step. The first module in execution order whose output is non-finite is
where the value appeared. Loss and gradients are checked too, for values born in the loss
function or in backward.
"""

from __future__ import annotations

import math

from debuglab.probes.base import Probe
from debuglab.verdict import Check


def _summed(tensor):
    """One reduction whose result is finite exactly when every element is: a float64 sum cannot
    overflow on float32 or smaller values, and NaN and inf carry through it. Half the work of
    isfinite(t).all(). MPS has no float64: the largest magnitude there."""
    import torch

    if tensor.device.type == "mps":
        return tensor.detach().abs().amax().float()
    return tensor.detach().sum(dtype=torch.float64)


class NumericsProbe(Probe):
    name = "numerics"

    def install(self, run) -> None:
        self.flags: list = []  # (what, finite-flag tensor) since the last step, in execution order
        self.first: dict | None = None
        self.handles = []
        self.labels: dict[int, tuple] = {}  # id(module) -> (module, its name in the model), for the modules watched

    def on_model(self, run) -> None:
        import torch
        from torch.nn.modules import module as module_hooks

        if run.model is None:
            return
        # One global forward hook rather than a hook on each module: hooks stored on modules travel
        # with them, and torch.save(model) could not pickle ours.
        self.labels = {}
        if not self.handles:

            def hook(module, args, output):
                watched = self.labels.get(id(module))
                if watched is None or watched[0] is not module:
                    return
                label = watched[1]
                # A module may return a tensor, or a tuple such as (logits, loss).
                for tensor in output if isinstance(output, (tuple, list)) else (output,):
                    if isinstance(tensor, torch.Tensor) and tensor.is_floating_point():
                        self.flags.append((label, _summed(tensor)))

            self.handles.append(module_hooks.register_module_forward_hook(run.guarded(self, "forward hook", hook)))
        for name, module in run.model.named_modules():
            # Containers (Sequential, ModuleList...) only pass on their children's outputs: hook the
            # modules that compute something, the learner's own modules and the root.
            own = getattr(type(module).forward, "__code__", None) is not None and type(module).forward.__code__.co_filename == run.script
            if name and not own and any(True for _ in module.children()):
                continue
            self.labels[id(module)] = (module, name or type(module).__name__)

    def on_backward(self, run, tensor) -> None:
        import sys

        import torch

        if tensor.is_floating_point():
            self.flags.append(("loss", _summed(tensor), run.script_line(sys._getframe(1))))

    def before_step(self, run, optimizer) -> None:
        norms = run.gradient_norms(optimizer)  # shared with grad_flow: computed once per step
        if norms:
            self.flags.append(("gradients", all(math.isfinite(n) for n in norms.values())))  # a bool: norms are on the host
            self.optimizer = optimizer
        self._settle(run, run.step + 1)

    def after_step(self, run, record: dict) -> None:
        if self.first is not None:
            record["nonfinite"] = True

    def _settle(self, run, step: int) -> None:
        import torch

        flags, self.flags = self.flags, []
        if self.first is not None or not flags:
            return
        # Flags are device tensors (sums, read together: one host sync) or host bools; a GPU run mixes both.
        on_device = [f[1] for f in flags if isinstance(f[1], torch.Tensor)]
        if all(f[1] for f in flags if not isinstance(f[1], torch.Tensor)) and (not on_device or bool(torch.stack(on_device).isfinite().all())):
            return
        what, _, *rest = next(f for f in flags if not (bool(f[1].isfinite()) if isinstance(f[1], torch.Tensor) else f[1]))
        line = rest[0] if rest else None
        where = what
        if what == "gradients":
            grads = [(p, p.grad) for group in self.optimizer.param_groups for p in group["params"] if p.grad is not None]
            bad = [run.name_of(p) for p, g in grads if not bool(torch.isfinite(g).all())]
            if bad:
                where = f"the gradient of {', '.join(bad[:3])}"
            else:  # every element finite, but a norm overflowed float32: the gradients are huge
                norms = run.gradient_norms(self.optimizer)
                bad = [run.name_of(p) for p, _ in grads if not math.isfinite(norms.get(id(p), 0.0))]
                largest = max((float(g.abs().max()) for _, g in grads), default=0.0)
                where = f"the gradient norm of {', '.join(bad[:3]) or 'the parameters'} (overflows float32; the largest element is {largest:.3g})"
            line = run.module_line(bad[0])[1] if bad else None
        elif what != "loss":
            forward, line = run.module_line(what) if run.model is not None else ("", None)
            where = f"the output of module {what!r}" + (f" ({forward})" if forward else "")
        else:
            where = "the loss"
        self.first = {"step": step, "where": where, "line": line}
        run.stop("numerics", f"first non-finite value at step {step}, in {where}", line)

    def finish(self, run) -> dict:
        self._settle(run, run.step + 1)
        for handle in self.handles:
            handle.remove()
        return {"first": self.first}

    def summarise(self, evidence) -> dict:
        first = evidence.summary("numerics").get("first")
        losses = [r.get("loss") for r in evidence.steps if r.get("loss") is not None]
        nonfinite_losses = sum(1 for v in losses if v != v or v in (float("inf"), float("-inf")))
        return {"first_nonfinite_step": first["step"] if first else None, "nonfinite_losses": nonfinite_losses}

    def judge(self, metrics: dict, context) -> list[Check]:
        first = context.evidence.summary("numerics").get("first")
        if first:
            message = f"first non-finite value at step {first['step']}, in {first['where']}"
        elif metrics["nonfinite_losses"]:
            message = f"{metrics['nonfinite_losses']} steps had a non-finite loss"
        else:
            message = ""
        return [
            Check.judge(
                "numerics",
                not message,
                f"step {first['step']}" if first else metrics["nonfinite_losses"],
                "no non-finite values",
                message,
                first["line"] if first else None,
            )
        ]
