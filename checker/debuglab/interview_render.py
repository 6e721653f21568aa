"""The interview scorecard for people: Markdown for the terminal, and HTML that replays the round
(timeline, each snapshot's diff against the one before, the verdicts, the first and last run's
pictures). Both render the one document interview.build makes, so they cannot disagree."""

from __future__ import annotations

import json
from html import escape
from pathlib import Path

from debuglab import catalog
from debuglab.charts import number
from debuglab.clock import clock
from debuglab.interview import plural, round_dir, unified
from debuglab.workspace import Workspace


def _event_text(row: dict, hints: list[str]) -> str:
    kind = row["kind"]
    if kind == "verify":
        verdict = row.get("verdict") or {}
        failed = [ch["name"] for ch in verdict.get("checks", []) if ch["status"] == "fail"]
        return f"verify: {row.get('status', '?').upper()}" + (f" ({', '.join(failed)})" if failed else "") + (f": {row['message']}" if row.get("message") and not verdict else "")
    if kind == "run":
        metrics = row.get("metrics") or {}
        loss = f", loss {metrics['loss_first']:.4g} -> {metrics['loss_last']:.4g}" if number(metrics.get("loss_first")) is not None and number(metrics.get("loss_last")) is not None else ""
        return f"run: {row.get('status', '?')}{loss}" + (f": {row['message']}" if row.get("message") else "")
    if kind == "note":
        return f"note: {row['text']}"
    if kind == "hint":
        n = row["number"]
        return f"hint {n} unlocked: {hints[n - 1] if n <= len(hints) else '?'}"
    return {"start": "round started", "stop": "round stopped", "time_up": "time up: the clock ended the round"}.get(kind, kind)


def _card_lines(card: dict) -> list[tuple[str, str]]:
    verifies = card["verifies"]
    outcome = f"passed at {clock(card['time_to_pass_s'])}" if card["passed"] else "not passed"
    return [
        ("outcome", outcome),
        ("time to first run", clock(card["time_to_first_run_s"]) if card["time_to_first_run_s"] is not None else "no run"),
        ("time to pass", clock(card["time_to_pass_s"]) if card["time_to_pass_s"] is not None else "not passed"),
        ("verifies", f"{len(verifies)}: " + (" → ".join(v["status"] for v in verifies) or "none")),
        ("hints unlocked", f"{card['hints']['unlocked']} of {card['hints']['total']}"),
        ("notes", str(len(card["notes"]))),
        ("length", f"{clock(card['length_s'])} of {card['minutes']:g} min ({'the clock ended it' if card['ended_by'] == 'clock' else 'stopped'})"),
    ]


def _diff_summary(card: dict) -> str:
    d = card["diff"]
    verdict = "more than the bug needed" if d["more_than_needed"] else "about what the bug needed"
    return (f"final vs pristine: {plural(d['vs_pristine_lines'], 'line')} changed; the reference fix changes {d['needed_lines']} ({verdict}); "
            f"final vs reference fix: {plural(d['vs_reference_lines'], 'line')} apart")


def _grade_text(row: dict) -> str:
    if row["grade"] is None:
        return f"{row['suggestion']} (suggested)"
    verb = "agrees with" if row["grade"]["grade"] == row["suggestion"] else "overrules"
    return f"{row['grade']['grade']} (interviewer, {verb} suggested {row['suggestion']}: {row['grade']['why']})"


def to_markdown(card: dict) -> str:
    from debuglab.report import _md_table

    lab = card["lab"]
    parts = [
        f"# debuglab interview: {card['candidate']}, round {card['round']}" + (" (practice)" if card["practice"] else ""),
        f"Started {card['started'][:16].replace('T', ' ')}, ended {card['ended'][:16].replace('T', ' ')}. Generated {card['generated_at'][:16].replace('T', ' ')}.",
        f"**The lab:** `{lab['id']}`: {lab['title']} (family {lab['family']}, difficulty {'*' * lab['difficulty']}, area {lab['area']}; the check it fails: `{lab['expect_broken']}`)",
        _md_table(("", ""), _card_lines(card)),
        "## Rubric",
        _md_table(("criterion", "weight", "grade", "why"), [[r["name"], r["weight"], _grade_text(r), r["reason"]] for r in card["criteria"]]),
    ]
    for row in card["criteria"]:
        parts.append(f"### {row['name']}\n" + ("\n".join(f"- {line}" for line in row["evidence"]) or "- no evidence recorded"))
    parts += [
        "## Timeline",
        _md_table(("at", "event"), [[clock(r["at_s"]), _event_text(r, lab["hints"])] for r in card["timeline"]]),
        "## The final diff",
        _diff_summary(card),
        "```diff\n" + (card["diff"]["vs_pristine"].rstrip() or "(no change)") + "\n```",
        "Against the reference fix:",
        "```diff\n" + (card["diff"]["vs_reference"].rstrip() or "(identical)") + "\n```",
    ]
    parts += _practice_markdown(card)
    return "\n\n".join(parts) + "\n"


