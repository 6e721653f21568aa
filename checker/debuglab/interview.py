"""Interview mode: one lab as a timed debugging round under a neutral name, and a scorecard on
the interview rubric (../shared/COURSE.md) once it ends.

The candidate sees what a user of the script would: the incident report, the script's own output,
loss, held-out metrics, memory and step time, pass or fail. Nothing they see names the lab, its
family, its title or the mechanism a check measures; the full verdicts go to the round's record,
which the scorecard reveals after the round. State lives in <workspace>/.debuglab/interview/:
rounds.json (every round: its events, verdicts, notes and grades; edited under a lock and written
atomically), and per round the snapshots of the candidate's file, the run folders and the
per-step series the pictures are drawn from. The candidate's copy is <workspace>/round-N/train.py.

Never imports torch, nor the static read, at module level: start, note, hint and stop cost what
`debuglab list` costs.
"""

from __future__ import annotations

import difflib
import json
import random
import re
import shutil
import sys
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from debuglab import catalog
from debuglab.charts import number
from debuglab.clock import clock, duration, iso
from debuglab.errors import CheckerFault, DebuglabError
from debuglab.workspace import Workspace, lock_file, sha256, write_json_atomic

FORMAT = "debuglab.interview/1"  # the scorecard's JSON (name/version, as every --json output)
STATE_VERSION = 1
DEFAULT_MINUTES = 45
GRADES = ("strong", "mixed", "weak")


# -- the rubric -----------------------------------------------------------------------------------
@dataclass(frozen=True)
class Criterion:
    """One row of the interviewer's rubric, with what in a round is evidence for it: the checks
    whose verdicts bear on it, the static findings that are its red flags, the words that mark a
    note as about it, and the course topics whose labs train it (practice mode)."""

    id: str  # what `debuglab interview grade` takes
    name: str
    weight: str
    checks: tuple[str, ...] = ()
    findings: tuple[str, ...] = ()
    words: tuple[str, ...] = ()
    topics: tuple[str, ...] = ()


CRITERIA = (
    Criterion("nn-module", "nn.Module usage", "high", ("parameter_registration", "optimizer_coverage"), ("raw_parameter",),
              ("module", "parameter", "buffer", "register"), catalog.TOPICS["custom layers"]),
    Criterion("shapes", "shape awareness", "high", (), (), ("shape", "dim", "size", "broadcast", "view", "reshape", "transpose", "permute"),
              ("reshaping and views", "broadcasting", "advanced indexing", "einsum")),
    Criterion("gradients", "gradient understanding", "high", ("zero_grad", "gradient_flow", "numerics"), ("missing_zero_grad", "eval_without_no_grad"),
              ("grad", "detach", "backward", "no_grad"), ("gradient computation", "gradient checking")),
    Criterion("training-loop", "training loop completeness", "medium", ("train_mode", "trained_to_end", "loss_spike", "loss_decreases", "checkpoint_writers", "sampler_epoch"),
              ("eval_without_eval_mode", "eval_mode_left_on"), ("eval", "train mode", "clip", "schedul", "checkpoint", "epoch"), catalog.TOPICS["training loops"]),
    Criterion("debugging", "debugging ability", "medium", (), (), (), ("finding bugs", "NaN detection", "memory optimisation", "profiling")),
)


def criterion(text: str) -> Criterion:
    """A criterion by its id, its name or its name with dashes ('gradients', 'shape awareness')."""
    wanted = re.sub(r"[\s_]+", "-", text.strip().lower())
    for c in CRITERIA:
        if wanted in (c.id, re.sub(r"\s+", "-", c.name.lower())):
            return c
    raise DebuglabError(f"unknown criterion {text!r}: expected one of {', '.join(c.id for c in CRITERIA)}")


# What a user of the script notices when a check fails, in words that never name the mechanism.
NOTICED = {
    "trained_to_end": "the script stops before its last training step",
    "loss_decreases": "the loss does not fall as far as a working run's",
    "loss_spike": "the loss jumps up mid-run and stays up",
    "step_time": "steps are slower than a working run's on this machine",
    "peak_memory": "peak memory is above a working run's",
    "memory_growth": "memory grows step after step",
}


# -- state ------------------------------------------------------------------------------------------
def state_dir(workspace: Workspace) -> Path:
    return workspace.state_dir / "interview"


def state_path(workspace: Workspace) -> Path:
    return state_dir(workspace) / "rounds.json"


def round_dir(workspace: Workspace, number: int) -> Path:
    """The round's record beside rounds.json: snapshots/, runs/ and series/."""
    return state_dir(workspace) / f"round-{number}"


