"""Reference measurements: the lab's reference fix run under the same probes on this device,
cached by machine, torch version, profile and lab content."""

from __future__ import annotations

import hashlib
import json
import os
import platform
import tempfile
import threading
from importlib import metadata

from debuglab import __version__, paths
from debuglab.catalog import Lab
from debuglab.profiles import Profile

PERF_METRICS = (
    "step_time_median_ms",
    "step_time_p20_ms",
    "syncs_per_step",
    "dataloader_wait_per_step_ms",
    "peak_bytes",
)


def _machine() -> str:
    cpu = ""
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next((line.split(":", 1)[1].strip() for line in f if line.startswith("model name")), "")
    except OSError:
        pass
    return f"{platform.node()}|{platform.machine()}|{cpu}|{os.cpu_count()}"


def key(lab: Lab, profile: Profile) -> str:
    """Machine, torch, profile, lab content and the checker's own measuring code (a change to a
    probe or the harness changes what is measured)."""
    digest = hashlib.sha256(__version__.encode())
    measuring = sorted((paths.PACKAGE_DIR / "probes").glob("*.py")) + sorted((paths.PACKAGE_DIR / "harness").glob("*.py"))
    for path in (*measuring, lab.lab_dir / "lab.toml", lab.train_path, lab.fix_path, lab.checks_path):
        if path is not None and path.is_file():
            digest.update(path.read_bytes())
    try:
        torch_version = metadata.version("torch")
    except metadata.PackageNotFoundError:
        torch_version = "?"
    return f"{lab.id}|{profile.name}|{torch_version}|{_machine()}|{digest.hexdigest()[:16]}"


_LOCK = threading.Lock()  # flock orders processes; this orders threads too where flock does not exist


def _path():
    return paths.cache_dir() / "calibration.json"


def load(lab: Lab, profile: Profile) -> dict | None:
    try:
        data = json.loads(_path().read_text())
    except (OSError, json.JSONDecodeError):
        return None
    return data.get(key(lab, profile))


def store(lab: Lab, profile: Profile, metrics: dict) -> None:
    """Read, change and write calibration.json under a lock file (selftest --jobs stores from
    several threads, and two processes may share the cache), replacing it atomically."""
    path = _path()
    path.parent.mkdir(parents=True, exist_ok=True)
    with _LOCK, open(path.parent / ".calibration.lock", "a") as lock:
        try:
            import fcntl

            fcntl.flock(lock, fcntl.LOCK_EX)
        except ImportError:  # no advisory locks (Windows): _LOCK still orders this process's threads
            pass
        try:
            data = json.loads(path.read_text())
        except (OSError, json.JSONDecodeError):
            data = {}
        data[key(lab, profile)] = {k: metrics[k] for k in PERF_METRICS if metrics.get(k) is not None}
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".calibration.")
        with os.fdopen(fd, "w") as f:
            json.dump(data, f, indent=1)
        os.replace(tmp, path)  # the lock is released when the file closes