def _practice_markdown(card: dict) -> list[str]:
    plan = card["practice_plan"]
    if plan is None:
        return []
    parts = ["## The solution", "```diff\n" + plan["solution"]["diff"].rstrip() + "\n```", plan["solution"]["explanation"].strip(), "## What to practise next"]
    if not plan["labs"]:
        parts.append("No criterion came out weak: keep going with `debuglab interview start --practice --level N` one level up.")
    for row in plan["labs"]:
        labs = ", ".join(f"`{i}`" for i in row["labs"]) or "none left unseen"
        parts.append(f"- {row['name']} ({', '.join(row['topics'])}): {labs}")
    return parts


INTERVIEW_STYLE = """
pre.diff { background: #fff; border: 1px solid #e3e6ea; border-radius: 6px; padding: 8px 10px; font-size: 13px; overflow-x: auto; margin: 6px 0 14px; }
pre.diff span { display: block; }
pre.diff .add { background: #e6f4ea; color: #0b5d3b; }
pre.diff .del { background: #fbe9e7; color: #8a1c10; }
pre.diff .hunk { color: #59636e; }
.step { margin-top: 18px; background: #fff; border: 1px solid #e3e6ea; border-radius: 10px; padding: 12px 16px; }
.pill.strong, .pill.pass { background: #d8efe6; color: #0b5d3b; }
.pill.mixed { background: #fcebcf; color: #7a4a00; }
.pill.weak, .pill.fail, .pill.error { background: #fbe0dc; color: #8a1c10; }
ul.evidence { margin: 4px 0 0; padding-left: 18px; font-size: 13px; color: #3d444d; }
"""


def _html_diff(patch: str) -> str:
    if not patch:
        return '<p class="note">no change</p>'
    spans = []
    for line in patch.rstrip("\n").splitlines():
        kind = "hunk" if line.startswith(("@@", "---", "+++")) else "add" if line.startswith("+") else "del" if line.startswith("-") else "ctx"
        spans.append(f'<span class="{kind}">{escape(line) or " "}</span>')
    return f'<pre class="diff">{"".join(spans)}</pre>'


def _pill(text: str) -> str:
    return f'<span class="pill {escape(text)}">{escape(text)}</span>'


def _verdict_table(verdict: dict) -> str:
    from debuglab.report import _html_table

    rows = [[ch["name"], ch["status"], "" if ch.get("measured") is None else str(ch["measured"]), ch.get("target") or "", ch.get("message") or ""] for ch in verdict.get("checks", [])]
    return _html_table(("check", "status", "measured", "target", "message"), rows) if rows else f'<p class="note">{escape(verdict.get("message", ""))}</p>'


def _replay(card: dict, record: Path, pristine: str) -> list[str]:
    """Each snapshot against the one before (the first against the pristine script), with the
    verdict the candidate's command got."""
    parts, previous, label = [], pristine, "pristine"
    for row in card["timeline"]:
        if not row.get("snapshot"):
            continue
        path = record / row["snapshot"]
        text = path.read_text(encoding="utf-8") if path.is_file() else previous
        status = row.get("status", "?")
        parts.append(f'<section class="step"><h3>{escape(clock(row["at_s"]))} · {escape(row["kind"])} {_pill(status)}</h3>')
        parts.append(f'<p class="note">the file as it was judged, against the {escape(label)}</p>')
        parts.append(_html_diff(unified(previous, text, f"train.py ({label})", f"train.py ({row['kind']} at {clock(row['at_s'])})")))
        if isinstance(row.get("verdict"), dict):
            parts.append(f'<p><b>{escape(row["verdict"].get("message", ""))}</b></p>' + _verdict_table(row["verdict"]))
        elif row.get("message"):
            parts.append(f'<p>{escape(row["message"])}</p>')
        parts.append("</section>")
        previous, label = text, f"{row['kind']} at {clock(row['at_s'])}"
    return parts or ['<p class="note">The candidate never ran or verified the script.</p>']