def load(workspace: Workspace) -> dict:
    path = state_path(workspace)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {"version": STATE_VERSION, "rounds": []}
    except (OSError, json.JSONDecodeError) as exc:
        raise DebuglabError(f"{path}: unreadable interview record ({exc}); move it aside to start afresh") from None
    if not isinstance(data, dict) or not isinstance(data.get("rounds"), list):
        raise DebuglabError(f"{path}: not an interview record (expected an object with 'rounds'); move it aside to start afresh")
    if data.get("version", 0) > STATE_VERSION:
        raise DebuglabError(f"{path}: written by a newer debuglab (version {data['version']}); upgrade debuglab")
    return data


@contextmanager
def edit(workspace: Workspace):
    """Load rounds.json under the lock, let the caller change it, save it atomically. An exception
    inside leaves the file as it was: a refused command records nothing."""
    workspace.ensure()
    state_dir(workspace).mkdir(exist_ok=True)
    lock = lock_file(state_dir(workspace) / "rounds.lock")
    try:
        data = load(workspace)
        before = json.dumps(data, sort_keys=True)
        yield data
        if json.dumps(data, sort_keys=True) != before:  # a command that changed nothing leaves the file alone
            data["version"] = STATE_VERSION
            write_json_atomic(state_path(workspace), data)
    finally:
        lock.close()


def open_round(data: dict) -> dict | None:
    """The round not ended yet (at most one), whether or not its clock has run out."""
    return next((r for r in reversed(data["rounds"]) if r.get("ended_ts") is None), None)


def deadline(rnd: dict) -> float:
    return rnd["started_ts"] + 60 * rnd["minutes"]


def _end(rnd: dict, at: float, by: str) -> None:
    rnd["ended"], rnd["ended_ts"], rnd["ended_by"] = iso(at), round(at, 3), by
    rnd["events"].append({"kind": "time_up" if by == "clock" else "stop", "t": iso(at), "ts": round(at, 3)})


def _expire(data: dict, now: float) -> dict | None:
    """The open round ended by its clock, if its minutes have passed (the end is recorded at the
    deadline, not at the command that noticed)."""
    rnd = open_round(data)
    if rnd is not None and now >= deadline(rnd):
        _end(rnd, deadline(rnd), "clock")
        return rnd
    return None


def _time_up(rnd: dict, what: str) -> DebuglabError:
    return DebuglabError(
        f"round {rnd['round']}'s {rnd['minutes']:g} minutes were up at {rnd['ended'][11:16]}: the round is over and this {what} was not run; "
        f"'debuglab interview report' shows the scorecard"
    )


def _no_round(data: dict) -> DebuglabError:
    last = data["rounds"][-1] if data["rounds"] else None
    if last is None:
        return DebuglabError("no interview round in this workspace: start one with 'debuglab interview start'")
    return DebuglabError(
        f"no interview round is running (round {last['round']} ended at {last['ended'][11:16]}): "
        f"'debuglab interview report' shows its scorecard, 'debuglab interview start' starts the next"
    )


def current(workspace: Workspace, what: str, now: float | None = None) -> tuple[dict, catalog.Lab]:
    """The running round and its lab, for a command the candidate types. A round whose minutes
    have passed is ended here (recorded), and the command refused saying so."""
    now = time.time() if now is None else now
    data = load(workspace)
    rnd = open_round(data)
    if rnd is None:
        raise _no_round(data)
    if now >= deadline(rnd):
        with edit(workspace) as data:
            ended = _expire(data, now)
        raise _time_up(ended or rnd, what)
    return rnd, catalog.load(rnd["lab"])


def refuse_if_locked(workspace: Workspace) -> None:
    """`debuglab hint` and `debuglab solution` while a round runs: refused for every lab, so that
    trying lab ids one after the other cannot tell which lab the round is."""
    rnd = open_round(load(workspace))
    if rnd is not None and time.time() < deadline(rnd):
        raise DebuglabError(
            f"hints and solutions are locked while interview round {rnd['round']} runs; "
            f"the interviewer unlocks the round's next hint with 'debuglab interview hint'"
        )


# -- starting a round -------------------------------------------------------------------------------
def _used_labs(workspace: Workspace, data: dict) -> set[str]:
    """Labs this workspace has seen: started as a lab (a copy or a progress entry) or used in a round."""
    progress = workspace.load_progress()
    return {r["lab"] for r in data["rounds"]} | {lab_id for lab_id in catalog.lab_ids() if workspace.status(lab_id, progress) != "new"}


