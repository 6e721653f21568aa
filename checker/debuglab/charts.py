"""Inline SVG charts for the HTML report, drawn here so the report stays one file that opens
offline, with JavaScript off, and without a plotting library to install.

The first half draws generic charts (axes, lines, stacked bars); the second half turns the
series a run leaves behind (.debuglab/series/<lab>/*.json) into the four pictures of a lab.
Any figure may be missing: a chart then says "not measured" instead of failing.
"""

from __future__ import annotations

import itertools
import math
import statistics
from dataclasses import dataclass
from html import escape

# Okabe & Ito's palette: told apart with the common colour-vision deficiencies.
BEFORE = "#D55E00"  # vermillion: the broken run
AFTER = "#0072B2"  # blue: the fixed run (or the latest one)
LAYER_COLOURS = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#000000")
LAYER_DASHES = ("", "7 3", "2 3")  # past seven layers the colours repeat with another dash
COMPUTE, WAIT, SYNC = "#56B4E9", "#E69F00", "#CC79A7"
INK, MUTED, GRID = "#1f2328", "#59636e", "#e3e6ea"
FONT_SIZE = 12
CHAR_WIDTH = 6.6  # average width of a character at FONT_SIZE, for laying out legends

WIDTH = 600  # every chart is drawn at 1:1 in a half of a 1280px-wide page
TITLES = {
    "loss": "Loss per step",
    "memory": "Memory per step",
    "grads": "Gradient norm per layer",
    "time": "Step time breakdown",
}

_clip_ids = itertools.count(1)  # clip paths need ids unique in the page


# -- axes -------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Axis:
    """A linear or log axis whose ends are round numbers, so ticks fall on them."""

    lo: float
    hi: float
    log: bool = False
    step: float = 1.0  # linear tick spacing

    @classmethod
    def fit(cls, values, log: bool = False, include_zero: bool = False) -> "Axis":
        finite = [v for v in values if v is not None and math.isfinite(v) and (v > 0 or not log)]
        if log:
            if not finite:
                return cls(0.1, 10.0, log=True)
            lo, hi = math.floor(math.log10(min(finite))), math.ceil(math.log10(max(finite)))
            return cls(10.0**lo, 10.0 ** max(hi, lo + 1), log=True)
        lo, hi = (min(finite), max(finite)) if finite else (0.0, 1.0)
        if include_zero:
            lo, hi = min(lo, 0.0), max(hi, 0.0)
        if hi - lo < 1e-12 * max(1.0, abs(hi)):
            pad = abs(hi) * 0.1 or 1.0
            lo, hi = lo - pad, hi + pad
        step = _nice((hi - lo) / 5)
        return cls(math.floor(lo / step + 1e-9) * step, math.ceil(hi / step - 1e-9) * step, step=step)

    def position(self, value: float, start: float, end: float) -> float:
        if self.log:
            a, b, v = math.log10(self.lo), math.log10(self.hi), math.log10(value)
        else:
            a, b, v = self.lo, self.hi, value
        return start + (v - a) / (b - a) * (end - start)

    def ticks(self) -> list[float]:
        if self.log:
            first, last = round(math.log10(self.lo)), round(math.log10(self.hi))
            every = max(1, math.ceil((last - first) / 6))
            ticks = [10.0**e for e in range(first, last + 1, every)]
            if last - first <= 2:  # few decades: 2 and 5 between them, or the axis looks bare
                ticks = sorted(ticks + [m * 10.0**e for e in range(first, last) for m in (2, 5)])
            return ticks
        count = round((self.hi - self.lo) / self.step)
        return [self.lo + i * self.step for i in range(count + 1)]

    def label(self, value: float) -> str:
        if self.log:
            exponent = math.log10(value)
            return f"{value:g}" if -4 <= exponent <= 5 else f"1e{round(exponent)}"
        if abs(value) < self.step / 2:
            value = 0.0
        decimals = max(0, -math.floor(math.log10(self.step) + 1e-9))
        return f"{value:,.{decimals}f}"


