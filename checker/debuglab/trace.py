"""Figures from the Chrome trace the profiler probe writes (torch.profiler's own format, which
Perfetto opens), read in the parent after the run, so none of it costs the learner's steps:

- how much of the traced steps' wall time the device ran kernels (the rest it sat idle), and the
  kernels that took the most device time;
- how much of the time went to matrix products and convolutions, and in which dtype they ran
  (the trace carries each op's input dtypes: the profiler records shapes).

The traced steps are the ProfilerStep#N spans on the host. On a GPU, device time is kernel time
(events of category "kernel"), and a kernel belongs to the op that launched it (its "correlation"
matches the launch's). On a CPU there are no kernels: matrix-product time is the ops' own time.
"""

from __future__ import annotations

import bisect
import json
import re
from dataclasses import dataclass, field

STEP_PREFIX = "ProfilerStep#"
TOP_KERNELS = 5
KERNEL_NAME_CHARS = 160  # CUDA kernel names are whole C++ template instantiations
LAUNCH_CATEGORIES = ("cuda_runtime", "cuda_driver")
MATMUL_OPS = {"aten::mm", "aten::addmm", "aten::bmm", "aten::baddbmm", "aten::addbmm", "aten::matmul", "aten::linear", "aten::_addmm_activation"}
CONV_OP = re.compile(r"aten::(.*convolution|conv\dd|conv_transpose\dd|_?slow_conv|thnn_conv|_conv_depthwise|_nnpack_spatial_conv)")
FLOAT_TYPES = {"float": "float32", "double": "float64", "c10::Half": "float16", "c10::BFloat16": "bfloat16"}


@dataclass(frozen=True)
class TraceFigures:
    steps: int  # traced steps (ProfilerStep spans)
    step_ms: float  # their wall time on the host, summed
    device: bool  # the trace holds device kernels
    kernel_ms: float = 0.0  # device time: the union of kernel intervals within the steps
    top_kernels: list = field(default_factory=list)  # [{"name", "calls", "ms", "share"}], the most device time first
    # Matrix products ("matmul") and convolutions ("conv"): family -> dtype -> ms (kernel time on a
    # GPU, op time on a CPU), and their share of device time (GPU) or of step time (CPU).
    matmul_ms: dict = field(default_factory=dict)
    matmul_share: float = 0.0

    @property
    def idle_fraction(self) -> float | None:
        return max(0.0, 1 - self.kernel_ms / self.step_ms) if self.device and self.step_ms > 0 else None


def read(path) -> TraceFigures | None:
    with open(path) as f:
        document = json.load(f)
    return figures(document.get("traceEvents", []) if isinstance(document, dict) else document)


def figures(events: list[dict]) -> TraceFigures | None:
    """The figures of the traced steps, or None when the trace has no ProfilerStep span."""
    spans = [(e["ts"], e["ts"] + e["dur"]) for e in events if _span(e, "user_annotation") and e["name"].startswith(STEP_PREFIX)]
    steps = _merged(spans)
    if not steps:
        return None
    step_us = sum(end - start for start, end in steps)
    kernels = [e for e in events if _span(e, "kernel") and _overlaps(e["ts"], e["ts"] + e["dur"], steps)]
    ops = _innermost_matmuls([e for e in events if _span(e, "cpu_op") and _overlaps(e["ts"], e["ts"] + e["dur"], steps)])
    by_family: dict[str, dict[str, float]] = {}
    if kernels:
        kernel_us = sum(_clipped(_merged([(k["ts"], k["ts"] + k["dur"]) for k in kernels]), steps))
        for op, us in _kernel_time_per_op(events, kernels, ops):
            _add(by_family, op, us)
        all_kernels_us = sum(k["dur"] for k in kernels)
        matmul_share = sum(sum(d.values()) for d in by_family.values()) / all_kernels_us if all_kernels_us else 0.0
        top = _top_kernels(kernels, all_kernels_us)
    else:
        kernel_us, top = 0.0, []
        for op in ops:
            _add(by_family, op, op["dur"])
        matmul_share = sum(sum(d.values()) for d in by_family.values()) / step_us
    return TraceFigures(
        steps=len(spans),
        step_ms=step_us / 1000,
        device=bool(kernels),
        kernel_ms=kernel_us / 1000,
        top_kernels=top,
        matmul_ms={family: {dtype: us / 1000 for dtype, us in dtypes.items()} for family, dtypes in by_family.items()},
        matmul_share=min(matmul_share, 1.0),
    )


