"""The command line. Commands are small; heavy imports (torch, the harness) happen inside the
command that needs them, so `list` and `--help` never import torch."""

from __future__ import annotations

import difflib
import json
import sys
from pathlib import Path

import click

from debuglab import __version__
from debuglab.errors import CheckerFault, DebuglabError

EXIT_USAGE = 2


EXIT_INTERRUPTED = 130


def _remember_json(ctx, param, value):
    """--json seen: an error then prints JSON on stdout too (ctx.meta is shared with the group)."""
    if value:
        ctx.meta["json"] = True
    return value


class _Group(click.Group):
    """Turns DebuglabError into one line on stderr and its exit code (2 bad input, 4 debuglab's own
    failure), and Ctrl-C into exit 130 with nothing recorded; never a traceback."""

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except CheckerFault as exc:
            self._fail(ctx, "checker_error", f"debuglab: internal error: {exc}", exc.exit_code)
        except DebuglabError as exc:
            self._fail(ctx, "usage", f"debuglab: error: {exc}", exc.exit_code)
        except (KeyboardInterrupt, click.exceptions.Abort):
            self._fail(ctx, "interrupted", "debuglab: interrupted", EXIT_INTERRUPTED)
        except click.exceptions.UsageError as exc:
            if "--json" not in sys.argv[1:]:
                raise
            # The command line did not parse, so --json was never read: the usage text as usual,
            # and the JSON document a program reading stdout expects.
            exc.show()
            _json_error("usage", exc.format_message(), exc.exit_code)
            ctx.exit(exc.exit_code)

    @staticmethod
    def _fail(ctx, status: str, line: str, code: int) -> None:
        """One line on stderr; under --json also one JSON document on stdout, so a program reading
        stdout always gets JSON."""
        click.echo(line, err=True)
        if ctx.meta.get("json"):
            _json_error(status, line.split(": ", 2)[-1], code)
        ctx.exit(code)


def _json_error(status: str, message: str, code: int) -> None:
    """The debuglab.error/1 document a program reading stdout gets instead of its own."""
    click.echo(json.dumps({"format": "debuglab.error/1", "status": status, "message": message, "exit_code": code}))


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="debuglab")
def main() -> None:
    """debuglab: a bug-hunt gym for PyTorch training code.

    \b
    debuglab list                 the catalog, with your progress
    debuglab run leak-03          run your copy of a lab and see the symptom
    debuglab verify leak-03       judge your fix: pass, fail or error, and why
    debuglab watch leak-03        verify on every save, next lab on a pass
    debuglab hint leak-03         the next hint
    debuglab solution leak-03     the reference fix and why, once you pass
    debuglab progress             per family: passed, time, hints, attempts
    debuglab session start --pair "Ada,Linus"   a pair session with swaps
    debuglab report --format html               your report, with pictures
    debuglab interview start --level 1          a timed debugging interview round
    """
    if sys.platform == "win32":  # process groups, rlimits, memray and termios are POSIX's
        raise DebuglabError("debuglab runs on Linux and macOS; on Windows run it inside WSL2 (wsl --install, then pip install debuglab there)")


def _lab(lab_id: str):
    from debuglab import catalog

    return catalog.load(lab_id)


def _workspace():
    from debuglab.workspace import Workspace

    return Workspace.find()


