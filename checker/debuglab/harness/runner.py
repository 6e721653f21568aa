"""The parent side of the harness: starts the child, owns time limits, Ctrl-C and clean-up."""

from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field, replace
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
    nproc: int = 1  # ranks; above 1 the script runs under torchrun, every rank under the probes
    args: tuple[str, ...] = ()  # the script's own command-line arguments


@dataclass
class RunResult:
    events: list[dict]
    returncode: int | None
    timed_out: bool
    wall_s: float
    run_dir: Path
    output_path: Path | None
    rejected_lines: int = 0
    ranks: list[list[dict]] = field(default_factory=list)  # every rank's events (distributed runs)

    def rank(self, r: int) -> "RunResult":
        """The run as rank r saw it (its events, its folder); the whole run's exit status."""
        return replace(self, events=self.ranks[r], run_dir=self.run_dir / f"rank{r}", rejected_lines=0, ranks=[])

    def first(self, kind: str) -> dict | None:
        return next((e for e in self.events if e["kind"] == kind), None)

    def steps(self) -> list[dict]:
        return [r for e in self.events if e["kind"] == "steps" for r in e["records"]]


def _child_env(spec: RunSpec, scratch: Path) -> dict:
    env = dict(os.environ)
    # The child imports debuglab from wherever this process found it (wheel or checkout).
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(PACKAGE_DIR.parent), env.get("PYTHONPATH")]))
    env["PYTHONUNBUFFERED"] = "1"
    # The run's temporary files (torchrun's log folders, multiprocessing's sockets, the script's
    # own tempfile folders) go to a folder removed after the run: a process group ended by a signal
    # never cleans up after itself, and /tmp would fill with a folder per run. Kept short for
    # AF_UNIX socket paths.
    env["TMPDIR"] = str(scratch)
    env["OMP_NUM_THREADS"] = env["MKL_NUM_THREADS"] = str(spec.threads)
    if spec.device == "cpu":
        env["CUDA_VISIBLE_DEVICES"] = ""  # the lab's own device choice then falls back to the CPU
    return env


class Interrupted(KeyboardInterrupt):
    """Raised in a thread running a script (selftest --jobs) when Ctrl-C reached the main thread:
    its script has been ended, and no other starts."""


_interrupt = threading.Event()
WAIT_SLICE_S = 0.2  # how often a running script's thread looks for an interruption


def interrupt() -> None:
    """Ctrl-C for every thread: each running script is ended within WAIT_SLICE_S, none starts."""
    _interrupt.set()


def resume() -> None:
    _interrupt.clear()


def _check_interrupt() -> None:
    if _interrupt.is_set():
        raise Interrupted()


def _wait(proc: subprocess.Popen, limit_s: float) -> None:
    """proc.wait(limit_s) that also ends on interrupt() (raising Interrupted): a thread other
    than the main one never receives Ctrl-C itself."""
    deadline = time.monotonic() + limit_s
    while True:
        _check_interrupt()
        left = deadline - time.monotonic()
        if left <= 0:
            raise subprocess.TimeoutExpired(proc.args, limit_s)
        try:
            proc.wait(timeout=min(left, WAIT_SLICE_S))
            return
        except subprocess.TimeoutExpired:
            continue


