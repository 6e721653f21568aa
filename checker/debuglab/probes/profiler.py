"""Profiler: step time, time waiting on the DataLoader, host-device syncs per step, and a
Chrome trace of a few steps before warm-up ends (ui.perfetto.dev opens it), from which the parent
reads device idle time, the top kernels and the dtype of the matrix products (debuglab.trace).

Host syncs are counted two ways. On a CPU (and on a GPU until warm-up ends), calls from the
learner's file to the tensor methods that read a value back (SYNC_METHODS). On a GPU after
warm-up, by the device itself: torch.cuda.set_sync_debug_mode("warn") makes torch warn at every
synchronising operation, including the ones no method name shows (f"{loss:.4f}", a boolean mask,
nonzero(), a blocking copy, a sync inside a library call); DeviceSyncs counts each warning for the
learner's line and shows it to no one. The two counts never add up: the device's replaces the
methods' from the step it starts.
"""

from __future__ import annotations

import os
import statistics
import sys
import time
from contextlib import contextmanager

from debuglab.probes.base import PASS_THROUGH, Probe, passes_through
from debuglab.verdict import Check

TRACE_STEPS = 3  # steps recorded in the trace
SLOW_AFTER = 20  # timed steps before a run may be stopped for being far too slow
# Tensor methods that read a value back to the host: a device sync on a GPU.
SYNC_METHODS = ("item", "tolist", "numpy", "__bool__", "__float__", "__int__")
# The text torch's warning starts with under set_sync_debug_mode("warn") (c10/cuda/CUDAFunctions.cpp,
# warn_or_error_on_sync; TORCH_WARN appends "(Triggered internally at ...)").
SYNC_WARNING = "called a synchronizing CUDA operation"
PROBES_DIR = os.path.dirname(__file__) + os.sep  # a frame here is the checker's own work, unless PASS_THROUGH
DEBUGLAB_DIR = os.path.dirname(os.path.dirname(__file__)) + os.sep
# Test-only switches, set by debuglab's own tests and nothing else:
# - on a CPU, torch.cuda's get/set_sync_debug_mode are replaced by a stand-in that only keeps the
#   mode, so the device counter runs; the test script emits torch's warning itself when the mode is on;
# - the device is taken to have tensor cores (compute capability 8.0 or newer).
FAKE_SYNC_MODE_VARIABLE = "DEBUGLAB_TEST_FAKE_SYNC_MODE"
TENSOR_CORES_VARIABLE = "DEBUGLAB_TEST_TENSOR_CORES"
# The tensor-core note: matrix products and convolutions take at least this share of the traced
# steps' time (device time on a GPU)...
MATMUL_HEAVY = 0.3
# ...and at least this share of that ran in float32 with TF32 off (no autocast, precision "highest").
FLOAT32_MOSTLY = 0.5


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
        self.calling = None  # the sync method the script is in, while the device counts
        self.matmul_precision = None
        self.cudnn_tf32 = None
        on_gpu = torch.cuda.is_available() and run.spec["device"] == "cuda"
        if os.environ.get(FAKE_SYNC_MODE_VARIABLE):
            _fake_sync_debug_mode(torch)
        self.device_syncs = DeviceSyncs(self, run) if on_gpu or os.environ.get(FAKE_SYNC_MODE_VARIABLE) else None
        iterator = dataloader._BaseDataLoaderIter
        original_next = iterator.__next__

        @passes_through
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
            @passes_through
            def method(tensor, *args, **kwargs):
                frame = sys._getframe(1)
                # Dataset and collate code runs on the host, before anything reaches the device:
                # reading a value there is no device sync.
                if frame.f_code.co_filename != script or not run.in_training or self.in_loader:
                    return original(tensor, *args, **kwargs)
                if self.device_syncs is not None and self.device_syncs.active:
                    self.calling = method_name  # the device counts it; the method names it
                else:
                    self.syncs += 1
                    entry = self.sync_lines.setdefault(frame.f_lineno, [method_name, 0])
                    entry[1] += 1
                started = time.perf_counter()
                try:
                    return original(tensor, *args, **kwargs)
                finally:
                    # The host waiting on the device, for these methods only: a sync the device
                    # reports elsewhere (inside a library call) is counted, not timed.
                    self.sync_wait += time.perf_counter() - started
                    self.calling = None

            return method

        for method_name in SYNC_METHODS:
            setattr(torch.Tensor, method_name, counting(method_name, getattr(torch.Tensor, method_name)))
        original_cpu = torch.Tensor.cpu
        counted_cpu = counting("cpu", original_cpu)
        torch.Tensor.cpu = passes_through(lambda tensor, *a, **k: (counted_cpu if tensor.device.type != "cpu" else original_cpu)(tensor, *a, **k))

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
        if self.device_syncs is not None and self.device_syncs.first_step is None and self.profiler is None and run.step >= run.warmup_steps:
            # After warm-up and after the trace: the filter and handler it installs must outlive
            # this phase's quiet block, so it starts once the block has ended.
            self.device_syncs.first_step = run.step + 1
            run.outside_quiet(run.guarded(self, "device sync counter", self.device_syncs.start))

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
                record_shapes=True,  # the input dtypes of each op: in which dtype the matrix products ran
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
        self.matmul_precision, self.cudnn_tf32 = _tf32_settings()  # what the traced steps ran under
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
        import torch

        counter = self.device_syncs
        if counter is not None:
            counter.stop()
        # Read now, not at install: the capability query initialises CUDA, which is the script's to do.
        on_gpu = run.spec["device"] == "cuda" and torch.cuda.is_available() and torch.cuda.is_initialized()
        tensor_cores = bool(os.environ.get(TENSOR_CORES_VARIABLE)) or (on_gpu and torch.cuda.get_device_capability() >= (8, 0))
        return {
            "trace": self.trace_path,
            "trace_error": self.trace_error,
            "sync_lines": self.sync_lines,
            "dataset_line": self.dataset_line or None,
            "device": run.spec["device"],
            # The first step whose syncs the device counted (None: counted by methods throughout).
            "device_syncs_from": counter.first_step if counter is not None and counter.counted else None,
            "device_syncs_elsewhere": counter.elsewhere if counter is not None else 0,
            "tensor_cores": tensor_cores,
            "matmul_precision": self.matmul_precision,
            "cudnn_tf32": self.cudnn_tf32,
        }

    def summarise(self, evidence) -> dict:
        summary = evidence.summary("profiler")
        counted_from = summary.get("device_syncs_from")
        counted = [r for r in evidence.steps if r["i"] >= counted_from] if counted_from else evidence.steps
        syncs = sum(r.get("syncs", 0) for r in counted)
        metrics = {
            "syncs_per_step": round(syncs / max(len(counted), 1), 4),
            "syncs_counted_by": "device" if counted_from else "methods",
        }
        metrics.update(device_figures(summary))
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
                f"line {busiest[0]} {sync_doing(busiest[1][0])} {busiest[1][1]} times during training: each one makes the host "
                "wait for the device" if busiest else "",
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


