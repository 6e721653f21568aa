"""The learner's workspace: copies of labs to edit, run folders, and progress.

Found like git finds a repository: DEBUGLAB_WORKSPACE if set, else the nearest folder at or above
the current one that holds .debuglab/, else ~/debuglab (created on first use). The pristine labs
are never written; nothing the learner wrote is overwritten without being asked (and is backed up
even then).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from debuglab.catalog import Lab
from debuglab.clock import active_session, duration, iso, roles  # noqa: F401  (duration: the CLI's)
from debuglab.errors import DebuglabError

STATE_DIR = ".debuglab"
PROGRESS_VERSION = 2  # 1: labs only; 2: + events, sessions, time spent
KEEP_RUNS = 10  # run folders kept per lab
IDLE_GAP_S = 15 * 60  # time spent on a lab: gaps between two actions on it count up to this much


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def find_root(start: Path | None = None) -> Path:
    override = os.environ.get("DEBUGLAB_WORKSPACE")
    if override:
        return Path(override).expanduser().resolve()
    here = (start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        if (folder / STATE_DIR).is_dir():
            return folder
    return Path.home() / "debuglab"


@dataclass
class Workspace:
    root: Path

    @classmethod
    def find(cls) -> "Workspace":
        return cls(find_root())

    @property
    def state_dir(self) -> Path:
        return self.root / STATE_DIR

    @property
    def progress_path(self) -> Path:
        return self.state_dir / "progress.json"

    def lab_dir(self, lab_id: str) -> Path:
        return self.root / lab_id

    def script(self, lab_id: str) -> Path:
        return self.lab_dir(lab_id) / "train.py"

    def runs_dir(self, lab_id: str) -> Path:
        return self.state_dir / "runs" / lab_id

    def series_dir(self, lab_id: str) -> Path:
        """Per-step figures kept for the report: before.json (the first run of the learner's copy),
        latest.json (the last run or verify) and after.json (the last passing verify)."""
        return self.state_dir / "series" / lab_id

    def save_series(self, lab_id: str, source: Path | str | None, status: str) -> None:
        if not source or not Path(source).is_file():
            return
        folder = self.series_dir(lab_id)
        folder.mkdir(parents=True, exist_ok=True)
        names = ["latest.json"] + (["before.json"] if not (folder / "before.json").exists() else [])
        names += ["after.json"] if status == "pass" else []
        for name in names:
            shutil.copyfile(source, folder / name)

    def load_series(self, lab_id: str, name: str) -> dict | None:
        try:
            return json.loads((self.series_dir(lab_id) / f"{name}.json").read_text())
        except (OSError, json.JSONDecodeError):
            return None

    def ensure(self) -> None:
        try:
            self.state_dir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise DebuglabError(f"cannot create the workspace at {self.root} ({exc.strerror}); set DEBUGLAB_WORKSPACE to a writable folder") from None

    # -- copies ------------------------------------------------------------------------------
    def ensure_copy(self, lab: Lab) -> tuple[Path, bool]:
        """The learner's copy of the lab, made on first use. Returns (path, created)."""
        script = self.script(lab.id)
        if script.exists():
            return script, False
        self.ensure()
        self.lab_dir(lab.id).mkdir(parents=True, exist_ok=True)
        shutil.copyfile(lab.readme_path, self.lab_dir(lab.id) / "README.md")
        shutil.copyfile(lab.train_path, script)
        with self.progress() as progress:
            entry = progress.lab(lab.id)
            entry["pristine_sha256"] = sha256(lab.train_path)
            entry.setdefault("copied_at", iso())
        return script, True

    def pristine_changed(self, lab: Lab, progress: dict | None = None) -> bool:
        recorded = (progress or self.load_progress()).get("labs", {}).get(lab.id, {}).get("pristine_sha256")
        return recorded is not None and recorded != sha256(lab.train_path)

    def is_modified(self, lab: Lab) -> bool:
        script = self.script(lab.id)
        return script.exists() and sha256(script) != sha256(lab.train_path)

    def reset(self, lab: Lab) -> Path | None:
        """Put the pristine script back; the learner's version is kept in .debuglab/backups."""
        script = self.script(lab.id)
        backup = None
        if script.exists() and self.is_modified(lab):
            backup_dir = self.state_dir / "backups"
            backup_dir.mkdir(parents=True, exist_ok=True)
            backup = backup_dir / f"{lab.id}-{time.strftime('%Y%m%d-%H%M%S')}.py"
            shutil.copyfile(script, backup)
        if script.exists():
            script.unlink()
        self.ensure_copy(lab)
        with self.progress() as progress:
            record_event(progress, lab.id, "reset")["pristine_sha256"] = sha256(lab.train_path)
        return backup

    def prune_runs(self, lab_id: str) -> None:
        runs = sorted(p for p in self.runs_dir(lab_id).glob("*") if p.is_dir())
        for old in runs[:-KEEP_RUNS]:
            shutil.rmtree(old, ignore_errors=True)

    # -- progress ------------------------------------------------------------------------------
    def load_progress(self) -> dict:
        try:
            data = json.loads(self.progress_path.read_text())
        except FileNotFoundError:
            return migrate({"version": PROGRESS_VERSION})
        except (OSError, json.JSONDecodeError) as exc:
            raise DebuglabError(f"{self.progress_path}: unreadable progress file ({exc}); move it aside to start afresh") from None
        if not isinstance(data, dict):
            raise DebuglabError(f"{self.progress_path}: not a progress file (expected a JSON object); move it aside to start afresh")
        if data.get("version", 0) > PROGRESS_VERSION:
            raise DebuglabError(f"{self.progress_path}: written by a newer debuglab (version {data['version']}); upgrade debuglab")
        return migrate(data)

    def progress(self) -> "_ProgressEdit":
        return _ProgressEdit(self)

    def save_progress(self, data: dict) -> None:
        self.ensure()
        data["version"] = PROGRESS_VERSION
        write_json_atomic(self.progress_path, data)

    def next_lab(self, labs: list[Lab], progress: dict, skip: str | None = None) -> Lab | None:
        """The first lab of `labs` (in the recommended order) not passed yet, other than `skip`."""
        return next((lab for lab in labs if lab.id != skip and self.status(lab.id, progress) != "passed"), None)

    def status(self, lab_id: str, progress: dict | None = None) -> str:
        entry = (progress or self.load_progress())["labs"].get(lab_id, {})
        if entry.get("first_pass"):
            return "passed"
        if entry.get("attempts"):
            return "attempted"
        if self.script(lab_id).exists():
            return "started"
        return "new"


class _ProgressEdit:
    """`with workspace.progress() as p:` loads, lets the caller edit, then saves atomically.
    Edits are serialised with a lock file: in a workshop the watcher, the session clock and a
    hint typed in another pane all write progress.json, and none may lose another's update."""

    def __init__(self, workspace: Workspace):
        self.workspace = workspace
        self._lock = None

    def __enter__(self) -> "_ProgressEdit":
        self.workspace.ensure()
        self._lock = lock_file(self.workspace.state_dir / "progress.lock")
        try:
            self.data = self.workspace.load_progress()
        except BaseException:
            self._release()
            raise
        return self

    def lab(self, lab_id: str) -> dict:
        return self.data["labs"].setdefault(lab_id, {})

    def __exit__(self, kind, value, tb) -> None:
        try:
            if kind is None:
                self.workspace.save_progress(self.data)
        finally:
            self._release()

    def _release(self) -> None:
        if self._lock is not None:
            self._lock.close()  # closing the file releases the lock
            self._lock = None


def lock_file(path: Path):
    """An open file holding an exclusive advisory lock on `path`; closing it releases the lock.
    Every JSON state file of the workspace is edited under one of these."""
    handle = open(path, "a")
    try:
        import fcntl
    except ImportError:  # Windows: no advisory locks; edits are still atomic, one at a time per process
        return handle
    fcntl.flock(handle, fcntl.LOCK_EX)
    return handle


def write_json_atomic(path: Path, data) -> None:
    """Write JSON so that a crash leaves the old file or the new one, never half of either."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.stem}.")
    with os.fdopen(fd, "w") as f:
        json.dump(data, f, indent=2, sort_keys=True)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def migrate(data: dict) -> dict:
    """Progress files of every earlier version read as the current one: nothing is dropped."""
    data.setdefault("labs", {})
    data.setdefault("events", [])  # version 2
    data.setdefault("sessions", [])  # version 2
    return data


def record_event(progress: "_ProgressEdit", lab_id: str, kind: str, status: str | None = None, now: float | None = None) -> dict:
    """One action on a lab (run, verify, hint, solution, edit, reset): counted in the time spent on
    it, and attributed to the pair session and the driver of the moment."""
    now = time.time() if now is None else now
    entry = progress.lab(lab_id)
    last = entry.get("last_seen_ts")
    if last is not None:
        entry["active_s"] = round(entry.get("active_s", 0.0) + min(max(now - last, 0.0), IDLE_GAP_S), 1)
    entry.setdefault("first_seen_ts", now)
    entry["last_seen_ts"] = now
    event = {"t": iso(now), "ts": round(now, 3), "lab": lab_id, "kind": kind}
    if status is not None:
        event["status"] = status
    session = active_session(progress.data, now)
    if session is not None:
        event["session"] = session["id"]
        event["driver"] = roles(session, now)[0]  # by the clock and the manual swaps, clock pane or not
        labs = session.setdefault("labs", [])
        if lab_id not in labs:
            labs.append(lab_id)
    progress.data["events"].append(event)
    return entry


def record_verify(workspace: Workspace, lab_id: str, status: str, series: str | None = None) -> None:
    with workspace.progress() as progress:
        entry = record_event(progress, lab_id, "verify", status)
        entry["attempts"] = entry.get("attempts", 0) + 1
        entry["last_status"] = status
        entry["last_verify"] = iso()
        if status == "pass" and not entry.get("first_pass"):
            entry["first_pass"] = iso()
            entry["time_to_pass_s"] = entry.get("active_s", 0.0)
            entry["attempts_to_pass"] = entry["attempts"]
            entry["hints_to_pass"] = entry.get("hints", 0)
    workspace.save_series(lab_id, series, status)


def record_run(workspace: Workspace, lab_id: str, series: str | None = None) -> None:
    with workspace.progress() as progress:
        entry = record_event(progress, lab_id, "run")
        entry.setdefault("first_run", iso())
        entry["runs"] = entry.get("runs", 0) + 1
    workspace.save_series(lab_id, series, "run")


def family_totals(progress: dict, labs: list) -> dict[str, dict]:
    """Per family: labs, passed, time spent, hints taken, verify attempts."""
    totals: dict[str, dict] = {}
    for lab in labs:
        entry = progress["labs"].get(lab.id, {})
        family = totals.setdefault(lab.family, {"labs": 0, "passed": 0, "active_s": 0.0, "hints": 0, "attempts": 0})
        family["labs"] += 1
        family["passed"] += bool(entry.get("first_pass"))
        family["active_s"] += entry.get("active_s", 0.0)
        family["hints"] += entry.get("hints", 0)
        family["attempts"] += entry.get("attempts", 0)
    return totals


def take_hint(workspace: Workspace, lab: Lab) -> list[str]:
    """The hints so far plus the next one on the ladder (recorded), as lines to show."""
    with workspace.progress() as progress:
        entry = record_event(progress, lab.id, "hint")
        taken = entry.get("hints", 0)
        if taken < len(lab.hints):
            entry["hints"] = taken + 1
    lines = [f"hint {n}/{len(lab.hints)}: {text}" for n, text in enumerate(lab.hints[: min(taken + 1, len(lab.hints))], 1)]
    if taken >= len(lab.hints):
        lines.append(f"that was the last hint; 'debuglab diff {lab.id}' shows what you changed so far")
    return lines


def lab_record(lab_id: str, entry: dict, lab) -> dict:
    """One lab's row as every view shows it (list, progress, the report), from its progress
    entry; read defensively, since a report may merge files from other versions. `lab` is None
    for a lab since removed from the catalog."""
    from debuglab.charts import number

    def count(key):
        value = number(entry.get(key))
        return int(value) if value is not None else None

    status = "passed" if entry.get("first_pass") else "attempted" if count("attempts") else "started"
    return {
        "id": lab_id,
        "title": lab.title if lab else lab_id,  # a lab since removed from the catalog keeps its row
        "family": lab.family if lab else lab_id.split("-")[0],
        "difficulty": lab.difficulty if lab else None,
        "status": status,
        "active_s": number(entry.get("active_s")) or 0.0,
        "time_to_pass_s": number(entry.get("time_to_pass_s")) if status == "passed" else None,
        "attempts": count("attempts") or 0,
        "attempts_to_pass": count("attempts_to_pass") if status == "passed" else None,
        "hints": count("hints") or 0,
        "hints_to_pass": count("hints_to_pass") if status == "passed" else None,
        "runs": count("runs") or 0,
        "first_pass": entry.get("first_pass") if isinstance(entry.get("first_pass"), str) else None,
        "solution_viewed": entry.get("solution_viewed") if isinstance(entry.get("solution_viewed"), str) else None,
        "solution_before_pass": bool(entry.get("solution_before_pass")),
    }
