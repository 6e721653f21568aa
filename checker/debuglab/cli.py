"""The command line. Commands are small; heavy imports (torch, the harness) happen inside the
command that needs them, so `list` and `--help` never import torch."""

from __future__ import annotations

import difflib
import json
import sys
from pathlib import Path

import click

from debuglab import __version__
from debuglab.errors import DebuglabError

EXIT_USAGE = 2


class _Group(click.Group):
    """Turns DebuglabError into one line on stderr and exit code 2, never a traceback."""

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except DebuglabError as exc:
            click.echo(f"debuglab: error: {exc}", err=True)
            ctx.exit(exc.exit_code)


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="debuglab")
def main() -> None:
    """debuglab: a bug-hunt gym for PyTorch training code.

    \b
    debuglab list                 the catalog, with your progress
    debuglab run leak-03          run your copy of a lab and see the symptom
    debuglab verify leak-03       judge your fix: pass, fail or error, and why
    debuglab hint leak-03         the next hint
    """


def _lab(lab_id: str):
    from debuglab import catalog

    return catalog.load(lab_id)


def _workspace():
    from debuglab.workspace import Workspace

    return Workspace.find()


@main.command("list")
@click.option("--json", "as_json", is_flag=True, help="One JSON document instead of a table.")
def list_labs(as_json: bool) -> None:
    """The catalog grouped by family, each lab numbered in the recommended order (easy labs of
    every family first), with your status per lab."""
    from debuglab import catalog

    workspace = _workspace()
    labs = catalog.recommended_order(catalog.all_labs())
    rows = [
        {
            "order": n,
            "id": lab.id,
            "title": lab.title,
            "family": lab.family,
            "difficulty": lab.difficulty,
            "area": lab.area,
            "topic": lab.topic,
            "status": workspace.status(lab.id),
        }
        for n, lab in enumerate(labs, 1)
    ]
    if as_json:
        click.echo(json.dumps({"workspace": str(workspace.root), "labs": rows}, indent=2))
        return
    width = max(len(r["title"]) for r in rows) if rows else 10
    families = [f for f in catalog.FAMILIES if any(r["family"] == f for r in rows)]
    families += sorted({r["family"] for r in rows} - set(families))
    for family in families:
        mine = sorted((r for r in rows if r["family"] == family), key=lambda r: r["order"])
        passed = sum(r["status"] == "passed" for r in mine)
        click.echo(f"{family}  {catalog.FAMILY_TITLES.get(family, '')}  ({passed}/{len(mine)} passed)")
        for row in mine:
            stars = "*" * row["difficulty"]
            click.echo(f"  {row['order']:>2}  {row['id']:<8}  {stars:<3}  {row['title']:<{width}}  {row['status']}")
        click.echo()
    upcoming = next((r for r in rows if r["status"] != "passed"), None)
    nxt = f"next in the recommended order (#{upcoming['order']}): debuglab run {upcoming['id']}" if upcoming else "every lab passed"
    click.echo(f"# is the recommended order: easy labs of every family first, then harder ones.\nworkspace: {workspace.root}    {nxt}")


@main.command()
@click.argument("lab_id", metavar="LAB")
def show(lab_id: str) -> None:
    """The lab's incident report and where your copy lives."""
    lab = _lab(lab_id)
    workspace = _workspace()
    if not lab.readme_path.is_file():
        raise DebuglabError(f"{lab.readme_path}: file is missing; lab {lab.id} needs its README.md (the incident report)")
    click.echo(lab.readme_path.read_text(encoding="utf-8").rstrip())
    topic = f" ({lab.topic})" if lab.topic else ""
    click.echo(f"\nfamily: {lab.family}   difficulty: {lab.difficulty}   area: {lab.area}{topic}")
    click.echo(f"your copy: {workspace.script(lab.id)} ({workspace.status(lab.id)})")


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
    record_run(workspace, lab.id)
    workspace.prune_runs(lab.id)
    failure = evidence.failure()
    if failure:
        message, line = failure
        click.echo(f"\nerror: {message}" + (f" ({script}:{line})" if line else ""), err=True)
        sys.exit(3)
    metrics, _ = verify.measure(evidence, lab)
    render.symptom(metrics, (evidence.result.first("summary") or {}).get("first_sign"))
    click.echo(f"\nfix {script}, then: debuglab verify {lab.id}")