def _nice(raw: float) -> float:
    exponent = math.floor(math.log10(raw))
    fraction = raw / 10**exponent
    nice = 1 if fraction < 1.5 else 2 if fraction < 3 else 5 if fraction < 7 else 10
    return nice * 10.0**exponent


# -- chart parts ------------------------------------------------------------------------------
@dataclass(frozen=True)
class Line:
    label: str
    points: list  # [(x, y)]; a y of None (or <= 0 on a log axis) breaks the line
    colour: str
    style: str = "line"  # line | dots
    dash: str = ""  # an SVG dash pattern, "" for solid
    width: float = 2.0


@dataclass(frozen=True)
class LegendEntry:
    label: str
    colour: str
    style: str = "line"  # line | dots | box | dashed | missing (a series with nothing to draw)
    dash: str = ""


@dataclass(frozen=True)
class Marker:
    """A vertical line at x (a step, a step time), labelled at its top."""

    x: float
    label: str
    colour: str = INK


@dataclass(frozen=True)
class Note:
    """Text at a point in data coordinates, on a white halo so lines behind it stay readable."""

    x: float
    y: float
    text: str
    colour: str = INK
    anchor: str = "end"


# Text drawn over lines gets a white outline behind it, so it stays readable.
_HALO = ' paint-order="stroke" stroke="#ffffff" stroke-width="4" stroke-linejoin="round"'


def _text(x: float, y: float, text: str, size: int = FONT_SIZE, colour: str = INK, anchor: str = "start", extra: str = "") -> str:
    return f'<text x="{x:.1f}" y="{y:.1f}" font-size="{size}" fill="{colour}" text-anchor="{anchor}"{extra}>{escape(text)}</text>'


def _open(title: str, desc: str, height: float) -> list[str]:
    return [
        f'<svg xmlns="http://www.w3.org/2000/svg" role="img" viewBox="0 0 {WIDTH} {height:.0f}" width="{WIDTH}" height="{height:.0f}" class="chart">',
        f"<title>{escape(title)}</title>",
        f"<desc>{escape(desc)}</desc>" if desc else "",
        f'<rect width="{WIDTH}" height="{height:.0f}" fill="#ffffff"/>',
        _text(12, 20, title, 14, extra=' font-weight="600"'),
    ]


def _legend(entries: list[LegendEntry], left: float, top: float, right: float) -> tuple[list[str], float]:
    """Entries flow left to right and wrap; returns the drawing and the height it took."""
    parts, x, y = [], left, top
    for entry in entries:
        width = 26 + CHAR_WIDTH * len(entry.label) + 14
        if x + width > right and x > left:
            x, y = left, y + 18
        mid = y - 4
        if entry.style == "dots":
            parts.append(f'<circle cx="{x + 9}" cy="{mid}" r="3" fill="{entry.colour}"/>')
        elif entry.style == "box":
            parts.append(f'<rect x="{x + 2}" y="{mid - 6}" width="14" height="12" fill="{entry.colour}"/>')
        elif entry.style == "missing":
            parts.append(f'<rect x="{x + 2.5}" y="{mid - 5.5}" width="13" height="11" fill="none" stroke="{entry.colour}" stroke-dasharray="2 2"/>')
            parts.append(f'<path d="M{x + 5} {mid - 3}L{x + 13} {mid + 3}M{x + 13} {mid - 3}L{x + 5} {mid + 3}" stroke="{entry.colour}" stroke-width="1.5"/>')
        else:
            dash = f' stroke-dasharray="{entry.dash or "5 3"}"' if entry.style == "dashed" or entry.dash else ""
            parts.append(f'<line x1="{x}" y1="{mid}" x2="{x + 18}" y2="{mid}" stroke="{entry.colour}" stroke-width="4"{dash}/>')
        weight = ' font-weight="600"' if entry.style == "missing" else ""
        parts.append(_text(x + 24, y, entry.label, extra=weight))
        x += width
    return parts, (y - top) + 18 if entries else 0.0