def pick_lab(workspace: Workspace, data: dict, level: int | None, area: str | None) -> catalog.Lab:
    """A lab the workspace has not seen, at the level and in the area asked, at random: an
    interviewer who reuses a workspace must not hand a candidate the same lab twice."""
    from debuglab.profiles import detect_device

    used = _used_labs(workspace, data)
    device = detect_device()  # a GPU-only lab's untouched script passes elsewhere: no round for it there
    fitting = [lab for lab in catalog.all_labs() if (level is None or lab.difficulty == level) and (area is None or lab.area == area)
               and not lab.skips_on(device)]
    fresh = [lab for lab in fitting if lab.id not in used]
    if not fresh:
        asked = " ".join(p for p in (f"--level {level}" if level else "", f"--area {area!r}" if area else "") if p) or "the catalog"
        why = f"{plural(len(fitting), 'lab')} fit {asked} and this workspace has started every one" if fitting else f"no lab fits {asked}"
        raise DebuglabError(f"{why}: pick another level or area, or use a fresh workspace (DEBUGLAB_WORKSPACE=/new/folder)")
    return random.SystemRandom().choice(fresh)


def incident_text(lab: catalog.Lab, number: int) -> str:
    """The lab's README as the round shows it: the incident and what fixed means, under a neutral
    heading. The title line (it names the lab and its title) goes; commands naming the lab become
    the round's commands; any other mention of the id becomes 'this script'."""
    lines = lab.readme_path.read_text(encoding="utf-8").splitlines()
    if lines and lines[0].startswith("#"):
        lines = lines[1:]
    body = "\n".join(lines).strip()
    body = re.sub(rf"debuglab (run|verify) {re.escape(lab.id)}\b", r"debuglab interview \1", body)
    body = re.sub(rf"`{re.escape(lab.id)}`|\b{re.escape(lab.id)}\b", "this script", body)
    body = body.replace(lab.title, "the incident")
    return f"# Round {number}: the incident\n\n{body}\n"


def _free_number(workspace: Workspace, data: dict) -> int:
    """The next round number whose folder does not exist: a folder the learner made is never overwritten."""
    number = max((r["round"] for r in data["rounds"]), default=0) + 1
    while (workspace.root / f"round-{number}").exists() or round_dir(workspace, number).exists():
        number += 1
    return number


def start(workspace: Workspace, lab_id: str | None, level: int | None, area: str | None, minutes: float,
          candidate: str | None, practice: bool, now: float | None = None) -> tuple[dict, str]:
    """A new round: the lab copied as round-N/train.py with its incident beside it. Returns the
    round and the incident text to show."""
    now = time.time() if now is None else now
    if lab_id is not None and (level is not None or area is not None):
        raise DebuglabError("--lab names the round's lab; --level and --area pick one at random: give one or the other")
    if minutes <= 0:
        raise DebuglabError(f"--minutes {minutes:g}: expected the round's length in minutes above 0")
    if area is not None and area not in catalog.AREAS:
        raise DebuglabError(f"--area {area!r}: expected one of: {', '.join(catalog.AREAS)}")
    chosen = catalog.load(lab_id) if lab_id is not None else None  # an unknown lab is refused before anything is written
    with edit(workspace) as data:
        _expire(data, now)
        running = open_round(data)
        if running is not None:
            raise DebuglabError(
                f"round {running['round']} is running since {running['started'][11:16]}: "
                f"'debuglab interview stop' ends it before the next one starts"
            )
        lab = chosen or pick_lab(workspace, data, level, area)
        number = _free_number(workspace, data)
        folder = workspace.root / f"round-{number}"
        incident = incident_text(lab, number)
        folder.mkdir(parents=True)
        shutil.copyfile(lab.train_path, folder / "train.py")
        (folder / "README.md").write_text(incident, encoding="utf-8")
        rnd = {
            "round": number, "lab": lab.id, "folder": folder.name, "candidate": (candidate or "").strip() or "candidate",
            "practice": practice, "minutes": minutes, "started": iso(now), "started_ts": round(now, 3),
            "ended": None, "ended_ts": None, "ended_by": None, "pristine_sha256": sha256(lab.train_path),
            "hints_unlocked": 0, "events": [{"kind": "start", "t": iso(now), "ts": round(now, 3)}], "grades": [],
        }
        data["rounds"].append(rnd)
    return rnd, incident


def started_lines(workspace: Workspace, rnd: dict) -> list[str]:
    """What start says after the incident: where the file is, the clock, the round's commands."""
    script = workspace.root / rnd["folder"] / "train.py"
    until = time.strftime("%H:%M", time.localtime(deadline(rnd)))
    who = "" if rnd["practice"] else f" for {rnd['candidate']}"
    return [
        f"round {rnd['round']}{who}: {rnd['minutes']:g} minutes, until {until}. Your script: {script}",
        "  debuglab interview run          run it: its output, then loss, memory and step-time figures",
        "  debuglab interview verify       judge your fix: pass or fail, with what a user would see",
        '  debuglab interview note "TEXT"  say what you think is going on (recorded with the time)',
    ]


