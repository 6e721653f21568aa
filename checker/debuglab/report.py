"""`debuglab report`: what one pair did in a workshop, and with --merge one table for the room.

The report is built once as plain data (its JSON form, which --merge reads back); markdown and
HTML are renderings of that data, so the three formats cannot disagree. Never imports torch:
the command sits beside `list` in the CLI.
"""

from __future__ import annotations

import getpass
import json
import re
import statistics
import time
from html import escape
from pathlib import Path

import click

from debuglab.charts import AFTER, BEFORE, number
from debuglab.errors import DebuglabError
from debuglab.clock import duration, iso
from debuglab.workspace import lab_record

REPORT_FORMAT = "debuglab.report/1"  # what --merge accepts (name/version, as every --json output)
ROOM_FORMAT = "debuglab.room/1"  # what --merge writes as JSON
LEGACY_FORMATS = {"debuglab-report": REPORT_FORMAT, "debuglab-room": ROOM_FORMAT}  # before the names carried versions
VERSION = 1
HTML_DEFAULT = "debuglab-report.html"
MISSING = "-"  # as workspace.duration shows a time not measured


# -- the data ---------------------------------------------------------------------------------
def build(workspace, name: str | None = None, now: float | None = None) -> dict:
    """The report of one workspace: every lab it touched, totals per family, the pair sessions."""
    from debuglab import catalog

    now = time.time() if now is None else now
    progress = workspace.load_progress()
    labs = catalog.all_labs()
    known = {lab.id: lab for lab in labs}
    order = {lab.id: n for n, lab in enumerate(catalog.recommended_order(labs))}
    entries = progress.get("labs") if isinstance(progress.get("labs"), dict) else {}
    rows = [lab_record(lab_id, entry, known.get(lab_id)) for lab_id, entry in entries.items() if isinstance(entry, dict)]
    rows.sort(key=lambda row: (order.get(row["id"], len(order)), row["id"]))
    families = list(catalog.FAMILIES) + sorted({row["family"] for row in rows} - set(catalog.FAMILIES))
    return {
        "format": REPORT_FORMAT,
        "version": VERSION,
        "name": name or _default_name(progress),
        "generated_at": iso(now),
        "workspace": str(workspace.root),
        "catalog_size": len(labs),
        "passed": sum(row["status"] == "passed" for row in rows),
        "touched": len(rows),
        "labs": rows,
        "families": [
            {
                "family": family,
                "title": catalog.FAMILY_TITLES.get(family, ""),
                "passed": sum(row["status"] == "passed" for row in rows if row["family"] == family),
                "touched": sum(row["family"] == family for row in rows),
                "in_catalog": sum(lab.family == family for lab in labs),
            }
            for family in families
        ],
        "sessions": [_session_row(s, now) for s in _sessions(progress)],
    }


def _sessions(progress: dict) -> list[dict]:
    sessions = progress.get("sessions") if isinstance(progress.get("sessions"), list) else []
    return [s for s in sessions if isinstance(s, dict) and isinstance(s.get("pair"), list) and s["pair"]]


def _session_row(session: dict, now: float) -> dict:
    pair = [str(name) for name in session["pair"]]
    swaps = [s for s in session.get("swaps", []) if isinstance(s, dict)] if isinstance(session.get("swaps"), list) else []
    started, ended, minutes = number(session.get("started_ts")), number(session.get("ended_ts")), number(session.get("minutes"))
    under_way = False
    if started is None:
        length = None
    elif ended is not None:
        length = ended - started
    elif minutes is not None and now >= started + 60 * minutes:
        length = 60 * minutes  # never stopped: it ended when its time was up
    else:
        length, under_way = now - started, True
    return {
        "pair": pair,
        "started": session.get("started") if isinstance(session.get("started"), str) else None,
        "length_s": length,
        "planned_minutes": minutes,
        "under_way": under_way,
        "swaps": len(swaps),
        "drivers": pair[:1] + [str(s.get("driver", "?")) for s in swaps],
        "labs": [str(lab) for lab in session.get("labs", [])] if isinstance(session.get("labs"), list) else [],
    }


def _default_name(progress: dict) -> str:
    if isinstance(progress.get("learner"), str) and progress["learner"].strip():
        return progress["learner"]
    names: list[str] = []
    for session in _sessions(progress):
        for name in session["pair"]:
            if str(name) not in names:
                names.append(str(name))
    if names:
        return " & ".join(names)
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no user name in a bare container
        return "unknown learner"


