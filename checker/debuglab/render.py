"""Rendering results for people: one place turns verdicts and tables into terminal output."""

from __future__ import annotations

import os
import sys

from debuglab.verdict import Verdict

STATUS_STYLE = {"pass": "bold green", "fail": "bold red", "error": "bold magenta", "skip": "dim"}


def console(stderr: bool = False):
    from rich.console import Console

    # Logs and notebooks (not a terminal) get wide lines rather than 80 columns of wrapped table.
    width = None if sys.stdout.isatty() else 140
    return Console(stderr=stderr, no_color=bool(os.environ.get("NO_COLOR")), highlight=False, soft_wrap=True, width=width)


def verdict(v: Verdict, script_label: str) -> None:
    from rich.table import Table

    out = console()
    style = STATUS_STYLE[v.status]
    title = v.lab or script_label
    out.print(f"[{style}]{v.status.upper()}[/] {title}: {v.message}")
    if v.checks:
        table = Table(show_edge=False, pad_edge=False, box=None, header_style="bold")
        for column in ("check", "status", "measured", "target"):
            table.add_column(column)
        for check in v.checks:
            table.add_row(check.name, f"[{STATUS_STYLE[check.status]}]{check.status}[/]", str(check.measured), check.target or "")
        out.print(table)
    failed = [c for c in v.checks if c.status == "fail"]
    for check in failed:
        line = f" (look at {script_label}:{check.line})" if check.line else ""
        out.print(f"- [bold]{check.name}[/]: {check.message}{line}")
    line = v.metrics.get("line") if v.status == "error" else None
    if line:
        out.print(f"look at {script_label}:{line}")
    artifacts = v.artifacts
    if artifacts.get("trace"):
        out.print(f"[dim]trace: {artifacts['trace']} (open in https://ui.perfetto.dev or TensorBoard)[/]")
    if artifacts.get("run_dir"):
        out.print(f"[dim]run folder: {artifacts['run_dir']}[/]")


def symptom(metrics: dict, stopped: dict | None) -> None:
    """What `run` shows after the script's own output: figures, no judgement."""
    out = console()
    rows = []
    if "steps" in metrics:
        rows.append(("optimizer steps", f"{metrics['steps']}"))
    if metrics.get("step_time_median_ms") is not None:
        rows.append(("step time (median, after warm-up)", f"{metrics['step_time_median_ms']:.2f} ms"))
    if metrics.get("step_time_first_ms") is not None:
        rows.append(("step time, first vs last tenth", f"{metrics['step_time_first_ms']:.2f} ms -> {metrics['step_time_last_ms']:.2f} ms"))
    if metrics.get("growth_bytes_per_step") is not None:
        rows.append(("heap growth per step", f"{metrics['growth_bytes_per_step'] / 1024:.2f} KB"))
    if metrics.get("graphs_alive_max") is not None:
        rows.append(("autograd graphs alive (max)", f"{metrics['graphs_alive_max']}"))
    if metrics.get("peak_bytes"):
        rows.append(("peak memory", f"{metrics['peak_bytes'] / 2**20:.1f} MiB"))
    if metrics.get("dataloader_wait_fraction") is not None:
        rows.append(("waiting on the DataLoader", f"{100 * metrics['dataloader_wait_fraction']:.0f}% of step time"))
    if metrics.get("syncs_per_step") is not None:
        rows.append(("host syncs per step (your file)", f"{metrics['syncs_per_step']:.2f}"))
    if metrics.get("first_nonfinite_step") is not None:
        rows.append(("first non-finite value", f"step {metrics['first_nonfinite_step']}"))
    if metrics.get("loss_first") is not None:
        rows.append(("loss, first vs last tenth", f"{metrics['loss_first']:.4g} -> {metrics['loss_last']:.4g}"))
    for name, value in metrics.items():
        if name.startswith("heldout") or name.startswith("val_"):
            rows.append((f"{name} (held-out)", f"{value:.4g}"))
    out.print("\n[bold]What the probes saw[/]")
    for label, value in rows:
        out.print(f"  {label:<36} {value}")
    if stopped:
        # What verify would stop on: the first certain sign, and which check it fails.
        out.print(f"  [yellow]first sign[/] at step {stopped['step']} ({stopped['check']}): {stopped['message']}")