class DeviceSyncs:
    """Host-device syncs as the device reports them. From start() (after warm-up) to stop() (at
    finish), torch.cuda's sync debug mode is "warn" and an "always" filter lets every one of its
    warnings through (Python shows a warning once per line by default); an outermost
    warnings.showwarning, installed after every probe's, takes them, so they reach neither the
    learner's output nor loop_signals' record of torch's warnings.

    A warning counts for the innermost line of the learner's script on the stack: a sync inside
    torch or another library counts for the script's line that called it. Met first, a frame of a
    probe (not one of its pass-through wrappers) makes it the checker's own sync, not counted. The
    harness's wrappers (debuglab/harness) are passed through; its own reads happen in quiet blocks,
    whose "ignore" filter stops the warning before it is shown."""

    def __init__(self, probe, run):
        self.probe, self.run = probe, run
        self.active = False
        self.counted = False  # it ran: the script had set no sync debug mode of its own
        self.first_step: int | None = None  # the first step it counts, once chosen
        self.elsewhere = 0  # syncs with no line of the script on the stack (another thread's)
        self.previous_mode = 0
        self.wrapped = None
        self.filter = None
        self._note = run.guarded(probe, "device sync warning", self._count)

    def start(self) -> None:
        import warnings

        import torch

        self.previous_mode = torch.cuda.get_sync_debug_mode()
        if self.previous_mode != 0:
            return  # the script chose a sync debug mode of its own: it keeps it, and the methods count
        warnings.filterwarnings("always", message=SYNC_WARNING, category=UserWarning)
        self.filter = warnings.filters[0]
        self.wrapped, warnings.showwarning = warnings.showwarning, self.showwarning
        torch.cuda.set_sync_debug_mode("warn")
        self.probe.sync_lines.clear()  # the lines, like the count, are the device's from now on
        self.active = self.counted = True

    def stop(self) -> None:
        if not self.active:
            return
        import torch

        self.active = False
        torch.cuda.set_sync_debug_mode(self.previous_mode)
        self.run.outside_quiet(self._unhook)

    def _unhook(self) -> None:
        import warnings

        if self.filter in warnings.filters:
            warnings.filters.remove(self.filter)
        if warnings.showwarning == self.showwarning:  # else someone wrapped it since: ours passes through
            warnings.showwarning = self.wrapped

    def showwarning(self, message, category, filename, lineno, file=None, line=None):
        if self.active and str(message).startswith(SYNC_WARNING):
            self._note(sys._getframe(1))
            return None
        return self.wrapped(message, category, filename, lineno, file, line)

    def _count(self, frame) -> None:
        probe, script = self.probe, self.run.script
        label = None  # the library function the script's line called, when the sync is inside one
        while frame is not None:
            code = frame.f_code
            if code.co_filename == script:
                break
            if code.co_filename.startswith(PROBES_DIR) and code not in PASS_THROUGH:
                return  # the checker's own work (a probe reading a value back): not the learner's sync
            if not code.co_filename.startswith(DEBUGLAB_DIR) and not code.co_filename.endswith("warnings.py"):
                label = code.co_name
            frame = frame.f_back
        if frame is None:
            self.elsewhere += 1
            return
        probe.syncs += 1
        entry = probe.sync_lines.setdefault(frame.f_lineno, [probe.calling or label, 0])
        entry[1] += 1