@main.command("list")
@click.option("--json", "as_json", is_flag=True, callback=_remember_json, help="One JSON document instead of a table.")
@click.option("--by-topic", is_flag=True, help="The course's topics, area by area, and the labs that train each.")
def list_labs(as_json: bool, by_topic: bool) -> None:
    """The catalog grouped by family, each lab numbered in the recommended order (easy labs of
    every family first), with your status per lab. --by-topic: grouped by the course's topics."""
    from debuglab import catalog
    from debuglab.clock import duration

    workspace, progress, labs, rows, totals = _catalog_view()
    topics = catalog.topic_table(labs)
    if as_json:
        document = {"format": "debuglab.list/1", "workspace": str(workspace.root), "families": totals, "labs": rows}
        if by_topic:
            document["topics"] = topics
        click.echo(json.dumps(document, indent=2))
        return
    if by_topic:
        _list_by_topic(topics, rows)
        return
    from debuglab import render

    gpu_only = {lab.id for lab in labs if lab.gpu_only}
    for row in rows:  # the tables only: --json rows keep their schema
        if row["id"] in gpu_only:
            row["title"] += GPU_MARK
    if render.fancy():
        for family in _families(rows):
            t = totals[family]
            figures = f"{t['passed']}/{t['labs']} passed, {duration(t['active_s'])}, {t['hints']} hints, {t['attempts']} attempts"
            mine = sorted((r for r in rows if r["family"] == family), key=lambda r: r["order"])
            render.table(f"{family}: {catalog.FAMILY_TITLES.get(family, '')} ({figures})", ["#", "lab", "level", "title", "status"],
                         [[r["order"], r["id"], "*" * r["difficulty"], r["title"] + ("  (pristine lab changed: debuglab diff / reset)" if r["pristine_changed"] else ""), r["status"]] for r in mine],
                         right=("#",))
            click.echo()
        upcoming = _next_row(workspace, progress, labs, rows)
        click.echo(f"next in the recommended order (#{upcoming['order']}): debuglab run {upcoming['id']}" if upcoming else "every lab passed")
        if gpu_only:
            click.echo(GPU_LEGEND)
        return
    width = max(len(r["title"]) for r in rows) if rows else 10
    for family in _families(rows):
        mine = sorted((r for r in rows if r["family"] == family), key=lambda r: r["order"])
        t = totals[family]
        figures = f"{t['passed']}/{t['labs']} passed, {duration(t['active_s'])}, {t['hints']} hints, {t['attempts']} attempts"
        click.echo(f"{family}  {catalog.FAMILY_TITLES.get(family, '')}  ({figures})")
        for row in mine:
            stars = "*" * row["difficulty"]
            flag = "  (pristine lab changed: debuglab diff / reset)" if row["pristine_changed"] else ""
            click.echo(f"  {row['order']:>2}  {row['id']:<8}  {stars:<3}  {row['title']:<{width}}  {row['status']}{flag}")
        click.echo()
    upcoming = _next_row(workspace, progress, labs, rows)
    nxt = f"next in the recommended order (#{upcoming['order']}): debuglab run {upcoming['id']}" if upcoming else "every lab passed"
    legend = f" {GPU_LEGEND}" if gpu_only else ""
    click.echo(f"# is the recommended order: easy labs of every family first, then harder ones.{legend}\nworkspace: {workspace.root}    {nxt}")


GPU_MARK = "  [GPU]"
GPU_LEGEND = "[GPU]: the lab's bug costs a CUDA GPU, not a CPU; elsewhere its check is skipped and the pristine script passes ('debuglab show LAB' says why)"


def _list_by_topic(topics: list[dict], rows: list[dict]) -> None:
    status = {r["id"]: r["status"] for r in rows}
    width = max(len(t["topic"]) for t in topics)
    area = None
    for row in topics:
        if row["area"] != area:
            area = row["area"]
            click.echo(f"{'' if row is topics[0] else chr(10)}{area}")
        labs = "  ".join(f"{i} ({status[i]})" for i in row["labs"]) or "no lab yet"
        click.echo(f"  {row['topic']:<{width}}  {labs}")
    click.echo("\nA lab can train several topics. The whole table: docs/catalog.md")


def _session_view(session: dict | None) -> dict | None:
    """The pair session under way, as progress --json shows it: who, since when, who drives now;
    not the records it is kept as."""
    if session is None:
        return None
    from debuglab.clock import roles

    driver, navigator = roles(session)
    return {
        "id": session["id"], "pair": session["pair"], "started": session["started"], "minutes": session.get("minutes"),
        "swap_minutes": session["swap_minutes"], "swaps": len(session.get("swaps", [])), "driver": driver, "navigator": navigator,
        "labs": list(session.get("labs", [])),
    }


def _lab_row(n: int, lab, workspace, progress: dict) -> dict:
    """The report's row of a lab (workspace.lab_record), with what list and progress add: the
    recommended order, the course area and topics, "new" for a lab not started, and whether the
    pristine lab changed since it was copied."""
    from debuglab.workspace import lab_record

    record = lab_record(lab.id, progress["labs"].get(lab.id, {}), lab)
    return {
        "order": n,
        **record,
        "area": lab.area,
        "topic": lab.topic,
        "topics": list(lab.topics),
        "status": workspace.status(lab.id, progress),
        "pristine_changed": workspace.pristine_changed(lab, progress),
    }


def _families(rows: list[dict]) -> list[str]:
    from debuglab import catalog

    families = [f for f in catalog.FAMILIES if any(r["family"] == f for r in rows)]
    return families + sorted({r["family"] for r in rows} - set(families))


def _catalog_view():
    """What list and progress show: the workspace, its progress, the labs in the recommended
    order, a row per lab, and the totals per family."""
    from debuglab import catalog
    from debuglab.workspace import family_totals

    workspace = _workspace()
    progress = workspace.load_progress()
    labs = catalog.recommended_order(catalog.all_labs())
    rows = [_lab_row(n, lab, workspace, progress) for n, lab in enumerate(labs, 1)]
    return workspace, progress, labs, rows, family_totals(progress, labs)


