"""Memory: growth per step after warm-up, peak, and autograd graphs that outlive their step.

On the CPU the heap comes from memray (it sees torch's CPU tensors; tracemalloc does not); on a
GPU from the CUDA caching allocator. A counter of live autograd graphs (a finaliser attached to
each loss's grad_fn metadata) catches a leaked graph exactly and early.
"""

from __future__ import annotations

import os

from debuglab.paths import PACKAGE_DIR as _PACKAGE_PATH
from debuglab.probes.base import Probe
from debuglab.verdict import Check

SAMPLE_EVERY = 2  # steps between heap samples taken in the child for early stopping (mallinfo2: ~50 us)
GRAPHS_LEAKED = 20  # live autograd graphs that prove a leak (a correct loop keeps one or two)
DECIDE_AFTER = 20  # steps after warm-up before the heap slope may stop a run


class _GraphToken:
    """Lives in a loss's grad_fn.metadata: dies when that step's graph is freed."""

    __slots__ = ("counter",)

    def __init__(self, counter: list):
        self.counter = counter
        counter[0] += 1

    def __del__(self):
        self.counter[0] -= 1


SCAN_GAP = 10  # steps between the two counts of live tensors that carry a graph


def _graph_tensors() -> int:
    import gc

    import torch

    return sum(1 for o in gc.get_objects() if isinstance(o, torch.Tensor) and o.grad_fn is not None)


SAMPLER_VARIABLE = "DEBUGLAB_HEAP_SAMPLER"  # mallinfo2 | malloc_zone | none: forces one (the tests run the fallback)


def heap_sampler():
    """(name, a function giving the bytes of heap in use now) for this platform: glibc's
    mallinfo2 on Linux, malloc_zone_statistics on macOS, else ("none", None). Without a sampler,
    verify does not stop a leaking run early; memray's record still gives the slope at its end."""
    wanted = os.environ.get(SAMPLER_VARIABLE)
    for name, make in (("mallinfo2", _mallinfo), ("malloc_zone", _malloc_zone)):
        if wanted in (None, "", name):
            sample = make()
            if sample is not None:
                return name, sample
    return "none", None


def _mallinfo():
    import ctypes

    class Mallinfo2(ctypes.Structure):
        _fields_ = [(n, ctypes.c_size_t) for n in ("arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks", "fsmblks", "uordblks", "fordblks", "keepcost")]

    try:
        libc = ctypes.CDLL(None)
        libc.mallinfo2.restype = Mallinfo2
    except (OSError, AttributeError):
        return None
    return lambda: (lambda m: m.uordblks + m.hblkhd)(libc.mallinfo2())


def _malloc_zone():
    """macOS: the bytes in use in all malloc zones (malloc_zone_statistics with a NULL zone)."""
    import ctypes

    class MallocStatistics(ctypes.Structure):
        _fields_ = [("blocks_in_use", ctypes.c_uint), ("size_in_use", ctypes.c_size_t), ("max_size_in_use", ctypes.c_size_t), ("size_allocated", ctypes.c_size_t)]

    try:
        libc = ctypes.CDLL(None)
        statistics = libc.malloc_zone_statistics
    except (OSError, AttributeError):
        return None
    statistics.argtypes = [ctypes.c_void_p, ctypes.POINTER(MallocStatistics)]
    statistics.restype = None

    def sample() -> int:
        stats = MallocStatistics()
        statistics(None, ctypes.byref(stats))
        return stats.size_in_use

    return sample


def growth(points: list[tuple[int, int]], max_points: int = 120) -> tuple[float, float]:
    """Bytes per step (Theil-Sen: the median of pairwise slopes, robust to the jumps that an
    allocator trim or a freed cache makes) and the share of consecutive samples that rose."""
    if len(points) < 3:
        return 0.0, 0.0
    if len(points) > max_points:
        stride = len(points) / max_points
        points = [points[int(i * stride)] for i in range(max_points)]
    slopes = sorted(
        (b[1] - a[1]) / (b[0] - a[0]) for i, a in enumerate(points) for b in points[i + 1 :] if b[0] != a[0]
    )
    rises = [b[1] > a[1] for a, b in zip(points, points[1:])]
    middle = len(slopes) // 2
    median = slopes[middle] if len(slopes) % 2 else (slopes[middle - 1] + slopes[middle]) / 2  # even count: the mean of the two middle slopes
    return median, sum(rises) / len(rises)


