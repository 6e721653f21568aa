"""Rendering results for people: one place turns verdicts and tables into terminal output."""

from __future__ import annotations

import os
import sys
from contextlib import contextmanager

from debuglab.verdict import Verdict

STATUS_STYLE = {"pass": "bold green", "fail": "bold red", "error": "bold magenta", "checker_error": "bold magenta", "skip": "dim"}


def fancy(stream=None) -> bool:
    """Colour, live bars and redrawn screens only for a person at a terminal: plain text in logs,
    notebooks, CI, under NO_COLOR (https://no-color.org) and on a dumb terminal."""
    stream = stream or sys.stdout
    return stream.isatty() and not os.environ.get("NO_COLOR") and os.environ.get("TERM") != "dumb"


@contextmanager
def run_progress(enabled: bool = True):
    """A progress(phase, step, total) callback for long runs: a bar per phase on stderr at a
    terminal; elsewhere one plain line as each phase starts (and nothing when not enabled)."""
    if not enabled:
        yield None
        return
    if not fancy(sys.stderr):
        started: set[str] = set()

        def plain(phase: str, step: int, total: int | None) -> None:
            if phase not in started:
                started.add(phase)
                print(f"  {phase}...", file=sys.stderr, flush=True)

        yield plain
        return
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    bars = Progress(TextColumn("  {task.description:<34}"), BarColumn(), MofNCompleteColumn(), TextColumn("steps"), TimeElapsedColumn(), console=console(stderr=True), transient=True)
    tasks: dict[str, int] = {}

    def update(phase: str, step: int, total: int | None) -> None:
        if phase not in tasks:
            tasks[phase] = bars.add_task(phase, total=total)
        bars.update(tasks[phase], completed=step)

    with bars:
        yield update


def console(stderr: bool = False):
    from rich.console import Console

    # Logs and notebooks (not a terminal) get wide lines rather than 80 columns of wrapped table.
    width = None if sys.stdout.isatty() else 140
    return Console(stderr=stderr, no_color=bool(os.environ.get("NO_COLOR")), highlight=False, soft_wrap=True, width=width)


def table(title: str | None, columns: list[str], rows: list[list], right: tuple[str, ...] = ()) -> None:
    """A table for a person at a terminal (rich, every cell escaped; a cell that is a status
    word gets its colour). Callers print plain aligned text in pipes and logs instead."""
    from rich.markup import escape
    from rich.table import Table

    statuses = {"passed": "bold green", "attempted": "bold red", "started": "yellow", "new": "dim", **STATUS_STYLE}
    grid = Table(title=escape(title) if title else None, title_justify="left", title_style="bold", header_style="bold", show_edge=False, pad_edge=False)
    for column in columns:
        grid.add_column(column, justify="right" if column in right else "left")
    for row in rows:
        cells = []
        for cell in row:
            text = escape("" if cell is None else str(cell))
            cells.append(f"[{statuses[str(cell)]}]{text}[/]" if str(cell) in statuses else text)
        grid.add_row(*cells)
    console().print(grid)