def room(reports: list[dict], now: float | None = None) -> dict:
    """The room's table: a row per report, then a row per lab over all reports."""
    people, labs = [], {}
    for report in reports:
        rows = report["labs"]
        passed = [row for row in rows if row.get("status") == "passed"]
        people.append(
            {
                "name": report["name"],
                "passed": len(passed),
                "attempted": sum(row.get("status") == "attempted" for row in rows),
                "touched": len(rows),
                "time_s": sum(number(row.get("active_s")) or 0.0 for row in rows),
                "median_time_to_pass_s": _median(row.get("time_to_pass_s") for row in passed),
                "hints": sum(int(number(row.get("hints")) or 0) for row in rows),
                "attempts": sum(int(number(row.get("attempts")) or 0) for row in rows),
            }
        )
        for row in rows:
            labs.setdefault(row["id"], {"id": row["id"], "title": str(row.get("title") or row["id"]), "rows": []})["rows"].append(row)
    from debuglab.catalog import FAMILIES

    rank = {family: n for n, family in enumerate(FAMILIES)}
    per_lab = []
    for lab_id in sorted(labs, key=lambda i: (rank.get(i.split("-")[0], len(rank)), i)):
        rows = labs[lab_id]["rows"]
        passed = [row for row in rows if row.get("status") == "passed"]
        per_lab.append(
            {
                "id": lab_id,
                "title": labs[lab_id]["title"],
                "passed": len(passed),
                "touched": len(rows),
                "median_time_to_pass_s": _median(row.get("time_to_pass_s") for row in passed),
                "median_hints": _median(row.get("hints") for row in rows),
            }
        )
    return {"format": ROOM_FORMAT, "version": VERSION, "generated_at": iso(time.time() if now is None else now), "reports": people, "labs": per_lab}


def _median(values) -> float | None:
    finite = [v for v in (number(v) for v in values) if v is not None]
    return statistics.median(finite) if finite else None


def load_report(path: str) -> dict:
    """A pair's JSON report, checked enough that the room table cannot fail half-way."""

    def refuse(why: str) -> DebuglabError:
        return DebuglabError(f"{path}: not a debuglab report ({why}); make one with 'debuglab report --format json'")

    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise refuse("no such file") from None
    except IsADirectoryError:
        raise refuse("a folder, not a file") from None
    except UnicodeDecodeError:
        raise refuse("not UTF-8 text") from None
    except OSError as exc:
        raise refuse(f"cannot read it: {exc.strerror}") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise refuse(f"not JSON: {exc.msg} at line {exc.lineno}") from None
    if isinstance(data, dict) and data.get("format") in LEGACY_FORMATS:
        data["format"] = LEGACY_FORMATS[data["format"]]
    if isinstance(data, dict) and data.get("format") == ROOM_FORMAT:
        raise refuse("a room table made by --merge; merge the pairs' own reports")
    if not isinstance(data, dict) or data.get("format") != REPORT_FORMAT:
        raise refuse(f'no "format": "{REPORT_FORMAT}" in it')
    version = data.get("version")
    if not isinstance(version, int) or isinstance(version, bool) or version > VERSION:
        raise refuse(f"version {version!r}; this debuglab reads version {VERSION} (upgrade debuglab)")
    labs = data.get("labs")
    if not isinstance(labs, list) or not all(isinstance(row, dict) and isinstance(row.get("id"), str) for row in labs):
        raise refuse("'labs' is not a list of labs with an 'id'")
    if not isinstance(data.get("name"), str):
        raise refuse("'name' is missing")
    return data


# -- tables, shared by markdown and HTML ----------------------------------------------------------
def _when(iso) -> str:
    """2026-11-26T20:00:27+0000 as 2026-11-26 20:00: the minute is all a workshop needs."""
    return iso[:16].replace("T", " ") if isinstance(iso, str) and len(iso) >= 16 else MISSING


def _so_far_and_to_pass(total: int, to_pass: int | None) -> str:
    return str(total) if to_pass is None or to_pass == total else f"{total} ({to_pass} to pass)"


def _solution(row: dict) -> str:
    if not row["solution_viewed"]:
        return "no"
    return f"yes, {_when(row['solution_viewed'])}" + (" (before passing)" if row.get("solution_before_pass") else "")


def _count(value) -> str:
    value = number(value)
    return MISSING if value is None else f"{value:g}"


LAB_HEADERS = ("lab", "title", "family", "status", "time spent", "time to pass", "attempts", "hints", "runs", "solution viewed")


def _lab_table(report: dict) -> list[list[str]]:
    return [
        [
            row["id"],
            row["title"],
            row["family"],
            row["status"],
            duration(row["active_s"]),
            duration(row["time_to_pass_s"]),
            _so_far_and_to_pass(row["attempts"], row["attempts_to_pass"]),
            _so_far_and_to_pass(row["hints"], row["hints_to_pass"]),
            str(row["runs"]),
            _solution(row),
        ]
        for row in report["labs"]
    ]