# -- run and verify ---------------------------------------------------------------------------------
def _snapshot(workspace: Workspace, rnd: dict, script: Path, kind: str) -> str:
    """A copy of the candidate's file as it is judged, named in order of the round's commands."""
    if not script.is_file():
        raise DebuglabError(f"{script}: file is missing; the round's script is edited in place (the pristine copy is in the round's record)")
    folder = round_dir(workspace, rnd["round"]) / "snapshots"
    folder.mkdir(parents=True, exist_ok=True)
    n = len(list(folder.glob("*.py"))) + 1
    while True:
        path = folder / f"{n:02d}-{kind}.py"
        try:
            with open(path, "x", encoding="utf-8") as out:
                out.write(script.read_text(encoding="utf-8"))
            return str(path.relative_to(round_dir(workspace, rnd["round"])))
        except FileExistsError:
            n += 1


def _record(workspace: Workspace, number: int, event: dict, series: str | None) -> dict:
    """Add one event to the round (even if the round ended while the command ran: it started
    inside the round), with a copy of the run's per-step series for the scorecard's pictures."""
    with edit(workspace) as data:
        rnd = next(r for r in data["rounds"] if r["round"] == number)
        event["n"] = len(rnd["events"]) + 1
        if series and Path(series).is_file():
            target = round_dir(workspace, number) / "series" / f"{event['n']:02d}.json"
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(series, target)
            event["series"] = str(target.relative_to(round_dir(workspace, number)))
        rnd["events"].append(event)
    return rnd


def _at(rnd: dict, ts: float) -> str:
    return clock(ts - rnd["started_ts"])


def metric_label(name: str) -> str:
    """A held-out metric as a user says it: heldout_word_accuracy -> held-out word accuracy."""
    bare = name.removeprefix("heldout_").removeprefix("val_")
    return f"held-out {bare.replace('_', ' ')}"


def figures(metrics: dict, lab: catalog.Lab, checks: dict | None = None) -> list[str]:
    """What a user would observe of a run: steps, loss, held-out metrics (with their targets when
    judged), step time and memory. No check names, no probe's diagnosis."""
    rows = []
    if metrics.get("steps") is not None:
        rows.append(("optimizer steps", f"{metrics['steps']}"))
    if metrics.get("loss_first") is not None and metrics.get("loss_last") is not None:
        rows.append(("loss, first vs last tenth", f"{metrics['loss_first']:.4g} -> {metrics['loss_last']:.4g}"))
    for bound in lab.outcome:
        value = number(metrics.get(bound.name))
        if value is None:
            continue
        judged = ""
        if checks is not None and bound.name in checks:
            judged = f"  (target {bound.describe()}{'' if checks[bound.name] == 'pass' else ': missed'})"
        rows.append((metric_label(bound.name), f"{value:.4g}{judged}"))
    if number(metrics.get("step_time_median_ms")) is not None:
        rows.append(("step time (median)", f"{metrics['step_time_median_ms']:.2f} ms"))
    if number(metrics.get("peak_bytes")) is not None:
        rows.append(("peak memory", f"{metrics['peak_bytes'] / 2**20:.1f} MiB"))
    if number(metrics.get("growth_bytes_per_step")) is not None:
        rows.append(("memory growth per step", f"{metrics['growth_bytes_per_step'] / 1024:+.2f} KB"))
    width = max((len(label) for label, _ in rows), default=0)
    return [f"  {label:<{width}}  {value}" for label, value in rows]


def run(workspace: Workspace, profile, device: str) -> tuple[list[str], int]:
    """The round's script under the probes, its output streamed as it runs; then the figures a
    user would see. Recorded with a snapshot of the file and the run's series."""
    from debuglab import verify as verifier
    from debuglab.verdict import strict

    rnd, lab = current(workspace, "run")
    script = workspace.root / rnd["folder"] / "train.py"
    started = time.time()
    snapshot = _snapshot(workspace, rnd, script, "run")
    print(f"running {rnd['folder']}/train.py on {device}\n", file=sys.stderr, flush=True)
    run_dir = verifier.new_run_dir(round_dir(workspace, rnd["round"]) / "runs", "run")
    evidence = verifier.execute(script, profile, device, run_dir, lab, stream_output=True, stop_early=False)
    failure, metrics, series = evidence.failure(), {}, None
    if failure is None:
        metrics, _ = verifier.measure(evidence, lab)
        series = str(verifier.write_series(evidence, metrics, run_dir, "run", ""))
    event = {"kind": "run", "t": iso(started), "ts": round(started, 3), "done_ts": round(time.time(), 3), "snapshot": snapshot,
             "status": "error" if failure else "ran", "metrics": strict(metrics), "message": failure[0] if failure else ""}
    _record(workspace, rnd["round"], event, series)
    if failure:
        return [f"\nerror: {failure[0]}"], 3
    return [f"\nround {rnd['round']}, run at {_at(rnd, started)}:", *figures(metrics, lab)], 0