def _next_row(workspace, progress: dict, labs: list, rows: list[dict]) -> dict | None:
    upcoming = workspace.next_lab(labs, progress)
    return rows[labs.index(upcoming)] if upcoming else None


@main.command()
@click.option("--json", "as_json", is_flag=True, callback=_remember_json, help="One JSON document instead of tables.")
def progress(as_json: bool) -> None:
    """Your progress: per family, labs passed, time spent, hints taken and attempts; then each lab
    you have started, and the pair session under way."""
    from debuglab.clock import roles
    from debuglab.clock import active_session, duration

    workspace, data, labs, rows, totals = _catalog_view()
    session = active_session(data)
    if as_json:
        document = {"format": "debuglab.progress/1", "workspace": str(workspace.root), "families": totals,
                    "labs": [r for r in rows if r["status"] != "new"], "session": _session_view(session)}
        click.echo(json.dumps(document, indent=2))
        return
    from debuglab import render

    started = [r for r in rows if r["status"] != "new"]
    if render.fancy():
        click.echo(f"workspace: {workspace.root}")
        family_rows = [[f, f"{totals[f]['passed']}/{totals[f]['labs']}", duration(totals[f]["active_s"]), totals[f]["hints"], totals[f]["attempts"]] for f in _families(rows)]
        family_rows.append(["all", f"{sum(t['passed'] for t in totals.values())}/{len(labs)}", duration(sum(t["active_s"] for t in totals.values())),
                            sum(t["hints"] for t in totals.values()), sum(t["attempts"] for t in totals.values())])
        render.table(None, ["family", "passed", "time", "hints", "attempts"], family_rows, right=("passed", "time", "hints", "attempts"))
        if started:
            click.echo()
            render.table(None, ["lab", "status", "time", "to pass", "hints", "attempts", ""],
                         [[r["id"], r["status"], duration(r["active_s"]), duration(r["time_to_pass_s"]), r["hints"], r["attempts"],
                           ("solution viewed" if r["solution_viewed"] else "") + ("  pristine lab changed: debuglab diff / reset" if r["pristine_changed"] else "")]
                          for r in started], right=("time", "to pass", "hints", "attempts"))
        if session:
            click.echo(f"\npair session {session['id']}: {' & '.join(session['pair'])}, driver now {roles(session)[0]}")
        upcoming = _next_row(workspace, data, labs, rows)
        click.echo(f"\nnext: debuglab run {upcoming['id']}" if upcoming else "\nevery lab passed")
        return
    click.echo(f"workspace: {workspace.root}")
    click.echo(f"{'family':<8} {'passed':>7}  {'time':>8}  {'hints':>5}  {'attempts':>8}")
    for family in _families(rows):
        t = totals[family]
        click.echo(f"{family:<8} {t['passed']:>3}/{t['labs']:<3}  {duration(t['active_s']):>8}  {t['hints']:>5}  {t['attempts']:>8}")
    passed = sum(t["passed"] for t in totals.values())
    click.echo(f"{'all':<8} {passed:>3}/{len(labs):<3}  {duration(sum(t['active_s'] for t in totals.values())):>8}  "
               f"{sum(t['hints'] for t in totals.values()):>5}  {sum(t['attempts'] for t in totals.values()):>8}")
    started = [r for r in rows if r["status"] != "new"]
    if started:
        click.echo(f"\n{'lab':<8} {'status':<9} {'time':>8}  {'to pass':>8}  {'hints':>5}  {'attempts':>8}")
        for r in started:
            flag = "  pristine lab changed: 'debuglab diff' shows your edits, 'debuglab reset' takes the new version" if r["pristine_changed"] else ""
            solution = "  (solution viewed)" if r["solution_viewed"] else ""
            click.echo(f"{r['id']:<8} {r['status']:<9} {duration(r['active_s']):>8}  {duration(r['time_to_pass_s']):>8}  {r['hints']:>5}  {r['attempts']:>8}{solution}{flag}")
    if session:
        click.echo(f"\npair session {session['id']}: {' & '.join(session['pair'])}, driver now {roles(session)[0]}")
    upcoming = _next_row(workspace, data, labs, rows)
    click.echo(f"\nnext: debuglab run {upcoming['id']}" if upcoming else "\nevery lab passed")