def _legend_height(entries: list[LegendEntry], left: float, right: float) -> float:
    return _legend(entries, left, 0, right)[1]


def _path(points, x_axis: Axis, y_axis: Axis, box) -> str:
    """An SVG path through the drawable points; a gap in the data is a gap in the line."""
    left, top, right, bottom = box
    commands, pen_down = [], False
    for x, y in points:
        if y is None or not math.isfinite(y) or (y_axis.log and y <= 0):
            pen_down = False
            continue
        px, py = x_axis.position(x, left, right), y_axis.position(y, bottom, top)
        commands.append(f"{'L' if pen_down else 'M'}{px:.1f} {py:.1f}")
        pen_down = True
    return "".join(commands)


def line_chart(
    title: str,
    lines: list[Line],
    x_label: str,
    y_label: str,
    *,
    x_axis: Axis | None = None,
    y_axis: Axis | None = None,
    log_y: bool = False,
    markers: tuple[Marker, ...] = (),
    notes: tuple[Note, ...] = (),
    legend: list[LegendEntry] | None = None,
    desc: str = "",
    plot_height: float = 220,
) -> str:
    """Lines (or dots) over steps with ticked, labelled axes and a legend below."""
    x_axis = x_axis or Axis.fit([x for line in lines for x, _ in line.points] + [m.x for m in markers] or [0, 1])
    y_axis = y_axis or Axis.fit([y for line in lines for _, y in line.points], log=log_y)
    y_ticks = y_axis.ticks()
    left = 30 + max(CHAR_WIDTH * len(y_axis.label(t)) for t in y_ticks) + 8
    right, top = WIDTH - 20, 48
    bottom = top + plot_height
    if legend is None:
        legend = [LegendEntry(line.label, line.colour, line.style, line.dash) for line in lines if line.label]
    legend_top = bottom + 56
    height = legend_top + _legend_height(legend, left, right) + 4
    box = (left, top, right, bottom)
    clip = f"clip{next(_clip_ids)}"
    parts = _open(title, desc, height)
    parts.append(f'<clipPath id="{clip}"><rect x="{left}" y="{top - 2}" width="{right - left}" height="{plot_height + 4}"/></clipPath>')
    parts += _grid_and_axes(x_axis, y_axis, box, x_label, y_label)
    parts.append(f'<g clip-path="url(#{clip})" fill="none" stroke-linejoin="round" stroke-linecap="round">')
    for line in lines:
        if line.style == "dots":
            for x, y in line.points:
                if y is not None and math.isfinite(y) and (y > 0 or not y_axis.log):
                    cx, cy = x_axis.position(x, left, right), y_axis.position(y, bottom, top)
                    parts.append(f'<circle cx="{cx:.1f}" cy="{cy:.1f}" r="1.8" fill="{line.colour}" fill-opacity="0.75" stroke="none"/>')
            continue
        d = _path(line.points, x_axis, y_axis, box)
        if d:
            dash_attr = f' stroke-dasharray="{line.dash}"' if line.dash else ""
            parts.append(f'<path d="{d}" stroke="{line.colour}" stroke-width="{line.width}"{dash_attr}/>')
    parts.append("</g>")
    for n, marker in enumerate(markers):
        px = x_axis.position(marker.x, left, right)
        parts.append(f'<line x1="{px:.1f}" y1="{top}" x2="{px:.1f}" y2="{bottom}" stroke="{marker.colour}" stroke-width="1.5" stroke-dasharray="4 3"/>')
        anchor = "end" if px > (left + right) / 2 else "start"
        parts.append(_text(px + (-4 if anchor == "end" else 4), top + 12 + 14 * n, marker.label, 11, marker.colour, anchor, _HALO))
    for note in notes:
        px, py = x_axis.position(note.x, left, right), y_axis.position(note.y, bottom, top)
        parts.append(_text(px, py - 8, note.text, FONT_SIZE, note.colour, note.anchor, _HALO + ' font-weight="600"'))
    legend_parts, _ = _legend(legend, left, legend_top, right)
    parts += legend_parts
    parts.append("</svg>")
    return "\n".join(p for p in parts if p)