def verdict(v: Verdict, script_label: str) -> None:
    """Every piece of text from the learner's run or files (messages, paths, measurements) is
    escaped: an exception message such as "[/tmp] not found" must print as it is."""
    from rich.markup import escape as e
    from rich.table import Table

    out = console()
    style = STATUS_STYLE[v.status]
    title = v.lab or script_label
    out.print(f"[{style}]{v.status.upper()}[/] {e(title)}: {e(v.message)}")
    if v.checks:
        table = Table(show_edge=False, pad_edge=False, box=None, header_style="bold")
        for column in ("check", "status", "measured", "target"):
            table.add_column(column)
        for check in v.checks:
            table.add_row(e(check.name), f"[{STATUS_STYLE[check.status]}]{check.status}[/]", e(str(check.measured)), e(check.target or ""))
        out.print(table)
    failed = [c for c in v.checks if c.status == "fail"]
    for check in failed:
        line = f" (look at {script_label}:{check.line})" if check.line else ""
        out.print(f"- [bold]{e(check.name)}[/]: {e(check.message + line)}")
    line = v.metrics.get("line") if v.status == "error" else None
    if line:
        out.print(e(f"look at {script_label}:{line}"))
    for note in v.notes:
        out.print(f"[cyan]note[/]: {e(note)}")
    artifacts = v.artifacts
    if artifacts.get("trace"):
        out.print(f"[dim]trace: {e(artifacts['trace'])} (open in https://ui.perfetto.dev)[/]")
    if artifacts.get("trace_error"):
        out.print(f"[dim]trace: none ({e(artifacts['trace_error'])})[/]")
    if artifacts.get("cuda_memory_snapshot"):
        out.print(f"[dim]CUDA memory snapshot: {e(artifacts['cuda_memory_snapshot'])} (drag into https://pytorch.org/memory_viz)[/]")
    if artifacts.get("run_dir"):
        out.print(f"[dim]run folder: {e(artifacts['run_dir'])}[/]")


# What `run` shows, in order: (label, the metrics it needs, how to show them).
SYMPTOM_ROWS = (
    ("optimizer steps", ("steps",), lambda m: f"{m['steps']}"),
    ("step time (median, after warm-up)", ("step_time_median_ms",), lambda m: f"{m['step_time_median_ms']:.2f} ms"),
    ("step time, first vs last tenth", ("step_time_first_ms",), lambda m: f"{m['step_time_first_ms']:.2f} ms -> {m['step_time_last_ms']:.2f} ms"),
    ("heap growth per step", ("growth_bytes_per_step",), lambda m: f"{m['growth_bytes_per_step'] / 1024:.2f} KB"),
    ("autograd graphs alive (max)", ("graphs_alive_max",), lambda m: f"{m['graphs_alive_max']}"),
    ("peak memory", ("peak_bytes",), lambda m: f"{m['peak_bytes'] / 2**20:.1f} MiB"),
    ("waiting on the DataLoader", ("dataloader_wait_fraction",), lambda m: f"{100 * m['dataloader_wait_fraction']:.0f}% of step time"),
    ("host syncs per step (your file)", ("syncs_per_step",), lambda m: f"{m['syncs_per_step']:.2f}"),
    ("first non-finite value", ("first_nonfinite_step",), lambda m: f"step {m['first_nonfinite_step']}"),
    ("loss, first vs last tenth", ("loss_first",), lambda m: f"{m['loss_first']:.4g} -> {m['loss_last']:.4g}"),
)


def symptom(metrics: dict, stopped: dict | None) -> None:
    """What `run` shows after the script's own output: figures, no judgement."""
    from rich.markup import escape as e

    out = console()
    rows = [(label, show(metrics)) for label, needs, show in SYMPTOM_ROWS if all(metrics.get(k) is not None for k in needs)]
    rows += [(f"{name} (held-out)", f"{value:.4g}") for name, value in metrics.items() if name.startswith(("heldout", "val_"))]
    out.print("\n[bold]What the probes saw[/]")
    for label, value in rows:
        out.print(e(f"  {label:<36} {value}"))
    if stopped:
        # What verify would stop on: the first certain sign, and which check it fails.
        out.print(f"  [yellow]first sign[/] at step {stopped['step']} ({e(stopped['check'])}): {e(stopped['message'])}")


def solution(patch: str, explanation: str) -> None:
    """The reference fix as a coloured diff and its explanation as Markdown at a terminal; the
    plain texts elsewhere (a pipe, a notebook, NO_COLOR)."""
    if not fancy():
        print(patch.rstrip())
        print()
        print(explanation.rstrip())
        return
    from rich.markdown import Markdown
    from rich.syntax import Syntax

    out = console()
    out.print(Syntax(patch.rstrip(), "diff", theme="ansi_dark", background_color="default"))
    out.print()
    out.print(Markdown(explanation))