@main.command()
@click.argument("lab_id", metavar="LAB")
def show(lab_id: str) -> None:
    """The lab's incident report and where your copy lives."""
    lab = _lab(lab_id)
    workspace = _workspace()
    if not lab.readme_path.is_file():
        raise DebuglabError(f"{lab.readme_path}: file is missing; lab {lab.id} needs its README.md (the incident report)")
    click.echo(lab.readme_path.read_text(encoding="utf-8").rstrip())
    # The course topics, not the lab's own `topic` line: that one may name the bug.
    topics = f"   practises: {', '.join(lab.topics)}" if lab.topics else ""
    click.echo(f"\nfamily: {lab.family}   difficulty: {lab.difficulty}   area: {lab.area}{topics}")
    click.echo(f"your copy: {workspace.script(lab.id)} ({workspace.status(lab.id)})")
    from debuglab.profiles import detect_device

    _gpu_only_note(lab, detect_device())


def _gpu_only_note(lab, device: str) -> None:
    """On a device where a GPU-only lab's bug does not show, say so: its pristine passes there."""
    if lab.skips_on(device):
        click.echo(f"note: {lab.skip_note(device)}")


def _prepare_copy(lab, workspace) -> Path:
    script, created = workspace.ensure_copy(lab)
    if created:
        click.echo(f"copied {lab.id} to {script.parent}; edit {script}", err=True)
    elif workspace.pristine_changed(lab):
        click.echo(
            f"note: the pristine {lab.id} changed since you copied it; 'debuglab diff {lab.id}' shows your edits, "
            f"'debuglab reset {lab.id}' takes the new version (yours is backed up)",
            err=True,
        )
    return script


def _device_option(f):
    f = click.option("--device", type=click.Choice(["cpu", "cuda", "mps"]), default=None, help="Device to judge on (default: cuda, then mps, then cpu).")(f)
    return click.option("--profile", "profile_name", default=None, help="A profile from profiles/ by name (overrides --device's default).")(f)


@main.command()
@click.argument("lab_id", metavar="LAB")
@_device_option
def run(lab_id: str, device: str | None, profile_name: str | None) -> None:
    """Run your copy of LAB (its output is yours) and show what the probes saw."""
    from debuglab import profiles, render, verify
    from debuglab.workspace import record_run

    lab = _lab(lab_id)
    profile = profiles.choose(device, profile_name)
    device = device or profile.device
    workspace = _workspace()
    script = _prepare_copy(lab, workspace)
    click.echo(f"running {script} on {device} (probes: {', '.join(lab.probes)})\n", err=True)
    run_dir = verify.new_run_dir(workspace.runs_dir(lab.id), "run")
    evidence = verify.execute(script, profile, device, run_dir, lab, stream_output=True, stop_early=False)
    failure, series = evidence.failure(), None
    if failure is None:
        metrics, _ = verify.measure(evidence, lab)
        first_sign = (evidence.result.first("summary") or {}).get("first_sign")
        sign = f"first sign at step {first_sign['step']} ({first_sign['check']}): {first_sign['message']}" if first_sign else ""
        series = verify.write_series(evidence, metrics, run_dir, "run", sign)
    record_run(workspace, lab.id, series)
    workspace.prune_runs(lab.id)
    if failure:
        message, line = failure
        click.echo(f"\nerror: {message}" + (f" ({script}:{line})" if line else ""), err=True)
        sys.exit(3)
    render.symptom(metrics, first_sign)
    _gpu_only_note(lab, profile.device)
    click.echo(f"\nfix {script}, then: debuglab verify {lab.id}")


@main.command("verify")
@click.argument("lab_id", metavar="LAB")
@click.option("--file", "file_path", type=click.Path(dir_okay=False, path_type=Path), default=None, help="Judge this file as your fix instead of your workspace copy.")
@click.option("--json", "as_json", is_flag=True, callback=_remember_json, help="Print one JSON document (status, message, checks, metrics).")
@_device_option
def verify_cmd(lab_id: str, file_path: Path | None, as_json: bool, device: str | None, profile_name: str | None) -> None:
    """Judge your fix of LAB under the probes: exit 0 pass, 1 fail, 3 your script errored."""
    from debuglab import profiles, render
    from debuglab import verify as verifier
    from debuglab.workspace import record_verify

    lab = _lab(lab_id)
    profile = profiles.choose(device, profile_name)
    device = device or profile.device
    workspace = _workspace()
    if file_path is not None:
        if not file_path.is_file():
            raise DebuglabError(f"--file {file_path}: no such file")
        script = file_path
    else:
        script = _prepare_copy(lab, workspace)
    if not as_json:
        click.echo(f"verifying {lab.id} on {device} (profile {profile.name})", err=True)
    workspace.ensure()
    try:
        with render.run_progress(enabled=not as_json) as progress:
            v = verifier.verify(lab, script, profile, device, workspace.runs_dir(lab.id), progress=progress)
    except RuntimeError as exc:  # the lab's own reference failed here: a catalog problem, not the learner's
        raise CheckerFault(f"{exc} (a problem of the lab on this machine, not of your fix: please report it)") from None
    workspace.prune_runs(lab.id)
    if file_path is None and v.status != "checker_error":  # debuglab's own failure is no attempt of the learner's
        record_verify(workspace, lab.id, v.status, v.artifacts.get("series"))
    if as_json:
        click.echo(v.to_json())
    else:
        render.verdict(v, str(script))
        if v.status == "pass":
            click.echo(f"\n{lab.id} fixed. Next: debuglab list")
    sys.exit(v.exit_code)