def _span(event: dict, category: str) -> bool:
    return event.get("ph") == "X" and event.get("cat") == category and "dur" in event and "ts" in event


def _merged(intervals: list[tuple[float, float]]) -> list[tuple[float, float]]:
    merged: list[list[float]] = []
    for start, end in sorted(intervals):
        if merged and start <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], end)
        else:
            merged.append([start, end])
    return [(start, end) for start, end in merged]


def _clipped(intervals, windows):
    """The length of each (merged) interval that lies inside the (merged) windows."""
    for start, end in intervals:
        yield sum(max(0.0, min(end, w_end) - max(start, w_start)) for w_start, w_end in windows)


def _overlaps(start: float, end: float, windows) -> bool:
    return any(start < w_end and end > w_start for w_start, w_end in windows)


def _thread(event: dict) -> tuple:
    return (event.get("pid"), event.get("tid"))


def _family(name: str) -> str | None:
    if name in MATMUL_OPS or name.startswith("aten::_scaled_dot_product"):
        return "matmul"
    if CONV_OP.match(name):
        return "conv"
    return None


def _innermost_matmuls(ops: list[dict]) -> list[dict]:
    """Matrix-product and convolution ops that contain no other such op (aten::linear contains
    aten::addmm, aten::conv2d contains aten::convolution ...): each is counted once, at the op
    that does the work. Each comes back with its family and the dtype of its first float input."""
    found = [e for e in ops if _family(e["name"])]
    found.sort(key=lambda e: (_thread(e), e["ts"], -e["dur"]))
    stack: list[dict] = []  # the ops open at this point of one thread's timeline
    enclosing: set[int] = set()
    for e in found:
        if stack and _thread(stack[-1]) != _thread(e):
            stack = []
        while stack and stack[-1]["ts"] + stack[-1]["dur"] <= e["ts"]:
            stack.pop()
        if stack:
            enclosing.add(id(stack[-1]))
        stack.append(e)
    innermost = []
    for e in found:
        dtype = next((FLOAT_TYPES[t] for t in (e.get("args") or {}).get("Input type", []) if t in FLOAT_TYPES), None)
        if id(e) not in enclosing and dtype is not None:
            innermost.append({"thread": _thread(e), "ts": e["ts"], "dur": e["dur"], "family": _family(e["name"]), "dtype": dtype})
    return innermost


def _kernel_time_per_op(events: list[dict], kernels: list[dict], ops: list[dict]):
    """(op, kernel us) for each kernel launched inside one of the ops: the launch (a CUDA runtime
    or driver call on the host) shares the kernel's correlation id and lies within the op."""
    launches = {}
    for e in events:
        if e.get("cat") in LAUNCH_CATEGORIES and "correlation" in (e.get("args") or {}):
            launches[e["args"]["correlation"]] = e
    per_thread: dict[tuple, list[dict]] = {}
    for op in sorted(ops, key=lambda o: o["ts"]):  # innermost ops never nest: per thread they are disjoint
        per_thread.setdefault(op["thread"], []).append(op)
    starts = {thread: [op["ts"] for op in thread_ops] for thread, thread_ops in per_thread.items()}
    for kernel in kernels:
        launch = launches.get((kernel.get("args") or {}).get("correlation"))
        if launch is None:
            continue
        key = _thread(launch)
        i = bisect.bisect_right(starts.get(key, []), launch["ts"]) - 1
        if i >= 0:
            op = per_thread[key][i]
            if launch["ts"] <= op["ts"] + op["dur"]:
                yield op, kernel["dur"]


def _add(by_family: dict, op: dict, us: float) -> None:
    dtypes = by_family.setdefault(op["family"], {})
    dtypes[op["dtype"]] = dtypes.get(op["dtype"], 0.0) + us


def _top_kernels(kernels: list[dict], total_us: float) -> list[dict]:
    per_name: dict[str, list] = {}
    for k in kernels:
        entry = per_name.setdefault(k["name"], [0, 0.0])
        entry[0] += 1
        entry[1] += k["dur"]
    ranked = sorted(per_name.items(), key=lambda item: -item[1][1])[:TOP_KERNELS]
    return [
        {"name": name[:KERNEL_NAME_CHARS], "calls": calls, "ms": round(us / 1000, 4), "share": round(us / total_us, 4) if total_us else 0.0}
        for name, (calls, us) in ranked
    ]