@main.command("verify")
@click.argument("lab_id", metavar="LAB")
@click.option("--file", "file_path", type=click.Path(dir_okay=False, path_type=Path), default=None, help="Judge this file as your fix instead of your workspace copy.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document (status, message, checks, metrics).")
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
    if not as_json and sys.stderr.isatty():
        click.echo(f"verifying {lab.id} on {device} (profile {profile.name})...", err=True)
    workspace.ensure()
    try:
        v = verifier.verify(lab, script, profile, device, workspace.runs_dir(lab.id))
    except RuntimeError as exc:  # the lab's own reference failed here: a catalog problem, not the learner's
        raise DebuglabError(str(exc)) from None
    workspace.prune_runs(lab.id)
    if file_path is None:
        record_verify(workspace, lab.id, v.status)
    if as_json:
        click.echo(v.to_json())
    else:
        render.verdict(v, str(script))
        if v.status == "pass":
            click.echo(f"\n{lab.id} fixed. Next: debuglab list")
    sys.exit(v.exit_code)


@main.command()
@click.argument("script", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--json", "as_json", is_flag=True)
@click.option("--warmup", default=10, show_default=True, help="Steps excluded from growth and timing figures.")
@click.option("--nproc", default=1, show_default=True, help="Ranks: above 1 the script runs under torchrun (torch.distributed) and every rank is probed.")
@_device_option
def doctor(script: Path, as_json: bool, warmup: int, nproc: int, device: str | None, profile_name: str | None) -> None:
    """The probes on any training script: gradient flow, memory, numerics, profiler (and, with
    --nproc, the comparison of its torchrun ranks)."""
    from debuglab import profiles, render
    from debuglab import verify as verifier
    from debuglab.paths import cache_dir

    if not script.is_file():
        raise DebuglabError(f"{script}: no such file")
    profile = profiles.choose(device, profile_name)
    device = device or profile.device
    runs = cache_dir() / "doctor"
    if not 1 <= nproc <= 8:
        raise DebuglabError(f"--nproc {nproc}: expected 1 (one process) to 8 ranks")
    v = verifier.verify(None, script, profile, device, runs, label="doctor", warmup_steps=warmup, nproc=nproc)
    click.echo(v.to_json()) if as_json else render.verdict(v, str(script))
    sys.exit(v.exit_code)


@main.command()
@click.argument("lab_id", metavar="LAB")
def hint(lab_id: str) -> None:
    """The next hint on LAB's ladder, from symptom to mechanism to fix (each one is recorded)."""
    lab = _lab(lab_id)
    workspace = _workspace()
    with workspace.progress() as progress:
        entry = progress.lab(lab.id)
        taken = entry.get("hints", 0)
        if taken < len(lab.hints):
            entry["hints"] = taken + 1
    for n, text in enumerate(lab.hints[: min(taken + 1, len(lab.hints))], 1):
        click.echo(f"hint {n}/{len(lab.hints)}: {text}")
    if taken >= len(lab.hints):
        click.echo(f"that was the last hint; 'debuglab diff {lab.id}' shows what you changed so far")


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
    pristine = lab.train_path.read_text(encoding="utf-8").splitlines(keepends=True)
    mine = script.read_text(encoding="utf-8").splitlines(keepends=True)
    text = "".join(difflib.unified_diff(pristine, mine, f"{lab.id}/train.py (pristine)", str(script)))
    click.echo(text.rstrip() if text else f"no changes to {script}")


@main.command()
@click.argument("lab_ids", nargs=-1, metavar="[LAB]...")
@click.option("--json", "as_json", is_flag=True)
@click.option("--jobs", default=1, show_default=True, help="Labs judged at once (each run uses the profile's threads; at most one per core).")
@_device_option
def selftest(lab_ids: tuple[str, ...], as_json: bool, jobs: int, device: str | None, profile_name: str | None) -> None:
    """Prove the catalog: each pristine lab fails with its intended check, each reference fix
    passes, each decoy fails with the check it names."""
    from debuglab import catalog, profiles
    from debuglab import selftest as runner

    labs = [catalog.load(i) for i in lab_ids] if lab_ids else catalog.all_labs()
    profile = profiles.choose(device, profile_name)
    if jobs < 1:
        raise DebuglabError(f"--jobs {jobs}: expected 1 or more labs at once")
    report = runner.run(labs, profile, device or profile.device, progress=None if as_json else click.echo, jobs=jobs)
    if as_json:
        click.echo(json.dumps(report, indent=2))
    else:
        click.echo(runner.table(report))
    sys.exit(0 if report["ok"] else 1)