def _x_axis(x_axis: Axis, box, x_label: str, tick_line) -> list[str]:
    """The x ticks (each drawn by tick_line(px): a tick mark or a grid line), their labels, the
    axis lines and the axis label."""
    left, top, right, bottom = box
    parts = []
    for tick in x_axis.ticks():
        px = x_axis.position(tick, left, right)
        parts += [tick_line(px), _text(px, bottom + 18, x_axis.label(tick), 11, MUTED, "middle")]
    parts.append(f'<path d="M{left} {top}V{bottom}H{right}" fill="none" stroke="{MUTED}"/>')
    parts.append(_text((left + right) / 2, bottom + 36, x_label, FONT_SIZE, INK, "middle"))
    return parts


def _grid_and_axes(x_axis: Axis, y_axis: Axis, box, x_label: str, y_label: str) -> list[str]:
    left, top, right, bottom = box
    parts = []
    for tick in y_axis.ticks():
        py = y_axis.position(tick, bottom, top)
        parts.append(f'<line x1="{left}" y1="{py:.1f}" x2="{right}" y2="{py:.1f}" stroke="{GRID}"/>')
        parts.append(_text(left - 6, py + 4, y_axis.label(tick), 11, MUTED, "end"))
    parts += _x_axis(x_axis, box, x_label, lambda px: f'<line x1="{px:.1f}" y1="{bottom}" x2="{px:.1f}" y2="{bottom + 5}" stroke="{MUTED}"/>')
    middle = (top + bottom) / 2
    parts.append(_text(16, middle, y_label, FONT_SIZE, INK, "middle", f' transform="rotate(-90 16 {middle:.1f})"'))
    return parts


@dataclass(frozen=True)
class Bar:
    label: str
    segments: tuple  # (value, colour) in legend order
    colour: str  # the run's colour, on a swatch beside the label
    detail: str = ""  # the parts in words, under the bar: a part too thin to see still shows


def stacked_bars(title: str, bars: list[Bar], legend: list[LegendEntry], x_label: str, marker: Marker | None = None, desc: str = "") -> str:
    """Horizontal bars cut into parts, with the total at the end of each bar."""
    totals = [sum(v for v, _ in bar.segments) for bar in bars]
    x_axis = Axis.fit(totals + [marker.x if marker else 0.0], include_zero=True)
    left = 24 + max(CHAR_WIDTH * len(bar.label) for bar in bars) + 8
    right, top, bar_height, gap = WIDTH - 70, 48 + (16 if marker else 0), 28, 34
    bottom = top + len(bars) * (bar_height + gap) + gap / 2
    legend_top = bottom + 56
    height = legend_top + _legend_height(legend, left, WIDTH - 20) + 4
    parts = _open(title, desc, height)
    parts += _x_axis(x_axis, (left, top, right, bottom), x_label, lambda px: f'<line x1="{px:.1f}" y1="{top}" x2="{px:.1f}" y2="{bottom}" stroke="{GRID}"/>')
    for n, (bar, total) in enumerate(zip(bars, totals)):
        y = top + gap / 2 + n * (bar_height + gap)
        parts.append(f'<rect x="8" y="{y + bar_height / 2 - 6:.1f}" width="12" height="12" fill="{bar.colour}"/>')
        parts.append(_text(24, y + bar_height / 2 + 4, bar.label))
        x = left
        for value, colour in bar.segments:
            width = x_axis.position(value, left, right) - left
            if width > 0:
                parts.append(f'<rect x="{x:.1f}" y="{y:.1f}" width="{width:.1f}" height="{bar_height}" fill="{colour}"/>')
            x += width
        parts.append(_text(x + 6, y + bar_height / 2 + 4, f"{total:.2f} ms", FONT_SIZE, INK, extra=' font-weight="600"'))
        if bar.detail:
            parts.append(_text(left + 2, y + bar_height + 15, bar.detail, 11, MUTED, extra=_HALO))
    if marker:
        px = x_axis.position(marker.x, left, right)
        parts.append(f'<line x1="{px:.1f}" y1="{top - 14}" x2="{px:.1f}" y2="{bottom}" stroke="{marker.colour}" stroke-width="2" stroke-dasharray="5 3"/>')
        anchor = "end" if px > (left + right) / 2 else "start"
        parts.append(_text(px + (-5 if anchor == "end" else 5), top - 4, marker.label, 11, marker.colour, anchor, _HALO))
    legend_parts, _ = _legend(legend, left, legend_top, WIDTH - 20)
    parts += legend_parts
    parts.append("</svg>")
    return "\n".join(p for p in parts if p)