def kill_tree(pgid: int) -> None:
    """End the child's whole process group: DataLoader workers and anything the script started."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(pgid, sig)
        except (ProcessLookupError, PermissionError):
            return
        time.sleep(0.05)


def _write_spec(spec: RunSpec, token: str, channel: dict) -> Path:
    child_spec = {
        "script": str(spec.script),
        "run_dir": str(spec.run_dir),
        "steps": spec.steps,
        "warmup_steps": spec.warmup_steps,
        "probes": list(spec.probes),
        "device": spec.device,
        "threads": spec.threads,
        "memory_limit_mb": spec.memory_limit_mb,
        "checks_path": str(spec.checks_path) if spec.checks_path else None,
        "options": spec.options,
        "nproc": spec.nproc,
        "args": list(spec.args),
        "token": token,
        **channel,
    }
    spec_path = spec.run_dir / ".spec.json"
    fd = os.open(spec_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        json.dump(child_spec, f)
    return spec_path


def _start(spec: RunSpec, command: list[str], env: dict, pass_fds: tuple = ()) -> tuple[subprocess.Popen, Path | None]:
    """Start the script's process in a process group of its own (so the whole tree can be
    ended), its output to output.log or, under `run`, to this terminal."""
    output_path = None if spec.stream_output else spec.run_dir / "output.log"
    output = None if output_path is None else open(output_path, "wb")
    try:
        proc = subprocess.Popen(
            command,
            cwd=spec.script.parent,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=output,
            stderr=subprocess.STDOUT if output else None,
            pass_fds=pass_fds,
            start_new_session=True,  # no preexec_fn (unsafe beside threads): the child sets its own limits
        )
    finally:
        if output:
            output.close()
    return proc, output_path


def run_script(spec: RunSpec, on_event=None) -> RunResult:
    _check_interrupt()
    spec.run_dir.mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(prefix="dl-"))
    try:
        if spec.nproc > 1:
            return _run_distributed(spec, scratch, on_event)
        return _run_single(spec, scratch, on_event)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)  # the process tree has been ended by now


def _run_single(spec: RunSpec, scratch: Path, on_event=None) -> RunResult:
    token = secrets.token_hex(16)
    read_fd, write_fd = os.pipe()
    spec_path = _write_spec(spec, token, {"channel_fd": write_fd})
    started = time.monotonic()
    try:
        proc, output_path = _start(spec, [sys.executable, "-m", "debuglab.harness.child", str(spec_path)], _child_env(spec, scratch), (write_fd,))
    finally:
        os.close(write_fd)
    reader = ChannelReader(read_fd, token, on_event)
    reader.start()
    timed_out = False
    try:
        _wait(proc, spec.time_limit_s)
    except subprocess.TimeoutExpired:
        timed_out = True
    except KeyboardInterrupt:  # Ctrl-C here, or interrupt() from the main thread
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


RANK_GRACE_S = 10.0  # once one rank has ended, how long the others get before the job is ended


def _run_distributed(spec: RunSpec, scratch: Path, on_event=None) -> RunResult:
    """The script under torchrun, every rank under the probes. torchrun's workers do not inherit
    our pipe, so each rank writes to a named pipe of its own in the run folder. torchrun starts
    each worker in a session of its own: the ranks' process groups are ended one by one."""
    token = secrets.token_hex(16)
    readers, keepers = [], []
    for r in range(spec.nproc):
        path = spec.run_dir / f".channel-{r}"
        os.mkfifo(path, 0o600)
        read_fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
        os.set_blocking(read_fd, True)
        keepers.append(os.open(path, os.O_WRONLY))  # no EOF before the rank has even opened it
        readers.append(ChannelReader(read_fd, token, on_event if r == 0 else None))
    spec_path = _write_spec(spec, token, {"channel_path": str(spec.run_dir / ".channel-{rank}")})
    command = [
        sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc-per-node={spec.nproc}",
        "--monitor-interval=0.5", "-m", "debuglab.harness.child", str(spec_path),
    ]
    started = time.monotonic()
    env = _child_env(spec, scratch)
    env["TORCHELASTIC_ERROR_FILE"] = str(spec.run_dir / "torchrun-error.json")
    proc, output_path = _start(spec, command, env)
    for reader in readers:
        reader.start()

    def rank_groups() -> list[int]:
        pids = []
        for reader in readers:
            hello = next((e for e in reader.events if e.get("kind") == "hello"), None)
            if hello:
                pids.append(hello["pid"])
        return pids

    def end_all() -> None:
        for pid in rank_groups():
            kill_tree(pid)
        kill_tree(proc.pid)

    timed_out = False
    first_end = None
    try:
        while proc.poll() is None:
            _check_interrupt()
            now = time.monotonic()
            if now - started > spec.time_limit_s:
                timed_out = True
                break
            ended = [any(e.get("kind") == "end" for e in reader.events) for reader in readers]
            if any(ended):
                first_end = first_end or now
                if all(ended) or now - first_end > RANK_GRACE_S:
                    break  # a rank that ended early (an error) leaves its peers waiting in a collective
            time.sleep(0.1)
        if proc.poll() is None:
            proc.wait(timeout=RANK_GRACE_S if not timed_out else 0.1)
    except subprocess.TimeoutExpired:
        pass
    except KeyboardInterrupt:
        end_all()
        proc.wait()
        for keeper in keepers:
            os.close(keeper)
        raise
    finally:
        if proc.poll() is None:
            end_all()
            proc.wait()
    for keeper in keepers:
        os.close(keeper)
    for reader in readers:
        reader.finish(timeout=2.0)
    end_all()
    spec_path.unlink(missing_ok=True)
    return RunResult(
        events=readers[0].events,
        returncode=proc.returncode,
        timed_out=timed_out,
        wall_s=time.monotonic() - started,
        run_dir=spec.run_dir,
        output_path=output_path,
        rejected_lines=sum(reader.rejected for reader in readers),
        ranks=[reader.events for reader in readers],
    )
