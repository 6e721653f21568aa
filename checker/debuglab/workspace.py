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
from debuglab.errors import DebuglabError

STATE_DIR = ".debuglab"
PROGRESS_VERSION = 1
KEEP_RUNS = 10  # run folders kept per lab


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
            entry.setdefault("copied_at", _now())
        return script, True

    def pristine_changed(self, lab: Lab) -> bool:
        recorded = self.load_progress().get("labs", {}).get(lab.id, {}).get("pristine_sha256")
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
            progress.lab(lab.id)["pristine_sha256"] = sha256(lab.train_path)
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
            return {"version": PROGRESS_VERSION, "labs": {}}
        except (OSError, json.JSONDecodeError) as exc:
            raise DebuglabError(f"{self.progress_path}: unreadable progress file ({exc}); move it aside to start afresh") from None
        if data.get("version", 0) > PROGRESS_VERSION:
            raise DebuglabError(f"{self.progress_path}: written by a newer debuglab (version {data['version']}); upgrade debuglab")
        data.setdefault("labs", {})
        return data

    def progress(self) -> "_ProgressEdit":
        return _ProgressEdit(self)

    def save_progress(self, data: dict) -> None:
        self.ensure()
        data["version"] = PROGRESS_VERSION
        fd, tmp = tempfile.mkstemp(dir=self.state_dir, prefix=".progress.")
        with os.fdopen(fd, "w") as f:
            json.dump(data, f, indent=2, sort_keys=True)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, self.progress_path)  # atomic: a crash leaves the old file or the new one

    def status(self, lab_id: str) -> str:
        entry = self.load_progress()["labs"].get(lab_id, {})
        if entry.get("first_pass"):
            return "passed"
        if entry.get("attempts"):
            return "attempted"
        if self.script(lab_id).exists():
            return "started"
        return "new"


class _ProgressEdit:
    """`with workspace.progress() as p:` loads, lets the caller edit, then saves atomically."""

    def __init__(self, workspace: Workspace):
        self.workspace = workspace

    def __enter__(self) -> "_ProgressEdit":
        self.data = self.workspace.load_progress()
        return self

    def lab(self, lab_id: str) -> dict:
        return self.data["labs"].setdefault(lab_id, {})

    def __exit__(self, kind, value, tb) -> None:
        if kind is None:
            self.workspace.save_progress(self.data)


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S%z")


def record_verify(workspace: Workspace, lab_id: str, status: str) -> None:
    with workspace.progress() as progress:
        entry = progress.lab(lab_id)
        entry["attempts"] = entry.get("attempts", 0) + 1
        entry["last_status"] = status
        entry["last_verify"] = _now()
        if status == "pass" and not entry.get("first_pass"):
            entry["first_pass"] = _now()


def record_run(workspace: Workspace, lab_id: str) -> None:
    with workspace.progress() as progress:
        entry = progress.lab(lab_id)
        entry.setdefault("first_run", _now())
        entry["runs"] = entry.get("runs", 0) + 1
