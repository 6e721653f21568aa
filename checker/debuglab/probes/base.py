"""The probe interface: one small class per probe family, implementing only the phases it needs.

Child-side phases run inside the learner's process, in this order:
    install(run)                 before the script's first line
    on_model(run)                once, at the first optimizer step, when run.model is known
    on_backward(run, tensor)     every backward call, with its root tensor (usually the loss)
    before_step(run, optimizer)  in the optimizer's step pre-hook (gradients are final here)
    after_step(run, record)      in the step post-hook; add per-step figures to `record`
    finish(run) -> dict          after the script ends; a JSON-able summary for the parent
Parent-side phases run in the checker:
    summarise(evidence) -> dict  figures (metrics) from the run's events
    judge(metrics, context) -> list[Check]

Hot-path phases (on_backward, before_step, after_step) run every step: keep them cheap and free of
host-device syncs on GPUs.
"""

from __future__ import annotations

PHASES = ("install", "on_model", "on_backward", "before_step", "after_step", "finish", "summarise", "judge")


class Probe:
    name = ""

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        # Reject mistakes when a probe is defined, not at the first call: a misspelt phase would
        # otherwise never run.
        for attr, value in vars(cls).items():
            if callable(value) and not attr.startswith("_") and attr not in PHASES:
                raise TypeError(f"probe {cls.__name__} defines {attr!r}, which is not a phase ({', '.join(PHASES)})")
        if not cls.name:
            raise TypeError(f"probe {cls.__name__} has no name")

    def install(self, run) -> None:
        pass

    def on_model(self, run) -> None:
        pass

    def on_backward(self, run, tensor) -> None:
        pass

    def before_step(self, run, optimizer) -> None:
        pass

    def after_step(self, run, record: dict) -> None:
        pass

    def finish(self, run) -> dict:
        return {}

    def summarise(self, evidence) -> dict:
        return {}

    def judge(self, metrics: dict, context) -> list:
        return []


# Code of the wrappers probes put around torch or the learner's code (a patched tensor method, the
# DataLoader's __next__, a loss function): what runs inside them is the learner's work, not the
# checker's, when the profiler attributes a device sync to a line.
PASS_THROUGH: set = set()


def passes_through(wrapper):
    """Mark a probe's wrapper as running the learner's (or torch's) work on their behalf."""
    PASS_THROUGH.add(wrapper.__code__)
    return wrapper
