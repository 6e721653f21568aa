"""Profiler: step time, time waiting on the DataLoader, host-device syncs per step, and a
Chrome trace of a few steps after warm-up (ui.perfetto.dev opens it)."""

from __future__ import annotations

import os
import statistics
import sys
import time
from contextlib import contextmanager

from debuglab.probes.base import Probe
from debuglab.verdict import Check

TRACE_STEPS = 3  # steps recorded in the trace
SLOW_AFTER = 20  # timed steps before a run may be stopped for being far too slow
# Tensor methods that read a value back to the host: a device sync on a GPU.
SYNC_METHODS = ("item", "tolist", "numpy", "__bool__", "__float__", "__int__")


class ProfilerProbe(Probe):
    name = "profiler"

    def install(self, run) -> None:
        import torch
        from torch.utils.data import dataloader

        self.wait = 0.0
        self.syncs = 0
        self.sync_wait = 0.0
        self.sync_lines: dict[int, list] = {}
        self.profiler = None
        self.trace_path = None
        self.trace_error = None
        self.trace_started = False
        self.trace_end = 0
        # Traced steps end before warm-up does, so the profiler's own memory and time stay out of the figures.
        self.trace_start = max(1, run.warmup_steps - TRACE_STEPS - 1)
        self.dataset_line = None
        self.step_ms: list[float] = []
        self.wait_ms: list[float] = []
        options = run.spec["options"]
        self.wait_fraction_limit = options.get("dataloader_wait_fraction", 0.05)
        self.too_slow_ms = too_slow_ms(options, options.get("reference_step_ms"))
        script = run.script

        self.in_loader = 0
        iterator = dataloader._BaseDataLoaderIter
        original_next = iterator.__next__

        def timed_next(it):
            if self.dataset_line is None:
                self.dataset_line = _getitem_line(it, script)
            started = time.perf_counter()
            self.in_loader += 1
            try:
                return original_next(it)
            finally:
                self.in_loader -= 1
                self.wait += time.perf_counter() - started

        iterator.__next__ = timed_next

        def counting(method_name, original):
            def method(tensor, *args, **kwargs):
                frame = sys._getframe(1)
                # Dataset and collate code runs on the host, before anything reaches the device:
                # reading a value there is no device sync.
                if frame.f_code.co_filename != script or not run.in_training or self.in_loader:
                    return original(tensor, *args, **kwargs)
                self.syncs += 1
                entry = self.sync_lines.setdefault(frame.f_lineno, [method_name, 0])
                entry[1] += 1
                started = time.perf_counter()
                try:
                    return original(tensor, *args, **kwargs)
                finally:
                    self.sync_wait += time.perf_counter() - started  # the host waiting on the device

            return method

        for method_name in SYNC_METHODS:
            setattr(torch.Tensor, method_name, counting(method_name, getattr(torch.Tensor, method_name)))
        original_cpu = torch.Tensor.cpu
        counted_cpu = counting("cpu", original_cpu)
        torch.Tensor.cpu = lambda tensor, *a, **k: (counted_cpu if tensor.device.type != "cpu" else original_cpu)(tensor, *a, **k)

    def after_step(self, run, record: dict) -> None:
        record["wait"], self.wait = self.wait, 0.0
        if run.step > run.warmup_steps and not record.get("profiled") and self.profiler is None:
            self.step_ms.append(record["dt"] * 1000)
            self.wait_ms.append(record["wait"] * 1000)
            self._maybe_too_slow(run)
        record["syncs"], self.syncs = self.syncs, 0
        record["sync_wait"], self.sync_wait = self.sync_wait, 0.0
        if self.profiler is None and not self.trace_started:
            self.trace_started = True
            self._start_trace(run)
        if self.profiler is not None:
            self._step_trace(run, record)

    def _maybe_too_slow(self, run) -> None:
        if self.too_slow_ms is None or len(self.step_ms) < SLOW_AFTER or len(self.step_ms) % 10:
            return
        fast = _quantile(self.step_ms, 0.2)
        if fast <= self.too_slow_ms:
            return
        waiting = sum(self.wait_ms) / sum(self.step_ms)
        if waiting > self.wait_fraction_limit:  # the time goes to the input pipeline: name that
            run.stop("dataloader_wait", f"after {len(self.step_ms)} steps past warm-up the loop waits on the DataLoader "
                     f"for {100 * waiting:.0f}% of each step, and steps take over 3 times the target", symptom=True)
        else:
            run.stop("step_time", f"after {len(self.step_ms)} steps past warm-up even the fast steps take {fast:.2f} ms, "
                     f"over 3 times the target of {self.too_slow_ms / 3:.2f} ms", symptom=True)

    def _start_trace(self, run) -> None:
        """The profiler by the book: entered once, driven by prof.step() after each optimizer step
        on a schedule (wait, one warm-up step, TRACE_STEPS recorded), the trace written by
        tensorboard_trace_handler, and the Python stacks of the recorded steps (with_stack), so
        Perfetto shows the learner's lines."""
        import os
        import socket

        import torch
        from torch.profiler import ProfilerActivity, profile, schedule, tensorboard_trace_handler

        activities = [ProfilerActivity.CPU]
        if torch.cuda.is_available() and run.spec["device"] == "cuda":
            activities.append(ProfilerActivity.CUDA)
        trace_dir = run.run_dir / "trace"
        # <worker>.<timestamp>.pt.trace.json: the name TensorBoard's profiler plugin looks for
        write = tensorboard_trace_handler(str(trace_dir), worker_name=f"{socket.gethostname()}_{os.getpid()}")

        def on_trace_ready(prof) -> None:
            try:
                write(prof)
                written = sorted(trace_dir.glob("*.pt.trace.json"), key=lambda p: p.stat().st_mtime)
                self.trace_path = str(written[-1]) if written else None
                if self.trace_path is None:
                    self.trace_error = f"the profiler wrote no trace into {trace_dir}"
            except Exception as exc:  # a full disk, an unwritable folder: the verdict says so
                self.trace_error = f"the trace could not be written: {type(exc).__name__}: {exc}"

        # prof.step() after step N starts step N + 1: wait until trace_start, warm up on it, record the next TRACE_STEPS.
        wait = max(0, self.trace_start - run.step - 1)
        self.trace_end = run.step + wait + 1 + TRACE_STEPS
        try:
            self.profiler = profile(
                activities=activities,
                schedule=schedule(wait=wait, warmup=1, active=TRACE_STEPS, repeat=1),
                on_trace_ready=on_trace_ready,
                with_stack=True,
            )
            with _native_stderr_silenced():  # Kineto logs "profiler_start" to fd 2: the learner's output
                self.profiler.__enter__()
        except Exception as exc:  # the script may run a profiler of its own
            self.profiler, self.trace_error = None, f"the profiler could not start: {type(exc).__name__}: {exc}"

    def _step_trace(self, run, record: dict) -> None:
        from torch.profiler import ProfilerAction

        profiler = self.profiler
        if profiler.current_action != ProfilerAction.NONE:
            record["profiled"] = True  # warm-up and recorded steps carry the profiler's cost: not timed
        try:
            with _native_stderr_silenced():
                profiler.step()
        except Exception as exc:
            self._stop_trace(run)
            self.trace_error = f"the profiler failed: {type(exc).__name__}: {exc}"
            return
        if run.step >= self.trace_end:
            self._stop_trace(run)

    def _stop_trace(self, run) -> None:
        profiler, self.profiler = self.profiler, None
        try:
            with _native_stderr_silenced():
                profiler.__exit__(None, None, None)
        except Exception as exc:
            self.trace_error = self.trace_error or f"the profiler failed to stop: {type(exc).__name__}: {exc}"
        if self.trace_path is None and self.trace_error is None:
            self.trace_error = "the run ended before the traced steps"

    def finish(self, run) -> dict:
        if self.profiler is not None:
            self._stop_trace(run)
        elif not self.trace_started and self.trace_error is None:
            self.trace_error = "the run ended before the traced steps"
        return {
            "trace": self.trace_path,
            "trace_error": self.trace_error,
            "sync_lines": self.sync_lines,
            "dataset_line": self.dataset_line or None,
        }

    def summarise(self, evidence) -> dict:
        syncs = sum(r.get("syncs", 0) for r in evidence.steps)
        metrics = {"syncs_per_step": round(syncs / max(len(evidence.steps), 1), 4)}
        timed = [r for r in evidence.steps_after_warmup if not r.get("profiled")]
        if not timed:
            return metrics
        step_ms = [r["dt"] * 1000 for r in timed]
        wait_ms = [r.get("wait", 0.0) * 1000 for r in timed]
        tenth = max(len(step_ms) // 10, 1)
        return metrics | {
            "step_time_first_ms": round(statistics.median(step_ms[:tenth]), 4),
            "step_time_last_ms": round(statistics.median(step_ms[-tenth:]), 4),
            "step_time_median_ms": round(statistics.median(step_ms), 4),
            # What the performance check compares: other processes on a shared machine inflate
            # some steps; the fast fifth of the steps reflects what the code itself costs.
            "step_time_p20_ms": round(_quantile(step_ms, 0.2), 4),
            "step_time_p90_ms": round(_quantile(step_ms, 0.9), 4),
            "dataloader_wait_per_step_ms": round(sum(wait_ms) / len(wait_ms), 4),
            "dataloader_wait_fraction": round(sum(wait_ms) / max(sum(step_ms), 1e-9), 4),
        }

    def judge(self, metrics: dict, context) -> list[Check]:
        checks = []
        reference = context.reference
        targets = context.targets
        sync_lines = context.evidence.summary("profiler").get("sync_lines", {})
        extra = targets.get("extra_syncs_per_step", 0.5)
        allowed = (reference or {}).get("syncs_per_step", 0.0) + extra
        busiest = max(sync_lines.items(), key=lambda item: item[1][1], default=None)
        checks.append(
            Check.judge(
                "host_syncs",
                metrics["syncs_per_step"] <= allowed,
                f"{metrics['syncs_per_step']:.2f}/step",
                f"<= {allowed:.2f}/step",
                (
                    f"line {busiest[0]} calls .{busiest[1][0]}() {busiest[1][1]} times during training: each one "
                    "makes the host wait for the device"
                    if busiest
                    else ""
                ),
                int(busiest[0]) if busiest else None,
            )
        )
        if "dataloader_wait_fraction" not in metrics:
            return checks  # stopped before warm-up ended: no timings to judge
        fraction_limit = targets.get("dataloader_wait_fraction", 0.05)
        wait_ratio_limit = targets.get("dataloader_wait_ratio", 3.0)
        reference_wait = (reference or {}).get("dataloader_wait_per_step_ms")
        wait = metrics["dataloader_wait_per_step_ms"]
        too_slow = metrics["dataloader_wait_fraction"] > fraction_limit
        if reference_wait is not None:
            too_slow = too_slow and wait > wait_ratio_limit * max(reference_wait, 0.01)
        too_slow = too_slow or bool(context.stop_for("dataloader_wait"))
        checks.append(
            Check.judge(
                "dataloader_wait",
                not too_slow,
                f"{100 * metrics['dataloader_wait_fraction']:.0f}% of step time ({wait:.2f} ms/step)",
                f"<= {100 * fraction_limit:.0f}% of step time"
                + (f", or <= {wait_ratio_limit:g}x the reference fix's {reference_wait:.2f} ms/step" if reference_wait is not None else ""),
                f"the loop waits on the DataLoader for {100 * metrics['dataloader_wait_fraction']:.0f}% of every step: "
                "the device starves while batches are prepared",
                context.evidence.summary("profiler").get("dataset_line"),
            )
        )
        # Step time last: when the input pipeline or syncs explain a slow step, they lead.
        stop = context.stop_for("step_time")
        if reference and reference.get("step_time_p20_ms") and "step_time_p20_ms" in metrics:
            ratio = metrics["step_time_p20_ms"] / reference["step_time_p20_ms"]
            stopped = f" (stopped after {stop['step']} steps: far beyond the target)" if stop else ""
            limit = targets.get("step_time_ratio", 1.5)
            checks.append(
                Check.judge(
                    "step_time",
                    ratio <= limit,
                    f"{ratio:.2f}x ({metrics['step_time_p20_ms']:.2f} ms/step)",
                    f"<= {limit:g}x the reference fix ({reference['step_time_p20_ms']:.2f} ms/step)",
                    f"a step takes {ratio:.2f} times as long as in the reference fix on this device: "
                    "the fix is right but slow (look for work added to every step)" + stopped,
                )
            )
        return checks


@contextmanager
def _native_stderr_silenced():
    """fd 2 pointed at /dev/null for the duration: native libraries (Kineto) write log lines there
    that would land in the learner's output. Only our own calls run inside it."""
    sys.stderr.flush()
    saved, devnull = os.dup(2), os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 2)
    try:
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)


SLOW_BEYOND_DOUBT = 3  # times the step-time target: a run this slow is stopped instead of waited for


def too_slow_ms(targets: dict, reference_ms: float | None) -> float | None:
    """The fast steps' time (p20) above which a run is slow beyond doubt, or None without a reference."""
    return SLOW_BEYOND_DOUBT * targets.get("step_time_ratio", 1.5) * reference_ms if reference_ms else None


def _quantile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[int(q * (len(ordered) - 1))]


def _getitem_line(iterator, script: str) -> int:
    """The line of the learner's Dataset.__getitem__, or 0 when the dataset is not theirs."""
    getitem = getattr(type(getattr(iterator, "_dataset", None)), "__getitem__", None)
    code = getattr(getitem, "__code__", None)
    return code.co_firstlineno if code is not None and code.co_filename == script else 0
