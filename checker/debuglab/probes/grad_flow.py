"""Gradient flow: parameters that get no, zero, stale or non-finite gradients; parameters no
optimizer owns; tensors that act as weights without being nn.Parameters; optimizer steps taken
while the model is in eval mode."""

from __future__ import annotations

import math

from debuglab.probes.base import Probe
from debuglab.verdict import Check

CONSECUTIVE = 5  # steps a parameter must go without a usable gradient before it is flagged
GRAPH_WALKS = 3  # backward calls whose graphs are walked for leaf tensors


def _stale_check_steps(warmup: int) -> set[int]:
    return {2, 3, 4, warmup + 1, warmup + 2}


class GradFlowProbe(Probe):
    name = "grad_flow"

    def install(self, run) -> None:
        self.leaves: dict[int, object] = {}  # leaf tensors that received gradients, by id
        self.leaf_lines: dict[int, int | None] = {}
        self.walks = 0
        self.streak: dict[int, tuple[str, int]] = {}  # id -> (problem, consecutive steps)
        self.flagged: dict[str, dict] = {}  # parameter name -> {problem, step, line, where}
        self.stale: dict[str, int] = {}  # parameter name -> step at which stale gradient seen
        self.stale_pending: list = []  # (name, id, |grad| sum, clock): a gradient arrived on top of an old one
        self.armed: set[int] = set()
        self.clock = 0  # orders suspicions and zero_grad calls
        self.cleared_at: dict[int, int] = {}  # id(parameter) -> clock of the last zero_grad that covered it
        self._watch_zero_grad()
        self.stale_steps = _stale_check_steps(run.warmup_steps)
        self.unregistered: list[dict] = []
        self.uncovered: list[dict] = []
        self.hooked: set[int] = set()  # parameters with an arrival hook
        self.mode_modules: list = []  # (name, module): modules that behave differently in eval mode
        self.eval_streak = 0
        self.eval_steps: dict | None = None  # first step taken in eval mode, and what was in eval mode
        self.layer_norms: dict | None = None  # this step's gradient norm per layer, for the report's picture
        self.layer_of: dict[int, str] = {}  # id(parameter) -> its layer, named once
        self.weight_of: dict[int, int] = {}  # id(bias) -> id(its layer's weight)

    def _watch_zero_grad(self) -> None:
        """A gradient that lands on an old one is stale only if no zero_grad clears it before the
        parameter's next optimizer step: a GAN's generator loss fills the discriminator's .grad,
        which the discriminator's zero_grad clears before it steps again."""
        import torch

        probe = self

        def wrap(original, params_of):
            def zero_grad(owner, *args, **kwargs):
                if probe.stale_pending or probe.armed:
                    probe.clock += 1
                    for p in params_of(owner):
                        probe.cleared_at[id(p)] = probe.clock
                return original(owner, *args, **kwargs)

            return zero_grad

        torch.optim.Optimizer.zero_grad = wrap(torch.optim.Optimizer.zero_grad, lambda o: (p for g in o.param_groups for p in g["params"]))
        torch.nn.Module.zero_grad = wrap(torch.nn.Module.zero_grad, lambda m: m.parameters())

    def on_backward(self, run, tensor) -> None:
        if self.walks >= GRAPH_WALKS or tensor.grad_fn is None:
            return
        self.walks += 1
        import sys

        line = run.script_line(sys._getframe(1))
        seen, stack = set(), [tensor.grad_fn]
        while stack:
            node = stack.pop()
            if node is None or node in seen:
                continue
            seen.add(node)
            variable = getattr(node, "variable", None)  # AccumulateGrad nodes hold the leaf
            if variable is not None:
                self.leaves[id(variable)] = variable
                self.leaf_lines.setdefault(id(variable), line)
            stack.extend(next_node for next_node, _ in node.next_functions)

    def on_model(self, run) -> None:
        # Called again when a resumed run builds a new model and optimizer: judge afresh.
        self.unregistered, self.uncovered = [], []
        owned = {id(p) for p in run.optimizer_params()}
        for key, leaf in self.leaves.items():
            if not leaf.requires_grad:
                continue
            if key not in run.module_param_ids:
                self.unregistered.append(
                    {"shape": list(leaf.shape), "name": _variable_name(leaf, run.model), "line": self.leaf_lines.get(key), "owned": key in owned}
                )
            elif key not in owned:
                self.uncovered.append({"name": run.name_of(leaf), "line": run.module_line(run.name_of(leaf))[1]})
        for p in run.optimizer_params():
            if p.requires_grad and id(p) not in self.hooked:
                self.hooked.add(id(p))
                p.register_hook(run.guarded(self, "gradient hook", self._make_arrival_hook(run, p)))
        self.mode_modules = _mode_modules(run.model) if run.model is not None else []
        self.layer_of = {}  # parameter names are the new model's
        named = dict(run.model.named_parameters()) if run.model is not None else {}
        self.weight_of = {id(p): id(named[n[: -len("bias")] + "weight"]) for n, p in named.items() if n.endswith("bias") and n[: -len("bias")] + "weight" in named}

    def _cancelled_bias(self, key: int, norms: dict) -> bool:
        """A bias whose gradient is exactly zero while its layer's weight learns: the loss cannot
        see it (a siamese network's output bias cancels in z1 - z2). Redundant, not broken."""
        weight = self.weight_of.get(key)
        norm = norms.get(weight) if weight is not None else None
        return norm is not None and math.isfinite(norm) and norm > 0.0

    def _make_arrival_hook(self, run, p):
        key = id(p)

        def on_arrival(grad):
            # Runs before the incoming gradient is accumulated into p.grad.
            if key in self.armed:
                self.armed.discard(key)
                if p.grad is not None:
                    self.clock += 1
                    self.stale_pending.append((run.name_of(p), key, p.grad.detach().abs().sum(), self.clock))
            return None

        return on_arrival

    def before_step(self, run, optimizer) -> None:
        step = run.step + 1  # the step being taken
        params = [p for group in optimizer.param_groups for p in group["params"] if p.requires_grad]
        self._settle_stale(run, step, {id(p) for p in params})
        norms = run.gradient_norms(optimizer)
        # One pass over the parameters, in the training loop: the problem streaks, and (for the
        # report's picture) the squared norms summed per layer.
        squares: dict[str, float] | None = {} if step <= LAYER_NORMS_EVERY_STEP or step % 10 == 0 else None
        # Every gradient zero and the loss exactly zero (a hinge or margin loss already satisfied):
        # no evidence either way about the parameters. Read only then, so it costs no sync otherwise.
        flat = bool(norms) and not any(norms.values()) and bool(run.step_losses) and not any(float(v) for v in run.step_losses)
        for p in params if not flat else ():
            key = id(p)
            norm = norms.get(key)
            if norm is None:
                problem = "no gradient (.grad is None)"
            elif not math.isfinite(norm):
                # The norm overflows float32 (above ~1.8e19 per element squared) while every
                # element may still be finite: say which.
                problem = "a non-finite gradient" if not bool(p.grad.isfinite().all()) else "a gradient whose norm overflows float32 (every element finite, but huge)"
            elif norm == 0.0 and not self._cancelled_bias(key, norms):
                problem = "an all-zero gradient"
            else:
                problem = None
            if squares is not None and norm is not None and math.isfinite(norm):  # a zero norm is drawn too
                layer = self.layer_of.get(key) or self.layer_of.setdefault(key, _layer(run.name_of(p)))
                squares[layer] = squares.get(layer, 0.0) + norm * norm
            if problem is None:
                self.streak.pop(key, None)
                continue
            _, count = self.streak.get(key, (problem, 0))
            self.streak[key] = (problem, count + 1)
            name = run.name_of(p)
            if count + 1 >= CONSECUTIVE and name not in self.flagged:
                where, line = run.module_line(name)
                self.flagged[name] = {"problem": problem, "step": step - CONSECUTIVE + 1, "where": where, "line": line}
        if squares is not None:
            self.layer_norms = {layer: round(math.sqrt(total), 6) for layer, total in squares.items()}
        if self.flagged:
            first = next(iter(self.flagged.items()))
            run.stop("gradient_flow", _describe_flagged(self.flagged), first[1]["line"])
        if step + 1 in self.stale_steps:
            self.armed = {id(p) for p in params}
        self._check_mode(run, step)

    def after_step(self, run, record: dict) -> None:
        if self.layer_norms:
            record["grad_norms"], self.layer_norms = self.layer_norms, None

    def _check_mode(self, run, step: int) -> None:
        """Dropout off and normalisation statistics frozen while the optimizer steps: the model
        was left in eval mode. Only the root in eval mode or an inactive Dropout counts, because
        freezing BatchNorm alone while fine-tuning is a deliberate, common choice."""
        if not self.mode_modules:
            return
        root_eval = not run.model.training
        in_eval = [name for name, m, dropout in self.mode_modules if not m.training and (root_eval or dropout)]
        if not in_eval:
            self.eval_streak = 0
            return
        self.eval_streak += 1
        if self.eval_steps is None:
            self.eval_steps = {"step": step, "modules": in_eval[:5], "root": root_eval, "count": 0}
        self.eval_steps["count"] += 1
        if self.eval_streak >= CONSECUTIVE:
            run.stop("train_mode", _describe_eval(self.eval_steps))

    def _settle_stale(self, run, step: int, stepping: set[int] | None) -> None:
        """Suspicions about the parameters this optimizer steps (all, at the end) are settled: a
        zero_grad after the suspicion clears it."""
        if not self.stale_pending:
            return
        remaining = []
        for name, key, total, clock in self.stale_pending:
            if stepping is not None and key not in stepping:
                remaining.append((name, key, total, clock))
            elif self.cleared_at.get(key, 0) < clock and float(total) != 0.0 and name not in self.stale:
                self.stale[name] = step
        self.stale_pending = remaining
        if self.stale:
            run.stop("zero_grad", _describe_stale(self.stale))

    def finish(self, run) -> dict:
        self._settle_stale(run, run.step + 1, set())  # no step follows: nothing left is judged
        return {
            "flagged": self.flagged,
            "stale": self.stale,
            "unregistered": self.unregistered,
            "uncovered": self.uncovered,
            "walked": self.walks,
            "eval_steps": self.eval_steps,
        }

    def summarise(self, evidence) -> dict:
        summary = evidence.summary("grad_flow")
        return {
            "params_without_gradient": len(summary.get("flagged", {})),
            "params_with_stale_gradient": len(summary.get("stale", {})),
            "unregistered_weights": len(summary.get("unregistered", [])),
            "params_without_optimizer": len(summary.get("uncovered", [])),
            "steps_in_eval_mode": (summary.get("eval_steps") or {}).get("count", 0),
        }

    def judge(self, metrics: dict, context) -> list[Check]:
        summary = context.evidence.summary("grad_flow")
        flagged, stale = summary.get("flagged", {}), summary.get("stale", {})
        unregistered, uncovered = summary.get("unregistered", []), summary.get("uncovered", [])
        first_line = next((f["line"] for f in flagged.values() if f.get("line")), None)
        return [
            Check.judge("gradient_flow", not flagged, len(flagged), "0 parameters", _describe_flagged(flagged), first_line),
            Check.judge("zero_grad", not stale, len(stale), "0 parameters", _describe_stale(stale)),
            Check.judge(
                "parameter_registration",
                not unregistered,
                len(unregistered),
                "0 tensors",
                "; ".join(
                    f"{'tensor ' + u['name'] if u['name'] else 'a tensor'} of shape {tuple(u['shape'])} requires grad and feeds the loss but is not an "
                    f"nn.Parameter of any module: model.parameters(), state_dict() and .to(device) miss it"
                    for u in unregistered[:3]
                ),
                next((u["line"] for u in unregistered if u.get("line")), None),
            ),
            Check.judge(
                "train_mode",
                not summary.get("eval_steps"),
                metrics.get("steps_in_eval_mode", 0),
                "0 steps",
                _describe_eval(summary.get("eval_steps")),
            ),
            Check.judge(
                "optimizer_coverage",
                not uncovered,
                len(uncovered),
                "0 parameters",
                f"{', '.join(u['name'] for u in uncovered[:5])} receive gradients but no optimizer owns them: they never change",
                next((u["line"] for u in uncovered if u.get("line")), None),
            ),
        ]