def sustained(points: list[tuple[int, int]], max_points: int = 120) -> float:
    """The smaller of the growth rates in the first and second half of the points: a leak grows
    in both, a one-time allocation (a cache filled once, a list resized) shows in one half only."""
    if len(points) < 8:
        return 0.0
    half = len(points) // 2
    return min(growth(points[:half], max_points)[0], growth(points[half:], max_points)[0])


# torch.distributed keeps bookkeeping of its own per step: a plain two-rank DDP loop (gloo, no
# debuglab, 600 steps) grew the heap by about 300 B a step, with jumps to 1.6-5.5 KB a step between
# samples 50 steps apart; under the probes a correct two-rank loop measured 1.5 KB/step (sustained
# 0.67-0.98 KB). A rank is allowed that much more before its growth is a leak.
DISTRIBUTED_ALLOWANCE = 2048

SNAPSHOT_ENTRIES = 100_000  # allocation events kept for the CUDA memory snapshot


class MemoryProbe(Probe):
    name = "memory"

    def install(self, run) -> None:
        import time

        import torch

        self.graphs = [0]
        self.graphs_max = 0
        self.scan = None  # (step, live tensors carrying a graph) at the first count
        self.kept: dict | None = None
        self.cuda = run.spec["device"] == "cuda" and torch.cuda.is_available()
        self.growth_target = run.spec["options"].get("memory_growth_bytes_per_step", 1024)
        if self.cuda:
            self.sampler, self.heap_now = "cuda", (lambda: torch.cuda.memory_allocated())
        else:
            self.sampler, self.heap_now = heap_sampler()
        self.samples: list[tuple[int, int]] = []
        self.wall_ms: list[float] = []
        self.time = time
        self.tracker = None
        self.baseline = 0
        self.memray_path = run.run_dir / "memory.bin"
        self.snapshot_path = None
        if self.cuda:
            torch.cuda.reset_peak_memory_stats()
            # Every allocation with its Python stack, for PyTorch's memory viewer
            # (https://pytorch.org/memory_viz): where the leaked or peak memory was allocated.
            try:
                torch.cuda.memory._record_memory_history(max_entries=SNAPSHOT_ENTRIES)
                self.snapshot_path = run.run_dir / "cuda-memory-snapshot.pickle"
            except (RuntimeError, AttributeError):
                pass
            return
        # Started before the script so that its frames are known to memray (frames entered
        # before tracking starts are missing from stacks); imports are filtered out when reading.
        # ALL_ALLOCATIONS streams to the file; the aggregated format keeps its records in this
        # process's heap, which then grows with wall time and reads as a leak in slow loops.
        if not run.spec["options"].get("memray", True):
            return  # doctor: the heap sampled by mallinfo2 every SAMPLE_EVERY steps is enough for a slope
        try:
            import memray
        except ImportError:
            return
        self.baseline = self.heap_now() if self.heap_now else 0
        self.tracker = memray.Tracker(
            self.memray_path, memory_interval_ms=1, file_format=memray.FileFormat.ALL_ALLOCATIONS
        )
        self.tracker.__enter__()

    def on_backward(self, run, tensor) -> None:
        self._count(tensor)

    def on_model(self, run) -> None:
        # The model's outputs too: a graph can outlive its step through what the model returns
        # (a recurrent state carried into the next batch) while the loss's own node is freed.
        # A global forward hook, not one stored on the model: torch.save(model) must still pickle it.
        if run.model is not None and not getattr(self, "_hooked", False):
            from torch.nn.modules import module as module_hooks

            self._hooked = True
            module_hooks.register_module_forward_hook(run.guarded(self, "forward hook", lambda module, args, output: self._count(output) if module is run.model else None))

    def _count(self, value) -> None:
        if isinstance(value, (tuple, list)):
            for item in value:
                self._count(item)
            return
        grad_fn = getattr(value, "grad_fn", None)
        if grad_fn is not None and "_debuglab" not in grad_fn.metadata:
            grad_fn.metadata["_debuglab"] = _GraphToken(self.graphs)

    def after_step(self, run, record: dict) -> None:
        step = run.step
        record["graphs"] = self.graphs[0]
        self.graphs_max = max(self.graphs_max, self.graphs[0])
        self.wall_ms.append(self.time.time() * 1000.0)
        if self.heap_now is not None and step % SAMPLE_EVERY == 0:
            heap = self.heap_now()
            record["heap"] = heap
            if step > run.warmup_steps:
                self.samples.append((step, heap))
        if self.graphs[0] >= GRAPHS_LEAKED:  # no need to wait for warm-up: graphs are counted exactly
            run.stop("memory_growth", _graphs_message(self.graphs[0], step))
            return
        self._scan_for_kept_graphs(run, step)
        if step <= run.warmup_steps + DECIDE_AFTER or step % 10:
            return
        if not run.spec["options"].get("stop_on_heap_growth", True):
            return
        per_step = sustained(self.samples, max_points=20)  # in the training loop: keep it cheap
        if per_step > 4 * self.growth_target:
            run.stop("memory_growth", f"the heap grows {per_step / 1024:.1f} KB per step since warm-up")

    def _scan_for_kept_graphs(self, run, step: int) -> None:
        """doctor only: when the heap grows after warm-up, count the live tensors that carry an
        autograd graph, twice SCAN_GAP steps apart. A list of a submodule's outputs kept with their
        graphs grows it by one a step, which the graph counter (losses and the model's outputs)
        does not see. Each count walks the garbage collector's objects (~150 ms): only then."""
        if not run.spec["options"].get("scan_kept_graphs") or self.kept is not None:
            return
        first = run.warmup_steps + DECIDE_AFTER
        if step == first and growth(self.samples)[0] > self.growth_target:
            self.scan = (step, _graph_tensors())
        elif self.scan is not None and step == self.scan[0] + SCAN_GAP:
            count = _graph_tensors()
            self.kept = {"from_step": self.scan[0], "to_step": step, "from": self.scan[1], "to": count}
            if count - self.scan[1] >= SCAN_GAP // 2:
                run.stop("memory_growth", f"tensors that carry an autograd graph went from {self.scan[1]} at step {self.scan[0]} "
                         f"to {count} at step {step}: each step's graph is kept")

    def finish(self, run) -> dict:
        import torch

        summary = {"graphs_max": self.graphs_max, "wall_ms": self.wall_ms, "samples": self.samples, "kept_graphs": self.kept, "sampler": self.sampler}
        if self.cuda:
            summary.update(
                peak_bytes=torch.cuda.max_memory_allocated(),
                reserved_bytes=torch.cuda.memory_reserved(),
                allocated_bytes=torch.cuda.memory_allocated(),
            )
            if self.snapshot_path is not None:
                torch.cuda.memory._dump_snapshot(str(self.snapshot_path))
                torch.cuda.memory._record_memory_history(enabled=None)
                summary["cuda_snapshot"] = str(self.snapshot_path)
        if self.tracker is not None:
            self.tracker.__exit__(None, None, None)
            summary["memray"] = str(self.memray_path)
            summary["baseline_bytes"] = self.baseline
        return summary

    def summarise(self, evidence) -> dict:
        summary = evidence.summary("memory")
        warmup = evidence.warmup_steps
        metrics = {"graphs_alive_max": summary.get("graphs_max")}
        points = [(s, h) for s, h in summary.get("samples", [])]
        if summary.get("memray"):
            points, peak = _read_heap(summary["memray"], summary.get("wall_ms", []), warmup)
            metrics["peak_bytes"] = summary.get("baseline_bytes", 0) + peak
        elif "peak_bytes" in summary:
            metrics["peak_bytes"] = summary["peak_bytes"]
            metrics["reserved_bytes"] = summary["reserved_bytes"]
        evidence.heap_points = points  # the memory-per-step picture draws what the slope was fitted to
        per_step, rising = growth(points)
        metrics["growth_bytes_per_step"] = round(per_step, 1)
        metrics["growth_sustained_bytes_per_step"] = round(sustained(points), 1)
        metrics["growth_rising_share"] = round(rising, 3)
        metrics["growth_points"] = len(points)
        metrics["heap_sampler"] = summary.get("sampler")  # what stopped a leaking run early: mallinfo2, malloc_zone, cuda or none
        return metrics

    def judge(self, metrics: dict, context) -> list[Check]:
        target = context.targets.get("memory_growth_bytes_per_step", 1024)
        if len(context.evidence.peers) > 1:
            target += DISTRIBUTED_ALLOWANCE
        per_step = metrics.get("growth_bytes_per_step", 0.0)
        graphs = metrics.get("graphs_alive_max") or 0
        measured_growth = f"{per_step / 1024:.2f} KB/step" if metrics.get("growth_points", 0) >= 20 else "too few steps for a slope"
        leaked_graphs = graphs >= GRAPHS_LEAKED
        grows = per_step > target and metrics.get("growth_sustained_bytes_per_step", 0) > target
        stop = context.stop_for("memory_growth")
        failing = bool(grows or leaked_graphs or stop)
        memray_file = context.evidence.summary("memory").get("memray")
        # Reading every retained allocation's stack costs about half a second: only for a failure.
        lines = retained_by_line(memray_file, context.evidence) if failing and memray_file else []
        where = ""
        if lines:
            where = "; memory allocated every step and never freed comes from " + ", ".join(
                f"line {ln} ({size / 1024:.0f} KB)" for ln, size, _ in lines[:3]
            )
        if stop:
            message = f"stopped at step {stop['step']}: {stop['message']}{where}"
        else:
            parts = [f"the heap grows {per_step / 1024:.1f} KB per step after warm-up"]
            if leaked_graphs:
                parts.append(_graphs_message(graphs, context.evidence.steps_done))
            message = "; ".join(parts) + where + ": something from each step outlives it"
        checks = [
            Check.judge(
                "memory_growth",
                not failing,
                f"{measured_growth}, {graphs} graphs alive",
                f"<= {target / 1024:.2f} KB/step, graphs freed each step",
                message,
                lines[0][0] if lines else None,
            )
        ]
        reference_peak = (context.reference or {}).get("peak_bytes")
        peak = metrics.get("peak_bytes")
        if reference_peak and peak and not stop:
            ratio = peak / reference_peak
            limit = context.targets.get("peak_memory_ratio", 1.5)
            checks.append(
                Check.judge(
                    "peak_memory",
                    ratio <= limit,
                    f"{ratio:.2f}x ({peak / 2**20:.1f} MiB)",
                    f"<= {limit:g}x the reference fix ({reference_peak / 2**20:.1f} MiB)",
                    f"peak memory is {ratio:.2f} times the reference fix's",
                )
            )
        return checks


