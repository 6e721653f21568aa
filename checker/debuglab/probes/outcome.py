"""Outcome: the loss trend, and the lab's own checks (fixtures/<id>/checks.py) run on the model the
harness captured, with held-out data the learner's script never sees."""

from __future__ import annotations

import math

from debuglab.probes.base import Probe
from debuglab.verdict import Check


class OutcomeProbe(Probe):
    name = "outcome"

    def finish(self, run) -> dict:
        checks_path = run.spec.get("checks_path")
        if not checks_path or run.stop_reason is not None:
            return {}
        if run.model is None:
            return {"error": "no model was trained (no optimizer step ran on a module's parameters)"}
        import importlib.util

        import torch

        try:
            spec = importlib.util.spec_from_file_location("debuglab_lab_checks", checks_path)
            checks = importlib.util.module_from_spec(spec)
            spec.loader.exec_module(checks)
            model = run.model
            device = next(model.parameters()).device
            model.eval()
            with torch.no_grad():
                metrics = checks.evaluate(model, device)
            return {"metrics": {k: float(v) for k, v in metrics.items()}}
        except Exception as exc:  # the learner's model may not fit the checks: that is a failure, not a crash
            return {"error": f"{type(exc).__name__}: {exc}"}

    def summarise(self, evidence) -> dict:
        losses = [r["loss"] for r in evidence.steps if r.get("loss") is not None]
        metrics = dict(evidence.summary("outcome").get("metrics", {}))
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