def verify(workspace: Workspace, profile, device: str, progress=None) -> tuple[list[str], int]:
    """Judge the round's script as `debuglab verify` judges a lab; the candidate sees pass or
    fail and the observable figures, the record keeps the whole verdict."""
    from debuglab import verify as verifier

    rnd, lab = current(workspace, "verify")
    print(f"verifying {rnd['folder']}/train.py on {device} (profile {profile.name})", file=sys.stderr, flush=True)
    script = workspace.root / rnd["folder"] / "train.py"
    started = time.time()
    snapshot = _snapshot(workspace, rnd, script, "verify")
    event = {"kind": "verify", "t": iso(started), "ts": round(started, 3), "snapshot": snapshot}
    try:
        v = verifier.verify(lab, script, profile, device, round_dir(workspace, rnd["round"]) / "runs", progress=progress)
    except RuntimeError as exc:  # the lab's reference failed on this machine: debuglab's problem, kept for the interviewer
        _record(workspace, rnd["round"], {**event, "done_ts": round(time.time(), 3), "status": "checker_error", "message": str(exc)}, None)
        raise CheckerFault("debuglab could not measure a working run on this machine (not a problem of your fix); the interviewer finds the details in the round's record") from None
    verdict = v.to_dict()
    rnd = _record(workspace, rnd["round"], {**event, "done_ts": round(time.time(), 3), "status": v.status, "verdict": verdict}, v.artifacts.get("series"))
    count = sum(e["kind"] == "verify" for e in rnd["events"])
    heading = f"round {rnd['round']}, verify {count} at {_at(rnd, started)}"
    if v.status == "checker_error":
        return [f"ERROR {heading}: debuglab itself failed during the run (not your script); the details are in the round's record"], v.exit_code
    if v.status == "error":
        return [f"ERROR {heading}: {v.message}"], v.exit_code
    statuses = {c.name: c.status for c in v.checks}
    lines = [f"{v.status.upper()} {heading}: " + ("fixed: every target is met" if v.status == "pass" else "not fixed yet"), *figures(v.metrics, lab, statuses)]
    if statuses.get("trained_to_end") == "skip":  # the checker stopped the run once the problem was certain
        lines.append(f"  (the checker stopped this run at step {v.metrics.get('steps')} of {lab.steps}: by then it was certain the run is not right)")
    if v.status != "pass":
        noticed = [NOTICED[c.name] for c in v.failed() if c.name in NOTICED]
        noticed += [f"{metric_label(c.name)} misses its target" for c in v.failed() if any(b.name == c.name for b in lab.outcome)]
        lines.append("what a user would notice: " + ("; ".join(noticed) if noticed else "nothing in these figures, yet the run is not right: keep looking"))
    return lines, v.exit_code


# -- notes, hints, stop, grades -----------------------------------------------------------------------
def note(workspace: Workspace, text: str, now: float | None = None) -> str:
    now = time.time() if now is None else now
    if not text.strip():
        raise DebuglabError('a note needs its text: debuglab interview note "the loss is flat after step 50"')
    rnd, _ = current(workspace, "note", now)
    _record(workspace, rnd["round"], {"kind": "note", "t": iso(now), "ts": round(now, 3), "text": text.strip()}, None)
    return f"noted at {_at(rnd, now)} into round {rnd['round']}"


def unlock_hint(workspace: Workspace, now: float | None = None) -> list[str]:
    """The interviewer unlocks the next hint of the round's ladder (recorded); the lines show
    every hint unlocked so far, and only those: the hints' own text is the one thing of the lab
    the candidate sees, by the interviewer's choice."""
    now = time.time() if now is None else now
    rnd, lab = current(workspace, "hint", now)
    taken = rnd.get("hints_unlocked", 0)
    if taken < len(lab.hints):
        with edit(workspace) as data:
            rnd = next(r for r in data["rounds"] if r["round"] == rnd["round"])
            taken = rnd["hints_unlocked"] = rnd.get("hints_unlocked", 0) + 1
            rnd["events"].append({"kind": "hint", "t": iso(now), "ts": round(now, 3), "number": taken, "n": len(rnd["events"]) + 1})
        lines = [f"hint {n}/{len(lab.hints)}: {text}" for n, text in enumerate(lab.hints[:taken], 1)]
        return lines + [f"(hint {taken} unlocked at {_at(rnd, now)})"]
    return [f"hint {n}/{len(lab.hints)}: {text}" for n, text in enumerate(lab.hints, 1)] + ["that was the last hint (nothing recorded)"]