@main.command()
@click.argument("script", type=click.Path(path_type=Path))
@click.argument("script_args", nargs=-1, type=click.UNPROCESSED, metavar="[-- ARGS]...")
@click.option("--json", "as_json", is_flag=True, callback=_remember_json, help="One JSON document (format debuglab.doctor/1).")
@click.option("--steps", type=click.IntRange(min=1), default=None, help="Stop the script after N training steps (long trainings).")
@click.option("--warmup", default=10, show_default=True, type=click.IntRange(min=0), help="Steps excluded from growth and timing figures.")
@click.option("--nproc", default=1, show_default=True, help="Ranks: above 1 the script runs under torchrun (torch.distributed) and every rank is probed.")
@click.option("--time-limit", type=click.FloatRange(min=1), default=None, help="Seconds before the script is stopped (default: none).")
@_device_option
def doctor(script: Path, script_args: tuple, as_json: bool, steps: int | None, warmup: int, nproc: int, time_limit: float | None,
           device: str | None, profile_name: str | None) -> None:
    """Findings on any training script: leaked graphs, dead or non-finite gradients, loss at
    chance, learning-rate collapse, normalisation over the batch axis, evaluation modes and more
    (docs/findings.md lists them). The script runs from its own folder; its arguments go after
    --. Exit 0: no error-level finding; 1: at least one; 2: bad input or no training seen; 3: the
    script itself failed."""
    from debuglab import doctor as doc
    from debuglab import profiles, render
    from debuglab.paths import cache_dir

    if not 1 <= nproc <= 8:
        raise DebuglabError(f"--nproc {nproc}: expected 1 (one process) to 8 ranks")
    profile = profiles.choose(device, profile_name)
    device = device or profile.device
    label = str(script)
    try:
        doc.check_script(script)
        if not as_json and render.fancy(sys.stderr):  # for a person at a terminal; pipes and CI get the report alone
            click.echo(f"doctor: running {label}{' ' + ' '.join(script_args) if script_args else ''} on {device} under the probes...", err=True)
        d = doc.run(script, profile, device, cache_dir() / "doctor", args=script_args, steps=steps, warmup_steps=warmup, nproc=nproc, time_limit_s=time_limit)
    except (doc.ScriptUnusable, doc.NoTraining) as exc:
        raise DebuglabError(str(exc)) from None
    if as_json:
        click.echo(d.to_json())
    else:
        click.echo(doc.render(d, label, color=render.fancy()))
    sys.exit(d.exit_code)


@main.command()
@click.argument("lab_id", metavar="LAB")
def hint(lab_id: str) -> None:
    """The next hint on LAB's ladder, from symptom to mechanism to fix (each one is recorded)."""
    lab = _lab(lab_id)
    workspace = _workspace()
    from debuglab.interview import refuse_if_locked
    from debuglab.workspace import take_hint

    refuse_if_locked(workspace)

    for line in take_hint(workspace, lab):
        click.echo(line)


@main.command()
@click.argument("lab_id", metavar="LAB")
@click.option("--force", is_flag=True, help="Show it before you have passed (recorded in your progress).")
def solution(lab_id: str, force: bool) -> None:
    """The reference fix of LAB as a diff against the pristine lab, with the root cause and why the
    fix is the idiomatic one. Shown once you have passed LAB, or with --force."""
    from debuglab import render
    from debuglab.workspace import iso, record_event

    lab = _lab(lab_id)
    workspace = _workspace()
    from debuglab.interview import refuse_if_locked

    refuse_if_locked(workspace)
    passed = bool(workspace.load_progress()["labs"].get(lab.id, {}).get("first_pass"))
    if not passed and not force:
        raise DebuglabError(
            f"the solution of {lab.id} is shown once you pass it ('debuglab verify {lab.id}'); "
            f"'debuglab solution {lab.id} --force' shows it now and records that in your progress"
        )
    explanation_path = lab.fixture_dir / "solution.md"
    if not explanation_path.is_file():
        raise DebuglabError(f"{explanation_path}: file is missing; lab {lab.id} needs its solution.md (root cause and why the fix)")
    patch = _unified_diff(lab.train_path, lab.fix_path, f"{lab.id}/train.py (pristine)", f"{lab.id}/train.py (reference fix)")
    with workspace.progress() as progress:
        entry = record_event(progress, lab.id, "solution")
        entry.setdefault("solution_viewed", iso())
        if not passed:
            entry["solution_before_pass"] = True
    render.solution(patch, explanation_path.read_text(encoding="utf-8"))