FAMILY_HEADERS = ("family", "about", "passed", "touched", "in catalog")


def _family_table(report: dict) -> list[list[str]]:
    rows = [[f["family"], f["title"], str(f["passed"]), str(f["touched"]), str(f["in_catalog"])] for f in report["families"]]
    return rows + [["all", "", str(report["passed"]), str(report["touched"]), str(report["catalog_size"])]]


SESSION_HEADERS = ("pair", "started", "length", "swaps", "drivers in turn", "labs worked on")


def _session_table(report: dict) -> list[list[str]]:
    rows = []
    for s in report["sessions"]:
        length = duration(s["length_s"]) + (" (under way)" if s["under_way"] else "")
        if s["planned_minutes"] is not None:
            length += f" of {duration(60 * s['planned_minutes'])}"
        rows.append([" & ".join(s["pair"]), _when(s["started"]), length, str(s["swaps"]), " → ".join(s["drivers"]), ", ".join(s["labs"]) or MISSING])
    return rows


ROOM_HEADERS = ("name", "labs passed", "labs attempted", "total time", "median time to pass", "hints used", "attempts")
ROOM_LAB_HEADERS = ("lab", "title", "passed", "touched", "median time to pass", "median hints")
ATTEMPTED_MEANS = "labs attempted: verified at least once, not passed yet. Median hints: over everyone who touched the lab."


def _room_table(data: dict) -> list[list[str]]:
    return [
        [r["name"], str(r["passed"]), str(r["attempted"]), duration(r["time_s"]), duration(r["median_time_to_pass_s"]), str(r["hints"]), str(r["attempts"])]
        for r in data["reports"]
    ]


def _room_lab_table(data: dict) -> list[list[str]]:
    n = len(data["reports"])
    return [[r["id"], r["title"], f"{r['passed']} of {n}", str(r["touched"]), duration(r["median_time_to_pass_s"]), _count(r["median_hints"])] for r in data["labs"]]


def _headline(report: dict) -> str:
    return f"{report['passed']} of {report['catalog_size']} labs passed ({report['touched']} touched)"


# -- markdown -------------------------------------------------------------------------------------
def _md_table(headers, rows) -> str:
    def cell(text: str) -> str:
        return str(text).replace("|", "\\|").replace("\n", " ")

    lines = ["| " + " | ".join(headers) + " |", "|" + "|".join("---" for _ in headers) + "|"]
    return "\n".join(lines + ["| " + " | ".join(cell(c) for c in row) + " |" for row in rows])


# The tables of each document, in order, as (heading, headers, rows, what to say when there are
# no rows); markdown and HTML render the same list.
def _report_tables(report: dict) -> list[tuple]:
    return [
        ("Labs", LAB_HEADERS, _lab_table(report), "No lab touched yet: `debuglab list` shows where to start."),
        ("Families", FAMILY_HEADERS, _family_table(report), ""),
        ("Pair sessions", SESSION_HEADERS, _session_table(report), "No pair session recorded."),
    ]


def _room_tables(data: dict) -> list[tuple]:
    return [
        ("Pairs", ROOM_HEADERS, _room_table(data), ""),
        ("Labs", ROOM_LAB_HEADERS, _room_lab_table(data), "No lab touched in any report."),
    ]


def _md_tables(tables: list[tuple]) -> list[str]:
    parts = []
    for heading, headers, rows, empty in tables:
        parts += [f"## {heading}", _md_table(headers, rows) if rows else empty]
    return parts


def to_markdown(report: dict) -> str:
    parts = [
        f"# debuglab report: {report['name']}",
        f"Generated {_when(report['generated_at'])} from the workspace {report['workspace']}.\n\n**{_headline(report)}**",
        *_md_tables(_report_tables(report)),
    ]
    return "\n\n".join(parts) + "\n"


def room_markdown(data: dict) -> str:
    parts = [
        f"# debuglab room: {len(data['reports'])} reports",
        f"Generated {_when(data['generated_at'])}.",
        *_md_tables(_room_tables(data)),
        ATTEMPTED_MEANS,
    ]
    return "\n\n".join(parts) + "\n"