def not_measured(title: str, why: str) -> str:
    """A chart-sized placeholder, so a missing figure is said, not silently left out."""
    parts = _open(title, why, 110)
    parts.append(f'<rect x="12" y="34" width="{WIDTH - 24}" height="64" rx="6" fill="#f6f8fa" stroke="{GRID}"/>')
    parts.append(_text(WIDTH / 2, 71, why, FONT_SIZE, MUTED, "middle"))
    parts.append("</svg>")
    return "\n".join(p for p in parts if p)


# -- the four pictures of a lab -------------------------------------------------------------------
@dataclass(frozen=True)
class Run:
    """One series file and how the report names it ("before (broken)", "after (fixed)")."""

    label: str
    series: dict
    colour: str


def number(value) -> float | None:
    """A finite number from a series file, or None: files may come from older versions or runs
    that stopped early, and a bad value must not take the report down."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value) if math.isfinite(value) else None


def steps_of(series: dict) -> list[dict]:
    steps = series.get("steps") if isinstance(series, dict) else None
    return [s for s in steps if isinstance(s, dict) and number(s.get("i")) is not None] if isinstance(steps, list) else []


def metrics_of(series: dict) -> dict:
    metrics = series.get("metrics") if isinstance(series, dict) else None
    return metrics if isinstance(metrics, dict) else {}


def loss_chart(runs: list[Run]) -> str:
    """Both runs on one chart: a fix shows as the line that keeps going down."""
    title = TITLES["loss"]
    lines, markers = [], []
    for run in runs:
        points = [(s["i"], number(s.get("loss"))) for s in steps_of(run.series) if "loss" in s]
        if any(y is not None for _, y in points):
            lines.append(Line(run.label, points, run.colour))
        first_bad = number(metrics_of(run.series).get("first_nonfinite_step"))
        if first_bad is not None:
            markers.append(Marker(first_bad, f"{run.label.split()[0]}: first NaN/inf at step {first_bad:.0f}", run.colour))
    if not lines:
        return not_measured(title, "loss not measured: no run recorded a loss")
    values = [y for line in lines for _, y in line.points if y is not None]
    log_y = min(values) > 0 and max(values) / min(values) > 1000  # an exploding loss squashes the rest flat
    summary = "; ".join(f"{line.label}: {_first_last(line.points)}" for line in lines)
    return line_chart(title, lines, "step", "loss" + (" (log scale)" if log_y else ""), log_y=log_y, markers=tuple(markers), desc=summary)


def _first_last(points) -> str:
    ys = [y for _, y in points if y is not None]
    return f"loss {ys[0]:.4g} at first, {ys[-1]:.4g} at the end" if ys else "no loss"


def _heap_points(series: dict) -> list[tuple[float, float]]:
    heap = series.get("heap") if isinstance(series, dict) else None
    points = []
    for item in heap if isinstance(heap, list) else []:
        if isinstance(item, (list, tuple)) and len(item) == 2 and number(item[0]) is not None and number(item[1]) is not None:
            points.append((float(item[0]), float(item[1]) / 2**20))
    return points


def memory_charts(runs: list[Run]) -> list[str]:
    """One chart per run on the same y range, so a leak's climb and a fix's flat line compare at
    a glance; the fitted slope is the figure the memory check judged."""
    title = TITLES["memory"]
    fits = {}
    for run in runs:
        points = _heap_points(run.series)
        slope = number(metrics_of(run.series).get("growth_bytes_per_step"))
        if points and slope is not None:
            # Through the median point, as the robust (Theil-Sen) fit behind the slope is: a heap
            # that jumps between two levels keeps its line on the level most steps sit at.
            mean_x = statistics.median(x for x, _ in points)
            mean_y = statistics.median(y for _, y in points)
            xs = (min(x for x, _ in points), max(x for x, _ in points))
            fits[run.label] = [(x, mean_y + slope / 2**20 * (x - mean_x)) for x in xs]
    every = [point for run in runs for point in _heap_points(run.series)] + [point for fit in fits.values() for point in fit]
    shared_x, shared_y = Axis.fit([x for x, _ in every]), Axis.fit([y for _, y in every])
    charts = []
    for run in runs:
        points = _heap_points(run.series)
        heading = f"{title}: {run.label}"
        if not points:
            charts.append(not_measured(heading, "memory not measured in this run"))
            continue
        lines = [Line("heap after warm-up", points, run.colour, "dots")]
        legend = [LegendEntry(lines[0].label, run.colour, "dots")]
        notes = ()
        slope = number(metrics_of(run.series).get("growth_bytes_per_step"))
        if run.label in fits:  # dashed and on top, so the points under it still show
            fit = fits[run.label]
            label = f"{_kb(slope)} KB/step"
            lines.append(Line(f"fitted slope {label}", fit, INK, dash="7 4"))
            legend.append(LegendEntry(lines[-1].label, INK, "dashed", "7 4"))
            notes = (Note(fit[1][0], fit[1][1], label),)
        else:
            legend.append(LegendEntry("slope not measured", MUTED, "missing"))
        peak = number(metrics_of(run.series).get("peak_bytes"))
        desc = f"heap over {len(points)} steps after warm-up; growth {_kb(slope) + ' KB/step' if slope is not None else 'not measured'}"
        desc += f"; peak {peak / 2**20:.1f} MiB" if peak is not None else ""
        charts.append(line_chart(heading, lines, "step", "heap in use (MiB)", x_axis=shared_x, y_axis=shared_y, legend=legend, notes=notes, desc=desc))
    return charts


def _kb(bytes_per_step: float | None) -> str:
    kb = (bytes_per_step or 0.0) / 1024
    decimals = 2 if abs(kb) < 1 else 1 if abs(kb) < 100 else 0
    return f"{kb:+.{decimals}f}"


def _layer_norms(series: dict) -> dict[str, list]:
    """Per layer, its (step, norm) points; a step that recorded norms but not this layer's
    counts as no gradient there (the probe leaves out parameters whose .grad is None)."""
    layers: dict[str, list] = {}
    recorded = [s for s in steps_of(series) if isinstance(s.get("grad_norms"), dict)]
    for step in recorded:
        for layer in step["grad_norms"]:
            layers.setdefault(str(layer), [])
    for step in recorded:
        norms = step["grad_norms"]
        for layer, points in layers.items():
            points.append((step["i"], number(norms.get(layer))))
    return layers


def gradient_charts(runs: list[Run]) -> list[str]:
    """One line per layer, log scale, same layers in the same colours on both sides. A layer
    with no gradient at all in a run (absent or zero throughout: a dead encoder) cannot be a
    line on a log axis, so the legend names it instead."""
    title = TITLES["grads"]
    per_run = [_layer_norms(run.series) for run in runs]
    layers: list[str] = []
    for norms in reversed(per_run):  # the fixed run usually has every layer
        layers += [layer for layer in norms if layer not in layers]
    style = {layer: (LAYER_COLOURS[n % len(LAYER_COLOURS)], LAYER_DASHES[n // len(LAYER_COLOURS) % len(LAYER_DASHES)]) for n, layer in enumerate(layers)}
    every = [point for norms in per_run for points in norms.values() for point in points]
    shared_x, shared_y = Axis.fit([x for x, _ in every]), Axis.fit([y for _, y in every], log=True)
    charts = []
    for run, norms in zip(runs, per_run):
        heading = f"{title}: {run.label}"
        if not norms:
            charts.append(not_measured(heading, "gradient norms not measured in this run"))
            continue
        lines, legend, dead = [], [], []
        for layer in layers:
            colour, dash = style[layer]
            points = norms.get(layer, [])
            if any(y is not None and y > 0 for _, y in points):
                lines.append(Line(layer, points, colour, dash=dash, width=1.8))
                legend.append(LegendEntry(layer, colour, "line", dash))
            else:
                dead.append(layer)
                legend.append(LegendEntry(f"{layer}: no gradient", INK, "missing"))
        notes = ()
        if dead:
            notes = (Note(shared_x.hi, shared_y.hi, f"no gradient: {', '.join(dead)}", INK),)
        desc = f"{len(layers) - len(dead)} layers with a gradient" + (f"; no gradient in {', '.join(dead)}" if dead else "")
        charts.append(line_chart(heading, lines, "step", "gradient norm (log scale)", x_axis=shared_x, y_axis=shared_y, legend=legend, notes=notes, desc=desc))
    return charts


def _breakdown(series: dict) -> tuple[float, float, float] | None:
    """Mean compute, DataLoader wait and host-sync time per step after warm-up, in ms."""
    steps = steps_of(series)
    warmup = number(series.get("warmup_steps")) or 0
    measured = [s for s in steps if s["i"] > warmup] or steps
    rows = [(number(s.get("dt_ms")), number(s.get("wait_ms")) or 0.0, number(s.get("sync_ms")) or 0.0) for s in measured]
    rows = [r for r in rows if r[0] is not None]
    if not rows:
        return None
    dt, wait, sync = (sum(column) / len(rows) for column in zip(*rows))
    return max(dt - wait - sync, 0.0), wait, sync


def step_time_chart(runs: list[Run]) -> str:
    """Where a step's time goes, broken against fixed: a sync or a starved DataLoader shows as
    a coloured block that the fix removes."""
    title = TITLES["time"]
    bars, parts = [], []
    for run in runs:
        split = _breakdown(run.series)
        if split is None:
            continue
        detail = f"compute {split[0]:.2f} ms · DataLoader wait {split[1]:.2f} ms · host syncs {split[2]:.2f} ms"
        bars.append(Bar(run.label, tuple(zip(split, (COMPUTE, WAIT, SYNC))), run.colour, detail))
        parts.append(f"{run.label}: {detail}")
    if not bars:
        return not_measured(title, "step time not measured: no run recorded its steps")
    reference = next((metrics_of(run.series).get("reference") for run in reversed(runs) if isinstance(metrics_of(run.series).get("reference"), dict)), {})
    ref_ms = number(reference.get("step_time_median_ms"))
    marker = Marker(ref_ms, f"reference fix {ref_ms:.2f} ms (median)") if ref_ms is not None else None
    legend = [LegendEntry("compute", COMPUTE, "box"), LegendEntry("DataLoader wait", WAIT, "box"), LegendEntry("host syncs", SYNC, "box")]
    if marker:
        legend.append(LegendEntry("reference fix", INK, "dashed"))
    return stacked_bars(title, bars, legend, "mean ms per step after warm-up", marker, "; ".join(parts))


def lab_charts(runs: list[Run]) -> list[str]:
    """The lab's pictures in page order, two to a row: loss | step time, then memory and gradient
    norms with the broken run on the left and the fixed one on the right."""
    return [loss_chart(runs), step_time_chart(runs), *memory_charts(runs), *gradient_charts(runs)]