def stop(workspace: Workspace, now: float | None = None) -> str:
    """End the running round. After the clock ended it (or with no round to stop after one
    ended) a message and nothing else; with no round ever, a one-line error."""
    now = time.time() if now is None else now
    if not load(workspace)["rounds"]:
        raise _no_round(load(workspace))
    with edit(workspace) as data:
        expired = _expire(data, now)
        rnd = open_round(data)
        if rnd is not None:
            _end(rnd, now, "stop")
    if rnd is not None:
        return f"round {rnd['round']} stopped at {_at(rnd, now)} of {clock(60 * rnd['minutes'])}; 'debuglab interview report' shows the scorecard"
    last = expired or data["rounds"][-1]
    how = f"its {last['minutes']:g} minutes were up at {last['ended'][11:16]}" if last["ended_by"] == "clock" else f"it was stopped at {last['ended'][11:16]}"
    return f"round {last['round']} had already ended ({how}); nothing to stop. 'debuglab interview report' shows the scorecard"


def grade(workspace: Workspace, criterion_text: str, value: str, why: str, now: float | None = None) -> str:
    """The interviewer's grade on one criterion of the current or last round: it overrules the
    suggestion in the scorecard, which keeps both."""
    now = time.time() if now is None else now
    chosen = criterion(criterion_text)
    if value not in GRADES:
        raise DebuglabError(f"grade {value!r}: expected one of {', '.join(GRADES)}")
    if not why.strip():
        raise DebuglabError(f'a grade needs its reason: debuglab interview grade {chosen.id} {value} "why"')
    if not load(workspace)["rounds"]:
        raise _no_round(load(workspace))
    with edit(workspace) as data:
        rnd = data["rounds"][-1]
        rnd["grades"].append({"criterion": chosen.id, "grade": value, "why": why.strip(), "t": iso(now), "ts": round(now, 3)})
    return f"round {rnd['round']}: {chosen.name} graded {value}"


# -- the scorecard --------------------------------------------------------------------------------------
def unified(before: str, after: str, before_label: str, after_label: str) -> str:
    return "".join(difflib.unified_diff(before.splitlines(keepends=True), after.splitlines(keepends=True), before_label, after_label))


def diff_size(patch: str) -> int:
    """Lines a unified diff adds or removes (its headers aside)."""
    return sum(1 for line in patch.splitlines() if line[:1] in "+-" and not line.startswith(("+++", "---")))


def _finished_round(workspace: Workspace, number: int | None, now: float) -> dict:
    """The round the scorecard is about (the last by default). A running round has none yet: the
    scorecard names the lab, so it waits for the end."""
    data = load(workspace)
    if not data["rounds"]:
        raise _no_round(data)
    rnd = open_round(data)
    if rnd is not None and now >= deadline(rnd):
        with edit(workspace) as data:
            _expire(data, now)
    if number is None:
        rnd = data["rounds"][-1]
    else:
        rnd = next((r for r in data["rounds"] if r["round"] == number), None)
        if rnd is None:
            raise DebuglabError(f"--round {number}: no such round; this workspace has rounds {', '.join(str(r['round']) for r in data['rounds'])}")
    if rnd.get("ended_ts") is None:
        raise DebuglabError(f"round {rnd['round']} is still running: the scorecard names the lab, so it comes after 'debuglab interview stop'")
    return rnd


def plural(count: int, word: str, many: str | None = None) -> str:
    return f"{count} {word if count == 1 else many or word + 's'}"


def _mentions(text: str, words: tuple[str, ...]) -> bool:
    lowered = text.lower()
    return any(word in lowered for word in words)


