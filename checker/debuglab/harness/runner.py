"""The parent side of the harness: starts the child, owns time limits, Ctrl-C and clean-up."""

from __future__ import annotations

import json
import os
import secrets
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from debuglab.harness.channel import ChannelReader
from debuglab.paths import PACKAGE_DIR


@dataclass(frozen=True)
class RunSpec:
    script: Path
    run_dir: Path
    steps: int
    warmup_steps: int
    probes: tuple[str, ...]
    device: str = "cpu"
    threads: int = 1
    time_limit_s: float = 120.0
    memory_limit_mb: int | None = None
    checks_path: Path | None = None
    stream_output: bool = False  # True: the script's output goes to this terminal (run); else to output.log
    options: dict = field(default_factory=dict)  # probe settings from the profile


@dataclass
class RunResult:
    events: list[dict]
    returncode: int | None
    timed_out: bool
    wall_s: float
    run_dir: Path
    output_path: Path | None
    rejected_lines: int = 0

    def first(self, kind: str) -> dict | None:
        return next((e for e in self.events if e["kind"] == kind), None)

    def steps(self) -> list[dict]:
        return [r for e in self.events if e["kind"] == "steps" for r in e["records"]]


def _child_env(spec: RunSpec) -> dict:
    env = dict(os.environ)
    # The child imports debuglab from wherever this process found it (wheel or checkout).
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(PACKAGE_DIR.parent), env.get("PYTHONPATH")]))
    env["PYTHONUNBUFFERED"] = "1"
    env["OMP_NUM_THREADS"] = env["MKL_NUM_THREADS"] = str(spec.threads)
    if spec.device == "cpu":
        env["CUDA_VISIBLE_DEVICES"] = ""  # the lab's own device choice then falls back to the CPU
    return env


def _limit_memory(limit_mb: int | None):
    if limit_mb is None:
        return None

    def apply():
        import resource

        limit = limit_mb * 1024 * 1024
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))

    return apply


def kill_tree(pgid: int) -> None:
    """End the child's whole process group: DataLoader workers and anything the script started."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(pgid, sig)
        except (ProcessLookupError, PermissionError):
            return
        time.sleep(0.05)


def run_script(spec: RunSpec, on_event=None) -> RunResult:
    spec.run_dir.mkdir(parents=True, exist_ok=True)
    token = secrets.token_hex(16)
    read_fd, write_fd = os.pipe()
    child_spec = {
        "script": str(spec.script),
        "run_dir": str(spec.run_dir),
        "steps": spec.steps,
        "warmup_steps": spec.warmup_steps,
        "probes": list(spec.probes),
        "device": spec.device,
        "threads": spec.threads,
        "checks_path": str(spec.checks_path) if spec.checks_path else None,
        "options": spec.options,
        "channel_fd": write_fd,
        "token": token,
    }
    spec_path = spec.run_dir / ".spec.json"
    fd = os.open(spec_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        json.dump(child_spec, f)

    output_path = None if spec.stream_output else spec.run_dir / "output.log"
    output = None if output_path is None else open(output_path, "wb")
    started = time.monotonic()
    try:
        proc = subprocess.Popen(
            [sys.executable, "-m", "debuglab.harness.child", str(spec_path)],
            cwd=spec.script.parent,
            env=_child_env(spec),
            stdin=subprocess.DEVNULL,
            stdout=output,
            stderr=subprocess.STDOUT if output else None,
            pass_fds=(write_fd,),
            start_new_session=True,  # its own process group, so the whole tree can be ended
            preexec_fn=_limit_memory(spec.memory_limit_mb),
        )
    finally:
        os.close(write_fd)
        if output:
            output.close()
    reader = ChannelReader(read_fd, token, on_event)
    reader.start()
    timed_out = False
    try:
        proc.wait(timeout=spec.time_limit_s)
    except subprocess.TimeoutExpired:
        timed_out = True
    except KeyboardInterrupt:
        kill_tree(proc.pid)
        proc.wait()
        reader.finish(0.5)
        raise
    finally:
        if timed_out:
            kill_tree(proc.pid)
            proc.wait()
    # The child has exited; a grandchild it left behind may still hold the pipe, so wait briefly.
    reader.finish(timeout=2.0)
    kill_tree(proc.pid)
    return RunResult(
        events=reader.events,
        returncode=proc.returncode,
        timed_out=timed_out,
        wall_s=time.monotonic() - started,
        run_dir=spec.run_dir,
        output_path=output_path,
        rejected_lines=reader.rejected,
    )