def _pictures(card: dict, record: Path) -> list[str]:
    """Loss and memory of the first and the last run of the round, as the workshop report draws
    a lab broken and fixed."""
    from debuglab import charts

    with_series = [row for row in card["timeline"] if row.get("series")]
    if not with_series:
        return ['<p class="note">No run of this round recorded its steps, so there is nothing to draw.</p>']
    chosen = [("first run", with_series[0], charts.BEFORE)] + ([("last run", with_series[-1], charts.AFTER)] if len(with_series) > 1 else [])
    runs = []
    for label, row, colour in chosen:
        try:
            series = json.loads((record / row["series"]).read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError):
            continue
        runs.append(charts.Run(f"{label} ({row['kind']} at {clock(row['at_s'])})", series, colour))
    if not runs:
        return ['<p class="note">The series files of this round are gone, so there is nothing to draw.</p>']
    svgs = [charts.loss_chart(runs), *charts.memory_charts(runs)]
    return ['<div class="charts">' + "".join(f"<figure>{svg}</figure>" for svg in svgs) + "</div>"]


def to_html(card: dict, workspace: Workspace) -> str:
    from debuglab.report import _card, _html_table, _page

    lab = card["lab"]
    record = round_dir(workspace, card["round"])
    pristine = catalog.load(lab["id"]).train_path.read_text(encoding="utf-8")
    title = f"debuglab interview: {card['candidate']}, round {card['round']}" + (" (practice)" if card["practice"] else "")
    rubric = "".join(
        f"<tr><td>{escape(r['name'])}</td><td>{escape(r['weight'])}</td><td>{_pill(r['final'])}"
        + (f" <span class=note>interviewer, {'agrees with' if r['final'] == r['suggestion'] else 'overrules'} suggested {_pill(r['suggestion'])}: {escape(r['grade']['why'])}</span>"
           if r["grade"] else " <span class=note>suggested</span>")
        + f"</td><td>{escape(r['reason'])}<ul class=evidence>{''.join(f'<li>{escape(e)}</li>' for e in r['evidence'])}</ul></td></tr>"
        for r in card["criteria"]
    )
    body = [
        f"<h1>{escape(title)}</h1>",
        f'<p class="meta">The lab: <b>{escape(lab["id"])}</b> · {escape(lab["title"])} (family {escape(lab["family"])}, difficulty {lab["difficulty"]}, '
        f'fails <code>{escape(lab["expect_broken"])}</code>). Started {escape(card["started"][:16].replace("T", " "))}.</p>',
        '<div class="cards">' + "".join(_card(value, label) for label, value in _card_lines(card)) + "</div>",
        "<h2>Rubric</h2>",
        f'<table><thead><tr><th scope="col">criterion</th><th scope="col">weight</th><th scope="col">grade</th><th scope="col">why, and the evidence</th></tr></thead><tbody>{rubric}</tbody></table>',
        "<h2>Timeline</h2>",
        _html_table(("at", "event"), [[clock(r["at_s"]), _event_text(r, lab["hints"])] for r in card["timeline"]]),
        "<h2>The round, step by step</h2>",
        *_replay(card, record, pristine),
        "<h2>First and last run</h2>",
        *_pictures(card, record),
        "<h2>The final diff</h2>",
        f'<p class="note">{escape(_diff_summary(card))}</p>',
        _html_diff(card["diff"]["vs_pristine"]),
        "<h3>Against the reference fix</h3>",
        _html_diff(card["diff"]["vs_reference"]),
    ]
    plan = card["practice_plan"]
    if plan is not None:
        body += ["<h2>The solution</h2>", _html_diff(plan["solution"]["diff"]), f'<pre class="diff">{escape(plan["solution"]["explanation"].strip())}</pre>', "<h2>What to practise next</h2>"]
        items = [f"<li>{escape(row['name'])} ({escape(', '.join(row['topics']))}): {escape(', '.join(row['labs']) or 'none left unseen')}</li>" for row in plan["labs"]]
        body.append(f"<ul>{''.join(items)}</ul>" if items else '<p class="note">No criterion came out weak.</p>')
    return _page(title, body, INTERVIEW_STYLE)