def _suggest(c: Criterion, lab: catalog.Lab, context: dict) -> tuple[str, str, list[str]]:
    """(suggestion, its reason, the evidence lines) for one criterion."""
    final, pristine = context["static"], context["pristine_static"]
    first, last = context["first_verdict"], context["last_verdict"]
    evidence = []
    red = [f for f in final["findings"] if f["kind"] in c.findings]
    gone = [f for f in pristine["findings"] if f["kind"] in c.findings and not any(g["kind"] == f["kind"] for g in final["findings"])]
    evidence += [f"final file, line {f['line']}: {f['message']}" for f in red]
    evidence += [f"fixed since the pristine script: {f['message']} (line {f['line']} there)" for f in gone]
    statuses = lambda v: {ch["name"]: ch["status"] for ch in (v or {}).get("checks", [])}  # noqa: E731
    before, after = statuses(first), statuses(last)
    for name in c.checks:
        if name in before or name in after:
            evidence.append(f"probe {name}: {before.get(name, 'not judged')} at the first verify, {after.get(name, 'not judged')} at the last")
    failing_now = [name for name in c.checks if after.get(name) == "fail"]
    notes = [n for n in context["notes"] if c.id == "debugging" or _mentions(n["text"], c.words)]
    evidence += [f"note at {n['at']}: {n['text']}" for n in notes]
    passed = context["passed"]
    exercised = lab.expect_broken in c.checks or bool(gone)

    if c.id == "shapes":
        shapes = final["shapes"]
        lines, commented = shapes["shape_lines"], shapes["commented"]
        if lines:
            evidence.append(f"{len(commented)} of the {len(lines)} changed lines that change a shape carry a shape comment (lines {', '.join(map(str, lines))})")
        failing = context["failed_verifies"]
        if lines and len(commented) == len(lines):
            return "strong", "every line they changed that changes a shape says the new shape in a comment", evidence
        if lines and not commented and failing >= 3:
            return "weak", f"shape-changing edits without shape comments, and {failing} failing verifies: trial and error", evidence
        if lab.family == "dims" and passed:
            return "strong", "a shape bug found and fixed", evidence
        return "mixed", "little shape work in this round: ask them to annotate shapes in the model's forward", evidence

    if c.id == "debugging":
        hints, total = context["hints"], len(lab.hints)
        evidence.append(f"{plural(context['verifies'], 'verify', 'verifies')} ({context['failed_verifies']} failing), {plural(context['runs'], 'run')}, "
                        f"{hints} of {total} hints, {plural(len(context['notes']), 'note')}")
        if context["more_than_needed"]:
            evidence.append(f"changed {context['diff_lines']} lines where the reference fix changes {context['needed_lines']}")
        if not passed:
            return "weak", f"not fixed within the round ({duration(context['length_s'])})", evidence
        if hints >= total:
            return "weak", "fixed only after the last hint, which names the fix", evidence
        if hints <= 1 and not context["more_than_needed"]:
            return "strong", f"fixed in {duration(context['time_to_pass_s'])} with {plural(hints, 'hint')} and a change the size the bug needed", evidence
        why = [f"{hints} hints" if hints > 1 else "", "a change larger than the bug needed" if context["more_than_needed"] else ""]
        return "mixed", "fixed, with " + " and ".join(w for w in why if w), evidence

    if c.id == "training-loop":
        evidence.append("the final loop uses: " + (", ".join(final["practices"]) or "none of the usual practices"))
    if red or failing_now:
        what = [f["kind"].replace("_", " ") for f in red] + [f"{name} fails" for name in failing_now]
        return "weak", "red flag in the final state: " + ", ".join(dict.fromkeys(what)), evidence
    if exercised and passed:
        return "strong", "the round's bug was of this kind and their fix cures it", evidence
    if notes and c.id != "debugging":
        return "mixed", "no red flag, and their notes touch on it; the round did not test it directly", evidence
    return "mixed", "no red flag in the final file, but this round did not exercise it: ask about it", evidence


def _practice_labs(workspace: Workspace, weak: list[Criterion], exclude: set[str]) -> list[dict]:
    """For each weak criterion, labs that train its topics and that this workspace has not seen."""
    rows = catalog.topic_table(catalog.all_labs())
    plan = []
    for c in weak:
        ids = []
        for row in rows:
            if row["topic"] in c.topics:
                ids += [i for i in row["labs"] if i not in exclude and i not in ids]
        order = [lab.id for lab in catalog.recommended_order(catalog.all_labs())]
        ids.sort(key=order.index)
        plan.append({"criterion": c.id, "name": c.name, "topics": list(c.topics), "labs": ids[:4]})
    return plan