@main.command()
@click.argument("lab_id", metavar="LAB")
@click.option("--yes", is_flag=True, help="Do not ask.")
def reset(lab_id: str, yes: bool) -> None:
    """Put the pristine LAB back in your workspace (your version is backed up first)."""
    lab = _lab(lab_id)
    workspace = _workspace()
    script = workspace.script(lab.id)
    if not yes:
        if not sys.stdin.isatty():
            raise DebuglabError(f"reset {lab.id} would replace {script}; pass --yes to confirm when not at a terminal")
        click.confirm(f"replace {script} with the pristine lab (your version is backed up)?", abort=True)
    backup = workspace.reset(lab)
    click.echo(f"reset {script}" + (f"; your version is in {backup}" if backup else ""))


@main.command()
@click.argument("lab_id", metavar="LAB")
def diff(lab_id: str) -> None:
    """Your changes to LAB's train.py, as a unified diff against the pristine lab."""
    lab = _lab(lab_id)
    script = _workspace().script(lab.id)
    if not script.exists():
        raise DebuglabError(f"no copy of {lab.id} yet at {script}: run 'debuglab run {lab.id}' first")
    text = _unified_diff(lab.train_path, script, f"{lab.id}/train.py (pristine)", str(script))
    click.echo(text.rstrip() if text else f"no changes to {script}")


def _unified_diff(before: Path, after: Path, before_label: str, after_label: str) -> str:
    lines = [path.read_text(encoding="utf-8").splitlines(keepends=True) for path in (before, after)]
    return "".join(difflib.unified_diff(*lines, before_label, after_label))


@main.command()
@click.argument("lab_id", metavar="[LAB]", required=False)
@click.option("--poll", is_flag=True, help="Check the file every --interval seconds instead of waiting for file events (network drives, VM shares).")
@click.option("--manual", is_flag=True, help="Never re-run on save: press r to verify.")
@click.option("--interval", default=1.0, show_default=True, type=click.FloatRange(min=0.1), help="Seconds between checks of the file.")
@_device_option
def watch(lab_id: str | None, poll: bool, manual: bool, interval: float, device: str | None, profile_name: str | None) -> None:
    """Verify LAB each time you save it and show the verdict live; on a pass, offers the next lab.
    Keys: r re-run, h hint, n next lab (after a pass), q quit. LAB defaults to the lab whose folder
    you are in, else the one you worked on last."""
    from debuglab import profiles
    from debuglab import watch as watcher

    workspace = _workspace()
    lab = _lab(lab_id or _current_lab(workspace))
    profile = profiles.choose(device, profile_name)
    try:
        watcher.watch(lab, workspace, profile, device or profile.device, poll=poll, manual=manual, interval=interval, echo=click.echo)
    except KeyboardInterrupt:
        click.echo("\nstopped watching", err=True)


def _current_lab(workspace) -> str:
    """The lab whose copy holds the current folder, else the last lab acted on."""
    from debuglab import catalog

    here = Path.cwd().resolve()
    for folder in (here, *here.parents):
        if folder.parent == workspace.root.resolve() and (folder / "train.py").is_file():
            return folder.name
    events = workspace.load_progress()["events"]
    if events:
        return events[-1]["lab"]
    first = catalog.recommended_order(catalog.all_labs())
    raise DebuglabError(f"name a lab to watch, e.g. 'debuglab watch {first[0].id if first else 'leak-03'}' ('debuglab list' shows them all)")


@main.group()
def session() -> None:
    """Pair sessions: a driver types, a navigator thinks aloud, and they swap on a clock.

    \b
    debuglab session start --pair "Ada,Linus" --minutes 60 --swap 10
    debuglab session status     the clock, and who drives now
    debuglab session swap       swap now, off the clock
    debuglab session stop       end it and print what the pair did
    """