def _tf32_settings() -> tuple[str | None, bool | None]:
    """The float32 matmul precision ("highest": no TF32) and whether cuDNN convolutions may use
    TF32; None where torch will not say (it refuses the legacy flag once the script mixed in the
    fp32_precision API)."""
    import torch

    try:
        precision = torch.get_float32_matmul_precision()
    except Exception:
        precision = None
    try:
        conv = bool(torch.backends.cudnn.allow_tf32)
    except Exception:
        conv = None
    return precision, conv


def _fake_sync_debug_mode(torch) -> None:
    """Test-only (FAKE_SYNC_MODE_VARIABLE): torch.cuda's sync debug mode becomes a plain value, so
    the device counter runs on a CPU; the script under test warns as torch would while it is on."""
    mode = [0]
    names = {"default": 0, "warn": 1, "error": 2}

    def set_sync_debug_mode(debug_mode) -> None:
        mode[0] = names.get(debug_mode, debug_mode)

    torch.cuda.set_sync_debug_mode = set_sync_debug_mode
    torch.cuda.get_sync_debug_mode = lambda: mode[0]


def sync_doing(label: str | None) -> str:
    """What a line does that syncs, for messages: `label` is a tensor method (counted by name), a
    library function the device saw a sync inside, or None (an operation the device reported)."""
    if label in SYNC_METHODS or label == "cpu":
        return f"calls .{label}()"
    if label:
        return f"calls {label}() (which synchronises inside)"
    return "runs a synchronising CUDA operation"


def device_figures(summary: dict) -> dict:
    """From the trace: the device's idle share of the traced steps and its top kernels (absent on
    a CPU, with the reason), and the matrix products' share of the time and how much of it ran in
    float32 with TF32 off."""
    from debuglab import trace

    found, reason = None, None
    if not summary.get("trace"):
        reason = f"no trace ({summary.get('trace_error') or 'none was written'})"
    else:
        try:
            found = trace.read(summary["trace"])
        except (OSError, ValueError, KeyError, TypeError) as exc:
            reason = f"the trace could not be read ({type(exc).__name__}: {exc})"
        if found is None and reason is None:
            reason = "the trace has no ProfilerStep spans"
    figures: dict = {"tensor_cores": bool(summary.get("tensor_cores"))}
    if found is not None and found.device:
        figures["gpu_idle_fraction"] = round(found.idle_fraction, 4)
        figures["top_kernels"] = found.top_kernels
    else:
        on_cpu = summary.get("device", "cpu") == "cpu"
        figures["device_time_unmeasured"] = reason or ("the run was on the CPU: no device kernels" if on_cpu else "the trace has no device kernels")
    if found is None:
        return figures
    figures["matmul_time_share"] = round(found.matmul_share, 4)
    total = sum(ms for dtypes in found.matmul_ms.values() for ms in dtypes.values())
    precision = summary.get("matmul_precision")
    if total and precision is not None:
        float32 = found.matmul_ms.get("matmul", {}).get("float32", 0.0) if precision == "highest" else 0.0
        float32 += found.matmul_ms.get("conv", {}).get("float32", 0.0) if summary.get("cudnn_tf32") is False else 0.0
        figures["matmul_float32_share"] = round(float32 / total, 4)
        figures["float32_matmul_precision"] = precision
    return figures


def tensor_core_note(metrics: dict) -> str | None:
    """An info note, never a failure: matmul-heavy steps in float32 with TF32 off on a card with
    tensor cores, which would run them several times faster in TF32 or bfloat16."""
    share, float32 = metrics.get("matmul_time_share") or 0.0, metrics.get("matmul_float32_share") or 0.0
    if not metrics.get("tensor_cores") or share < MATMUL_HEAVY or float32 < FLOAT32_MOSTLY:
        return None
    of = "device time" if "gpu_idle_fraction" in metrics else "step time"
    return (
        f"matrix products and convolutions took {100 * share:.0f}% of the traced steps' {of}, and {100 * float32:.0f}% of "
        "that ran in float32 with TF32 off (float32 matmul precision 'highest', no autocast) on a device with tensor "
        "cores: torch.set_float32_matmul_precision('high') lets them use TF32, or torch.autocast(device_type='cuda', "
        "dtype=torch.bfloat16) around the forward and the loss runs them in bfloat16"
    )


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