def build(workspace: Workspace, number: int | None = None, now: float | None = None) -> dict:
    """The scorecard of one ended round, as plain data (its JSON form); Markdown and HTML render it."""
    from debuglab import interview_static
    from debuglab.verdict import strict

    now = time.time() if now is None else now
    rnd = _finished_round(workspace, number, now)
    lab = catalog.load(rnd["lab"])
    start_ts = rnd["started_ts"]
    events = rnd["events"]
    record = round_dir(workspace, rnd["round"])
    pristine = lab.train_path.read_text(encoding="utf-8")
    fix = lab.fix_path.read_text(encoding="utf-8")
    script = workspace.root / rnd["folder"] / "train.py"
    snapshots = [e for e in events if e.get("snapshot")]
    if script.is_file():
        final = script.read_text(encoding="utf-8")
    elif snapshots:
        final = (record / snapshots[-1]["snapshot"]).read_text(encoding="utf-8")
    else:
        final = pristine
    verifies = [e for e in events if e["kind"] == "verify"]
    runs = [e for e in events if e["kind"] in ("run", "verify")]
    passes = [e for e in verifies if e.get("status") == "pass"]
    notes = [{"at": clock(e["ts"] - start_ts), "at_s": round(e["ts"] - start_ts, 1), "text": e["text"]} for e in events if e["kind"] == "note"]
    vs_pristine = unified(pristine, final, "train.py (pristine)", "train.py (final)")
    vs_fix = unified(fix, final, "train.py (reference fix)", "train.py (final)")
    needed = diff_size(unified(pristine, fix, "a", "b"))
    changed = diff_size(vs_pristine)
    judged = [e.get("verdict") for e in verifies if isinstance(e.get("verdict"), dict)]
    context = {
        "static": interview_static.read(final, pristine),
        "pristine_static": interview_static.read(pristine, pristine),
        "first_verdict": judged[0] if judged else None,
        "last_verdict": judged[-1] if judged else None,
        "notes": notes,
        "passed": bool(passes),
        "hints": rnd.get("hints_unlocked", 0),
        "verifies": len(verifies),
        "failed_verifies": sum(e.get("status") != "pass" for e in verifies),
        "runs": sum(e["kind"] == "run" for e in events),
        "more_than_needed": changed > max(2 * needed, needed + 4),
        "diff_lines": changed,
        "needed_lines": needed,
        "length_s": rnd["ended_ts"] - start_ts,
        "time_to_pass_s": (passes[0]["done_ts"] - start_ts) if passes else None,
    }
    grades = {}
    for g in rnd.get("grades", []):
        grades[g["criterion"]] = g
    criteria = []
    for c in CRITERIA:
        suggestion, reason, evidence = _suggest(c, lab, context)
        given = grades.get(c.id)
        criteria.append({"id": c.id, "name": c.name, "weight": c.weight, "suggestion": suggestion, "reason": reason, "evidence": evidence,
                         "grade": {k: given[k] for k in ("grade", "why", "t")} if given else None, "final": given["grade"] if given else suggestion})
    card = {
        "format": FORMAT,
        "version": 1,
        "generated_at": iso(now),
        "workspace": str(workspace.root),
        "round": rnd["round"],
        "candidate": rnd["candidate"],
        "practice": bool(rnd["practice"]),
        "lab": {"id": lab.id, "title": lab.title, "family": lab.family, "difficulty": lab.difficulty, "area": lab.area, "topics": list(lab.topics),
                "expect_broken": lab.expect_broken, "hints": list(lab.hints)},
        "started": rnd["started"],
        "ended": rnd["ended"],
        "ended_by": rnd["ended_by"],
        "minutes": rnd["minutes"],
        "length_s": round(context["length_s"], 1),
        "time_to_first_run_s": round(runs[0]["ts"] - start_ts, 1) if runs else None,
        "time_to_pass_s": round(context["time_to_pass_s"], 1) if passes else None,
        "passed": bool(passes),
        "verifies": [{"at_s": round(e["ts"] - start_ts, 1), "status": e.get("status"), "message": (e.get("verdict") or {}).get("message", e.get("message", "")),
                      "failed_checks": [ch["name"] for ch in (e.get("verdict") or {}).get("checks", []) if ch["status"] == "fail"]} for e in verifies],
        "hints": {"unlocked": rnd.get("hints_unlocked", 0), "total": len(lab.hints)},
        "notes": notes,
        "timeline": [_timeline_row(e, start_ts, record) for e in events],
        "diff": {"vs_pristine_lines": changed, "vs_reference_lines": diff_size(vs_fix), "needed_lines": needed,
                 "more_than_needed": context["more_than_needed"], "vs_pristine": vs_pristine, "vs_reference": vs_fix},
        "static": context["static"],
        "criteria": criteria,
        "practice_plan": None,
    }
    if rnd["practice"]:
        weak = [c for c, row in zip(CRITERIA, criteria) if row["final"] == "weak"]
        exclude = _used_labs(workspace, load(workspace))
        explanation = lab.fixture_dir / "solution.md"
        card["practice_plan"] = {
            "solution": {"diff": unified(pristine, fix, f"{lab.id}/train.py (pristine)", f"{lab.id}/train.py (reference fix)"),
                         "explanation": explanation.read_text(encoding="utf-8") if explanation.is_file() else ""},
            "labs": _practice_labs(workspace, weak, exclude),
        }
    return strict(card)


def _timeline_row(event: dict, start_ts: float, record: Path) -> dict:
    row = {"at_s": round(event["ts"] - start_ts, 1), "t": event["t"], "kind": event["kind"]}
    for key in ("status", "text", "number", "snapshot", "series", "message", "metrics", "verdict"):
        if key in event:
            row[key] = event[key]
    if "done_ts" in event:
        row["took_s"] = round(event["done_ts"] - event["ts"], 1)
    return row