@session.command("start")
@click.option("--pair", "pair_text", required=True, help='Names, comma-separated; the first drives first: "Ada,Linus".')
@click.option("--minutes", default=60.0, show_default=True, type=float, help="The session's length.")
@click.option("--swap", "swap_minutes", default=10.0, show_default=True, type=float, help="Minutes between driver/navigator swaps.")
@click.option("--detach", is_flag=True, help="Record the session and return, instead of keeping the clock on screen.")
def session_start(pair_text: str, minutes: float, swap_minutes: float, detach: bool) -> None:
    """Start a pair session and keep its clock on screen (in a pane of its own) until the planned
    end or Ctrl-C, with a bell and a banner at each swap."""
    from debuglab import render
    from debuglab import session as sessions

    workspace = _workspace()
    started = sessions.start(workspace, sessions.parse_pair(pair_text), minutes, swap_minutes)
    driver, navigator = sessions.roles(started)
    click.echo(f"pair session {started['id']} started: {driver} drives, {navigator} navigates; swap every {swap_minutes:g} min, {minutes:g} min in all")
    if detach:
        click.echo("'debuglab session status' shows the clock; 'debuglab session stop' ends it")
        return
    finished = sessions.run_clock(workspace, started, render.fancy())
    click.echo(sessions.summary(workspace, finished))


@session.command("status")
def session_status() -> None:
    """The clock of the session under way: time, who drives, when the next swap is."""
    from debuglab import session as sessions

    click.echo(sessions.clock_line(sessions.current(_workspace())))


@session.command("swap")
def session_swap() -> None:
    """Swap driver and navigator now, off the clock."""
    from debuglab import session as sessions

    current = sessions.swap(_workspace())
    driver, navigator = sessions.roles(current)
    click.echo(f"{driver} drives now, {navigator} navigates")


@session.command("stop")
def session_stop() -> None:
    """End the session under way and print what the pair did."""
    from debuglab import session as sessions

    workspace = _workspace()
    click.echo(sessions.summary(workspace, sessions.stop(workspace)))


@main.group()
def interview() -> None:
    """Debugging interviews: a lab the candidate has not seen, as round-N/train.py under a clock;
    they see only what a user of the script would, the record keeps everything for the scorecard.

    \b
    debuglab interview start --level 1 --candidate Ada   a fresh lab, 45 minutes
    debuglab interview run | verify     the candidate runs or judges round-N/train.py
    debuglab interview note "TEXT"      a hypothesis or observation, with the time
    debuglab interview hint             the interviewer unlocks the next hint
    debuglab interview stop             ends the round (so does the clock)
    debuglab interview grade gradients strong "why"    the interviewer's grade
    debuglab interview report --format html            the scorecard, once the round ended
    """


@interview.command("start")
@click.option("--lab", "lab_id", default=None, metavar="LAB", help="The round's lab (default: one the workspace has not started, at random).")
@click.option("--level", type=click.IntRange(1, 3), default=None, help="Pick a lab of this difficulty (1 to 3).")
@click.option("--area", default=None, help='Pick a lab of this course area, e.g. "training loops".')
@click.option("--minutes", default=45.0, show_default=True, type=float, help="The round's length; a command after it ends the round.")
@click.option("--candidate", default=None, help="Who the scorecard is about.")
@click.option("--practice", is_flag=True, help="A round for one person: the scorecard ends with the solution and labs to practise.")
def interview_start(lab_id: str | None, level: int | None, area: str | None, minutes: float, candidate: str | None, practice: bool) -> None:
    """Start a round: the lab copied as round-N/train.py and its incident report, nothing that
    names the lab. Hints and solutions are locked until the round ends."""
    from debuglab import interview as rounds

    workspace = _workspace()
    started, incident = rounds.start(workspace, lab_id, level, area, minutes, candidate, practice)
    click.echo(incident.rstrip() + "\n")
    for line in rounds.started_lines(workspace, started):
        click.echo(line)


@interview.command("run")
@_device_option
def interview_run(device: str | None, profile_name: str | None) -> None:
    """Run the round's script (its output is yours), then its loss, memory and step-time figures."""
    from debuglab import interview as rounds
    from debuglab import profiles

    profile = profiles.choose(device, profile_name)
    lines, code = rounds.run(_workspace(), profile, device or profile.device)
    for line in lines:
        click.echo(line)
    sys.exit(code)


@interview.command("verify")
@_device_option
def interview_verify(device: str | None, profile_name: str | None) -> None:
    """Judge the round's script: pass or fail, with what a user would see (exit 0 pass, 1 fail,
    3 the script errored)."""
    from debuglab import interview as rounds
    from debuglab import profiles, render

    profile = profiles.choose(device, profile_name)
    device = device or profile.device
    with render.run_progress() as progress:
        lines, code = rounds.verify(_workspace(), profile, device, progress=progress)
    for line in lines:
        click.echo(line)
    sys.exit(code)


