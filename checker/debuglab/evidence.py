"""What a run left behind, as the parent sees it: steps, probe summaries, and how it ended."""

from __future__ import annotations

import re
import signal
from dataclasses import dataclass, field
from functools import cached_property

from debuglab.harness.runner import RunResult


@dataclass
class Evidence:
    result: RunResult
    script: str
    warmup_steps: int
    peers: list = field(default_factory=list)  # every rank's Evidence, this one first, in a distributed run
    heap_points: list = field(default_factory=list)  # (step, heap bytes) after warm-up, set by the memory probe

    @cached_property
    def steps(self) -> list[dict]:
        return self.result.steps()

    @cached_property
    def steps_after_warmup(self) -> list[dict]:
        return [r for r in self.steps if r["i"] > self.warmup_steps]

    @property
    def steps_done(self) -> int:
        summary = self.result.first("summary")
        return summary["steps"] if summary else len(self.steps)

    def summary(self, probe: str) -> dict:
        event = self.result.first("summary")
        return (event or {}).get("probes", {}).get(probe) or {}

    @property
    def ending(self) -> dict:
        return self.result.first("end") or {}

    @property
    def stop(self) -> dict | None:
        return self.ending if self.ending.get("how") == "stopped" else None

    @property
    def tampered(self) -> list[str]:
        return (self.result.first("summary") or {}).get("tampered", [])

    def failure(self) -> tuple[str, int | None] | None:
        """Why the script itself did not run to its end (status error), or None. In a
        distributed run, any rank's: an error a rank raised before the peers it left waiting."""
        if len(self.peers) > 1:
            failures = [(r, peer, peer.own_failure()) for r, peer in enumerate(self.peers)]
            failures = [f for f in failures if f[2] is not None]
            if not failures:
                return None
            # The first rank to raise is the cause; its peers then fail in a collective.
            r, _, (message, line) = min(failures, key=lambda f: (f[1].ending.get("how") != "error", f[1].ending.get("at", 0)))
            return f"rank {r}: {message}", line
        return self.own_failure()

    def own_failure(self) -> tuple[str, int | None] | None:
        if self.result.timed_out:
            return "the script did not finish within the time limit and was stopped", None
        checker_error = self.result.first("checker_error")
        if checker_error:
            return f"debuglab failed inside the run (please report): {checker_error['message']}", None
        ending = self.ending
        if ending.get("how") == "error":
            message = ending.get("message", "")
            kind = ending.get("type", "error")
            if kind == "MemoryError" or "can't allocate memory" in message or "out of memory" in message.lower():
                return f"the script ran out of memory ({kind}: {message})", ending.get("line")
            return f"the script raised {kind}: {message}", ending.get("line")
        if not ending:
            code = self.result.returncode
            if code is not None and code < 0:
                name = signal.Signals(-code).name
                why = {"SIGSEGV": "a segmentation fault", "SIGKILL": "killed, most likely out of memory", "SIGABRT": "aborted"}
                return f"the script crashed ({why.get(name, name)})", self._fault_line()
            if code not in (0, None):
                return f"the script's process exited with status {code} before it finished", None
            return "the script's process exited before it finished (os._exit or a crash in native code)", None
        return None

    def _fault_line(self) -> int | None:
        path = self.result.run_dir / "fault.log"
        try:
            text = path.read_text(errors="replace")
        except OSError:
            return None
        found = re.findall(r'File "([^"]+)", line (\d+)', text)
        lines = [int(n) for f, n in found if f == self.script]
        return lines[0] if lines else None  # faulthandler lists the innermost frame first