def _graphs_message(alive: int, step: int) -> str:
    return f"{alive} autograd graphs alive at step {step} (a correct loop keeps one or two): each step's graph outlives the step"


PACKAGE_DIR = str(_PACKAGE_PATH)


def _read_heap(path: str, wall_ms: list[float], warmup: int) -> tuple[list[tuple[int, int]], int]:
    """Heap per step after warm-up (snapshot times mapped to step numbers) and the peak."""
    import bisect

    import memray

    reader = memray.FileReader(path)
    floor: dict[int, int] = {}  # the lowest heap seen during each step: what the step retained
    for snap in reader.get_memory_snapshots():
        step = bisect.bisect_left(wall_ms, snap.time)  # steps completed by then
        if warmup < step < len(wall_ms):
            floor[step] = min(floor.get(step, snap.heap), snap.heap)
    return sorted(floor.items()), reader.metadata.peak_memory


def retained_by_line(path: str, evidence) -> list[tuple[int, int, int]]:
    """(line, bytes, allocations) of the learner's lines whose allocations, made about every step,
    were never freed: where a leak's memory comes from."""
    import memray

    steps_after = max(len(evidence.summary("memory").get("wall_ms", [])) - evidence.warmup_steps, 1)
    by_line: dict[int, list[int]] = {}
    for record in memray.FileReader(path).get_leaked_allocation_records(merge_threads=True):
        stack = record.stack_trace()
        if any("importlib" in file or file.startswith(PACKAGE_DIR) for _, file, _ in stack):
            continue  # a module imported lazily during training, or the probes' own records
        line = next((ln for _, file, ln in stack if file == evidence.script), None)
        if line is not None:
            entry = by_line.setdefault(line, [0, 0])
            entry[0] += record.size
            entry[1] += record.n_allocations
    return sorted(
        ((ln, size, count) for ln, (size, count) in by_line.items() if count >= steps_after // 2),
        key=lambda item: -item[1],
    )