@interview.command("note")
@click.argument("text")
def interview_note(text: str) -> None:
    """Record a hypothesis or an observation with the time, for the scorecard."""
    from debuglab import interview as rounds

    click.echo(rounds.note(_workspace(), text))


@interview.command("hint")
def interview_hint() -> None:
    """The interviewer unlocks the round's next hint (recorded); shows the hints unlocked so far."""
    from debuglab import interview as rounds

    for line in rounds.unlock_hint(_workspace()):
        click.echo(line)


@interview.command("stop")
def interview_stop() -> None:
    """End the running round."""
    from debuglab import interview as rounds

    click.echo(rounds.stop(_workspace()))


@interview.command("grade")
@click.argument("criterion", metavar="CRITERION")
@click.argument("grade", metavar="strong|mixed|weak")
@click.argument("why")
def interview_grade(criterion: str, grade: str, why: str) -> None:
    """The interviewer's grade of a rubric criterion (nn-module, shapes, gradients, training-loop,
    debugging): it overrules the scorecard's suggestion, which is kept beside it."""
    from debuglab import interview as rounds

    click.echo(rounds.grade(_workspace(), criterion, grade, why))


@interview.command("report")
@click.option("--format", "fmt", type=click.Choice(["md", "json", "html"]), default="md", show_default=True)
@click.option("--output", "-o", default=None, help="File to write ('-': stdout). Default: stdout; for html, debuglab-interview-round-N.html here.")
@click.option("--round", "number", type=int, default=None, help="Which round (default: the last).")
def interview_report(fmt: str, output: str | None, number: int | None) -> None:
    """The scorecard of the last round (after it ended): the lab, time to first run and to pass,
    verifies, hints, the final diff, and each rubric criterion with its evidence."""
    from debuglab import interview as rounds
    from debuglab import interview_render
    from debuglab.report import _emit, _json

    workspace = _workspace()
    card = rounds.build(workspace, number)
    text = interview_render.to_html(card, workspace) if fmt == "html" else _json(card) if fmt == "json" else interview_render.to_markdown(card)
    _emit(text, output or (f"debuglab-interview-round-{card['round']}.html" if fmt == "html" else "-"))


@main.command()
@click.argument("lab_ids", nargs=-1, metavar="[LAB]...")
@click.option("--json", "as_json", is_flag=True, callback=_remember_json)
@click.option("--jobs", default=1, show_default=True, help="Labs judged at once (each run uses the profile's threads; at most one per core).")
@click.option("--junit-xml", "junit", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Also write JUnit XML for CI: a testsuite per lab, a testcase per case.")
@_device_option
def selftest(lab_ids: tuple[str, ...], as_json: bool, jobs: int, junit: Path | None, device: str | None, profile_name: str | None) -> None:
    """Prove the catalog: each pristine lab fails with its intended check, each reference fix
    passes, each decoy fails with the check it names."""
    from debuglab import catalog, profiles
    from debuglab import selftest as runner

    labs = [catalog.load(i) for i in lab_ids] if lab_ids else catalog.all_labs()
    profile = profiles.choose(device, profile_name)
    if jobs < 1:
        raise DebuglabError(f"--jobs {jobs}: expected 1 or more labs at once")
    if junit is not None and not junit.parent.is_dir():
        raise DebuglabError(f"--junit-xml {junit}: the folder {junit.parent} does not exist; create it or name another file")
    report = runner.run(labs, profile, device or profile.device, progress=None if as_json else click.echo, jobs=jobs)
    if junit is not None:
        junit.write_text(runner.junit_xml(report), encoding="utf-8")
    if as_json:
        click.echo(json.dumps({"format": "debuglab.selftest/1", **report}, indent=2))
    else:
        from debuglab import render

        if render.fancy():
            render.table(None, ["lab", "case", "expected", "got", "seconds", "result"],
                         [[r["lab"], r["case"], r["expected"], r["status"], f"{r['seconds']:.1f}",
                           "ok" if r["ok"] else f"WRONG (failed: {', '.join(r['failed_checks']) or 'nothing'})"] for r in report["cases"]],
                         right=("seconds",))
            click.echo(runner.table(report).splitlines()[-1])
        else:
            click.echo(runner.table(report))
    sys.exit(0 if report["ok"] else 1)


from debuglab.report import report_command  # noqa: E402  (defined beside the report it renders)

main.add_command(report_command)