# -- HTML -----------------------------------------------------------------------------------------
STYLE = """
:root { color-scheme: light; }
* { box-sizing: border-box; }
body { margin: 0; background: #f6f7f9; color: #1f2328;
  font: 15px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif; }
main { max-width: 1260px; margin: 0 auto; padding: 28px 16px 64px; }
h1 { font-size: 26px; margin: 0 0 2px; }
h2 { font-size: 19px; margin: 32px 0 10px; }
h3 { font-size: 17px; margin: 0 0 4px; }
.meta, .note { color: #59636e; margin: 0; }
.note { font-size: 13px; margin-top: 6px; }
.cards { display: flex; flex-wrap: wrap; gap: 12px; margin: 18px 0 8px; }
.card { background: #fff; border: 1px solid #e3e6ea; border-radius: 8px; padding: 10px 16px; min-width: 160px; }
.card b { display: block; font-size: 24px; line-height: 1.2; }
.card span { color: #59636e; font-size: 13px; }
table { border-collapse: separate; border-spacing: 0; width: 100%; background: #fff; border: 1px solid #e3e6ea;
  border-radius: 8px; overflow: hidden; font-size: 14px; }
th, td { padding: 6px 10px; text-align: left; border-bottom: 1px solid #eef0f2; vertical-align: top; }
tr:last-child td { border-bottom: none; }
th { background: #f6f8fa; font-weight: 600; white-space: nowrap; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
.pill { display: inline-block; border-radius: 999px; padding: 0 9px; font-size: 12px; font-weight: 600; }
.pill.passed { background: #d8efe6; color: #0b5d3b; }
.pill.attempted { background: #fcebcf; color: #7a4a00; }
.pill.started { background: #e3ebf6; color: #1f4f8a; }
.lab { margin-top: 20px; background: #fff; border: 1px solid #e3e6ea; border-radius: 10px; padding: 16px; }
.lab .runs { margin: 4px 0 12px; padding-left: 18px; color: #3d444d; font-size: 14px; }
.swatch { display: inline-block; width: 10px; height: 10px; margin-right: 6px; vertical-align: baseline; }
.charts { display: grid; align-items: start; grid-template-columns: repeat(2, minmax(0, 1fr)); gap: 14px; }
.charts figure { margin: 0; border: 1px solid #eef0f2; border-radius: 6px; overflow: hidden; }
svg.chart { display: block; width: 100%; height: auto; font-family: inherit; }
"""

NUMERIC = {"passed", "touched", "in catalog", "runs", "swaps", "labs passed", "labs attempted", "hints used", "attempts", "hints", "median hints",
           "time spent", "time to pass", "total time", "median time to pass"}


