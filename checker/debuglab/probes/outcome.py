"""Outcome: the loss trend, and the lab's own checks (fixtures/<id>/checks.py) run on the model the
harness captured, with held-out data the learner's script never sees."""

from __future__ import annotations

import math
import statistics

from debuglab.probes.base import Probe
from debuglab.verdict import Check


SPIKE_BEFORE, SPIKE_AFTER = 20, 5  # steps in the medians a loss spike compares


def loss_spike(points: list[tuple[int, float]], warmup: int) -> tuple[float, int] | None:
    """The largest jump of the loss after warm-up: the median of the SPIKE_AFTER steps from some
    step over the median of the SPIKE_BEFORE steps before it, and that step. Medians, so one
    unlucky batch is not a spike, while a loss that leaps and stays up (a resume that lost the
    optimizer's state, an exploding update) is."""
    values = [loss for i, loss in points if i > warmup]
    steps = [i for i, _ in points if i > warmup]
    worst = None
    for k in range(SPIKE_BEFORE, len(values) - SPIKE_AFTER + 1):
        before = statistics.median(values[k - SPIKE_BEFORE : k])
        after = statistics.median(values[k : k + SPIKE_AFTER])
        if not (math.isfinite(before) and before > 0):
            continue
        ratio = after / before if math.isfinite(after) else math.inf
        if worst is None or ratio > worst[0]:
            # the step where the jump begins: the first in the window at the raised level
            first = next(j for j in range(k, k + SPIKE_AFTER) if not values[j] < after)
            worst = (ratio, steps[first])
    return worst


class OutcomeProbe(Probe):
    name = "outcome"

    def finish(self, run) -> dict:
        checks_path = run.spec.get("checks_path")
        if not checks_path or run.stop_reason is not None or run.spec.get("rank", 0) != 0:
            return {}  # in a distributed run, rank 0's model is judged (the dist probe compares the ranks)
        if run.model is None:
            return {"error": "no model was trained (no optimizer step ran on a module's parameters)"}
        import importlib.util

        import torch

        try:
            spec = importlib.util.spec_from_file_location("debuglab_lab_checks", checks_path)
            checks = importlib.util.module_from_spec(spec)
            spec.loader.exec_module(checks)
            model = run.bare_model()
            device = next(model.parameters()).device
            model.eval()
            with torch.no_grad():
                metrics = checks.evaluate(model, device)
            return {"metrics": {k: float(v) for k, v in metrics.items()}}
        except Exception as exc:  # the learner's model may not fit the checks: that is a failure, not a crash
            return {"error": f"{type(exc).__name__}: {exc}"}

    def summarise(self, evidence) -> dict:
        points = [(r["i"], r["loss"]) for r in evidence.steps if r.get("loss") is not None]
        losses = [loss for _, loss in points]
        metrics = dict(evidence.summary("outcome").get("metrics", {}))
        spike = loss_spike(points, evidence.warmup_steps)
        if spike is not None:
            metrics.update(loss_spike_ratio=round(spike[0], 3) if math.isfinite(spike[0]) else "inf", loss_spike_step=spike[1])
        if len(losses) >= 10:
            window = max(len(losses) // 10, 5)
            first = sum(losses[:window]) / window
            last = sum(losses[-window:]) / window
            metrics.update(loss_first=round(first, 5), loss_last=round(last, 5))
            if math.isfinite(first) and math.isfinite(last) and first > 0:
                metrics["loss_ratio"] = round(last / first, 4)
        return metrics

    def judge(self, metrics: dict, context) -> list[Check]:
        checks = []
        lab = context.lab
        if lab is not None and lab.loss_drop is not None and "loss_first" in metrics:
            ratio = metrics.get("loss_ratio")
            checks.append(
                Check.judge(
                    "loss_decreases",
                    ratio is not None and ratio <= lab.loss_drop,
                    f"{metrics['loss_first']:.4g} -> {metrics['loss_last']:.4g}",
                    f"last <= {lab.loss_drop:g} x first",
                    f"the loss went from {metrics['loss_first']:.4g} to {metrics['loss_last']:.4g} "
                    f"(ratio {ratio if ratio is not None else 'not finite'}): the model is not learning as it should",
                )
            )
        limit = context.targets.get("loss_spike_ratio")
        if limit is not None and "loss_spike_ratio" in metrics:
            ratio = metrics["loss_spike_ratio"]
            ratio_value = math.inf if ratio == "inf" else ratio
            step = metrics["loss_spike_step"]
            checks.append(
                Check.judge(
                    "loss_spike",
                    ratio_value <= limit,
                    f"{ratio} at step {step}",
                    f"<= {limit:g} x the loss before",
                    f"at step {step} the loss jumped to {ratio}x its median over the {SPIKE_BEFORE} steps before and stayed there: "
                    f"something reset or broke the training state at that step (optimizer, scheduler or scaler state, the weights)",
                )
            )
        if lab is None or not lab.outcome:
            return checks
        error = context.evidence.summary("outcome").get("error")
        for bound in lab.outcome:
            value = metrics.get(bound.name)
            if value is None:
                checks.append(
                    Check(bound.name, "fail", None, bound.describe(), f"could not evaluate the trained model: {error or 'no value'}")
                )
                continue
            checks.append(
                Check.judge(
                    bound.name,
                    bound.holds(value),
                    round(value, 4),
                    bound.describe(),
                    f"{bound.name} is {value:.4g} on held-out data (target {bound.describe()})"
                    + (f": {bound.message}" if bound.message else ""),
                )
            )
        return checks
