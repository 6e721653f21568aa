"""The private channel from the child to the checker: JSON lines on an inherited pipe.

Never stdout: the script's output belongs to the learner. Each line starts with a per-run token
the parent generated, so a line that something else writes to the pipe is not taken as an event.
"""

from __future__ import annotations

import json
import os
import select
import threading


class ChannelWriter:
    def __init__(self, fd: int, token: str):
        self._fd, self._token = fd, token

    def send(self, kind: str, **payload) -> None:
        line = self._token + json.dumps({"kind": kind, **payload}, default=_jsonable, allow_nan=True) + "\n"
        data = line.encode()
        while data:
            written = os.write(self._fd, data)
            data = data[written:]


def _jsonable(value):
    if hasattr(value, "item"):
        return value.item()
    return str(value)


class ChannelReader(threading.Thread):
    """Collects events in a background thread; stops at EOF or when asked (a grandchild the
    script left behind may hold the pipe open forever, and verify must still return)."""

    def __init__(self, fd: int, token: str, on_event=None):
        super().__init__(daemon=True)
        self._fd, self._token, self._on_event = fd, token, on_event
        self._stopping = threading.Event()
        self.events: list[dict] = []
        self.rejected = 0

    def run(self) -> None:
        buffer = b""
        while not self._stopping.is_set():
            ready, _, _ = select.select([self._fd], [], [], 0.05)
            if not ready:
                continue
            chunk = os.read(self._fd, 1 << 16)
            if not chunk:
                break
            buffer += chunk
            *lines, buffer = buffer.split(b"\n")
            for line in lines:
                self._take(line.decode(errors="replace"))
                if self._stopping.is_set():
                    break
        os.close(self._fd)

    def _take(self, line: str) -> None:
        if not line.startswith(self._token):
            self.rejected += 1
            return
        try:
            event = json.loads(line[len(self._token):])
        except json.JSONDecodeError:
            self.rejected += 1
            return
        self.events.append(event)
        if self._on_event is not None:
            self._on_event(event)
        if event.get("kind") == "end":
            self._stopping.set()  # the child's last word: don't wait for EOF that workers may delay

    def finish(self, timeout: float) -> None:
        self.join(timeout)
        self._stopping.set()
        self.join(1.0)
