"""Probe registry: adding a probe is one module plus one line here."""

from __future__ import annotations

import importlib

REGISTRY = {
    "grad_flow": "debuglab.probes.grad_flow:GradFlowProbe",
    "memory": "debuglab.probes.memory:MemoryProbe",
    "numerics": "debuglab.probes.numerics:NumericsProbe",
    "profiler": "debuglab.probes.profiler:ProfilerProbe",
    "outcome": "debuglab.probes.outcome:OutcomeProbe",
    "dist": "debuglab.probes.dist:DistProbe",
    "loop_signals": "debuglab.probes.loop_signals:LoopSignalsProbe",
}


def create(name: str):
    module_name, class_name = REGISTRY[name].split(":")
    return getattr(importlib.import_module(module_name), class_name)()