def _html_table(headers, rows) -> str:
    head = "".join(f'<th{" class=num" if h in NUMERIC else ""} scope="col">{escape(h)}</th>' for h in headers)
    body = []
    for row in rows:
        cells = []
        for header, text in zip(headers, row):
            if header == "status":
                cells.append(f'<td><span class="pill {escape(text)}">{escape(text)}</span></td>')
            else:
                cells.append(f'<td{" class=num" if header in NUMERIC else ""}>{escape(text)}</td>')
        body.append("<tr>" + "".join(cells) + "</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def _html_tables(tables: list[tuple]) -> list[str]:
    parts = []
    for heading, headers, rows, empty in tables:
        note = re.sub(r"`([^`]+)`", r"<code>\1</code>", escape(empty))  # the markdown's code spans
        parts += [f"<h2>{escape(heading)}</h2>", _html_table(headers, rows) if rows else f'<p class="note">{note}</p>']
    return parts


def _page(title: str, body: list[str], style: str = "") -> str:
    """A whole page: the report's style, plus `style` for pages with parts of their own (the interview scorecard)."""
    return "\n".join(
        [
            "<!doctype html>",
            '<html lang="en"><head><meta charset="utf-8">',
            '<meta name="viewport" content="width=device-width, initial-scale=1">',
            f"<title>{escape(title)}</title>",
            f"<style>{STYLE}{style}</style>",
            "</head><body><main>",
            *body,
            "</main></body></html>",
        ]
    )


def _card(value: str, label: str) -> str:
    return f'<div class="card"><b>{escape(value)}</b><span>{escape(label)}</span></div>'


def runs_of(workspace, lab_id: str):
    """The broken run and the fixed one (or the latest, when the lab is not passed yet)."""
    from debuglab.charts import Run

    before = workspace.load_series(lab_id, "before")
    after = workspace.load_series(lab_id, "after")
    latest = workspace.load_series(lab_id, "latest")
    runs = [Run("before (broken)", before, BEFORE)] if isinstance(before, dict) else []
    if isinstance(after, dict):
        runs.append(Run("after (fixed)", after, AFTER))
    elif isinstance(latest, dict) and latest != before:
        runs.append(Run("latest (not passed yet)", latest, AFTER))
    return runs


def _lab_pictures(row: dict, runs) -> str:
    from debuglab import charts

    parts = [f'<section class="lab" id="{escape(row["id"])}">', f'<h3>{escape(row["id"])} · {escape(row["title"])} <span class="pill {row["status"]}">{row["status"]}</span></h3>']
    if not runs:
        parts.append('<p class="note">No run of this lab recorded its steps, so there is nothing to draw.</p></section>')
        return "\n".join(parts)
    items = []
    for run in runs:
        message = run.series.get("message") if isinstance(run.series.get("message"), str) else ""
        items.append(f'<li><span class="swatch" style="background:{run.colour}"></span><b>{escape(run.label)}</b>' + (f": {escape(message)}" if message else "") + "</li>")
    parts.append(f'<ul class="runs">{"".join(items)}</ul>')
    parts.append('<div class="charts">' + "".join(f"<figure>{svg}</figure>" for svg in charts.lab_charts(runs)) + "</div>")
    parts.append("</section>")
    return "\n".join(parts)


def to_html(report: dict, workspace) -> str:
    hints = sum(row["hints"] for row in report["labs"])
    time_spent = sum(row["active_s"] for row in report["labs"])
    body = [
        f"<h1>debuglab report: {escape(report['name'])}</h1>",
        f'<p class="meta">Generated {escape(_when(report["generated_at"]))} from the workspace {escape(report["workspace"])}</p>',
        '<div class="cards">'
        + _card(f"{report['passed']} of {report['catalog_size']}", "labs passed")
        + _card(str(report["touched"]), "labs touched")
        + _card(duration(time_spent), "time spent")
        + _card(str(hints), "hints taken")
        + "</div>",
        *_html_tables(_report_tables(report)),
    ]
    if report["labs"]:
        body.append("<h2>Broken and fixed, side by side</h2>")
        body.append('<p class="note">Each lab: the first run of your copy (the broken state) against the last passing verify, or against the latest run while the lab is not passed yet.</p>')
        body += [_lab_pictures(row, runs_of(workspace, row["id"])) for row in report["labs"]]
    return _page(f"debuglab report: {report['name']}", body)


def room_html(data: dict) -> str:
    body = [
        f"<h1>debuglab room: {len(data['reports'])} reports</h1>",
        f'<p class="meta">Generated {escape(_when(data["generated_at"]))}</p>',
        *_html_tables(_room_tables(data)),
        f'<p class="note">{escape(ATTEMPTED_MEANS)}</p>',
    ]
    return _page("debuglab room", body)


# -- the command ----------------------------------------------------------------------------------
@click.command("report")
@click.argument("files", nargs=-1, metavar="[REPORT.json]...")
@click.option("--merge", is_flag=True, help="One table for the room from the pairs' JSON reports given as arguments.")
@click.option("--format", "fmt", type=click.Choice(["md", "json", "html"]), default="md", show_default=True, help="json is what --merge reads.")
@click.option("--output", "-o", default=None, help=f"File to write ('-': stdout). Default: stdout; for html, {HTML_DEFAULT} here.")
@click.option("--name", default=None, help="Who the report is about (default: the pair of the sessions, else your user name).")
def report_command(files: tuple[str, ...], merge: bool, fmt: str, output: str | None, name: str | None) -> None:
    """Your workspace as a report: each lab you touched, time, attempts and hints, the pair
    sessions; html adds pictures of each lab broken and fixed. With --merge, one table for the
    room from everyone's `--format json` reports."""
    if merge:
        if not files:
            raise DebuglabError("--merge needs the reports to merge: debuglab report --merge A.json B.json")
        if name is not None:
            raise DebuglabError("--name names the report of a workspace; --merge takes each name from its report")
        data = room([load_report(path) for path in files])
        text = {"md": room_markdown, "json": _json, "html": room_html}[fmt](data)
    else:
        if files:
            raise DebuglabError(f"{files[0]}: report files are read with --merge (debuglab report --merge {' '.join(files)})")
        from debuglab.workspace import Workspace

        workspace = Workspace.find()
        data = build(workspace, name)
        text = to_html(data, workspace) if fmt == "html" else _json(data) if fmt == "json" else to_markdown(data)
    _emit(text, output or (HTML_DEFAULT if fmt == "html" else "-"))


def _json(data: dict) -> str:
    return json.dumps(data, indent=2) + "\n"


def _emit(text: str, target: str) -> None:
    if target == "-":
        click.echo(text, nl=False)
        return
    path = Path(target)
    try:
        path.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise DebuglabError(f"{path}: cannot write the report ({exc.strerror}); pick another --output") from None
    click.echo(str(path.resolve()))