def _mode_modules(model) -> list:
    """(name, module, is_dropout) for the modules whose forward depends on train/eval mode."""
    from torch import nn

    found = []
    for name, m in model.named_modules():
        if isinstance(m, nn.modules.dropout._DropoutNd) and m.p > 0:
            found.append((name or type(m).__name__, m, True))
        elif isinstance(m, (nn.modules.batchnorm._BatchNorm, nn.modules.instancenorm._InstanceNorm)) and m.track_running_stats:
            found.append((name or type(m).__name__, m, False))
    return found


def _describe_eval(eval_steps: dict | None) -> str:
    if not eval_steps:
        return ""
    what = "the model was in eval mode" if eval_steps["root"] else "Dropout was in eval mode"
    return (
        f"{what} during {eval_steps['count']} optimizer steps from step {eval_steps['step']} "
        f"({', '.join(eval_steps['modules'])}): Dropout is off and normalisation statistics are frozen while it trains; "
        f"something called model.eval() and nothing called model.train() again"
    )


def _variable_name(tensor, model=None) -> str:
    """The name the learner's code gives a tensor: a global variable, or a plain attribute of one
    of the model's modules (`self.weight = torch.randn(..., requires_grad=True)` names it
    `fc1.weight`)."""
    import sys

    module = sys.modules.get("__main__")
    for name, value in vars(module).items() if module else []:
        if value is tensor:
            return name
    for prefix, submodule in model.named_modules() if model is not None else []:
        for name, value in vars(submodule).items():
            if value is tensor:
                return f"{prefix}.{name}" if prefix else name
    return ""


def _describe_flagged(flagged: dict) -> str:
    if not flagged:
        return ""
    names = list(flagged)
    first = flagged[names[0]]
    where = f" (in {first['where']})" if first.get("where") else ""
    more = f" and {len(names) - 3} more" if len(names) > 3 else ""
    return (
        f"{', '.join(names[:3])}{more} got {first['problem']} for {CONSECUTIVE} steps in a row from step {first['step']}"
        f"{where}: that part of the model is not learning"
    )


def _describe_stale(stale: dict) -> str:
    if not stale:
        return ""
    names = list(stale)
    return (
        f"{', '.join(names[:3])}{' and more' if len(names) > 3 else ''}: .grad still held the previous step's gradient "
        f"when backward ran again (step {min(stale.values())}): gradients add up across steps"
    )


LAYER_NORMS_EVERY_STEP = 1000  # steps with every step's per-layer gradient norms recorded; then every 10th


def _layer(parameter_name: str) -> str:
    """The layer a parameter belongs to: encoder.0.weight and encoder.0.bias make encoder.0."""
    return parameter_name.rpartition(".")[0] or parameter_name
