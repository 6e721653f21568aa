"""Watch mode: verify on save, show the verdict live, offer the next lab on a pass.

File events come from watchdog (inotify, FSEvents, ReadDirectoryChangesW). Some file systems
never deliver them (network drives, folders shared into a VM), so the file is also checked by
stat every interval; when the check sees a save that no event announced, watch says so and goes
on polling alone. --poll polls from the start; --manual re-runs only on a key.
"""

from __future__ import annotations

import hashlib
import os
import queue
import sys
import threading
import time
from pathlib import Path

from debuglab.errors import DebuglabError

KEYS_HELP = "r re-run   h hint   q quit"


def digest(path: Path) -> str | None:
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()
    except OSError:
        return None


SAVE_EVENTS = ("modified", "created", "closed")  # "closed": closed after a write


def announces_save(event, name: str) -> bool:
    """Whether a file-system event says the watched file was saved: a write to it, or another
    file moved onto it (editors' atomic saves). Opening or reading it (verify does both), closing
    it unchanged, attribute changes and deletions are not saves."""
    if getattr(event, "is_directory", False):
        return False

    def named(path) -> bool:
        return bool(path) and Path(os.fsdecode(path)).name == name

    if event.event_type in SAVE_EVENTS:
        return named(event.src_path)
    if event.event_type == "moved":
        return named(getattr(event, "dest_path", ""))
    return False


class FileWatcher:
    """Tells when a file's content changed. Two sources feed one queue: file-system events (when
    `events` and watchdog are available) and a stat check every `interval` seconds. A change the
    stat check finds first, with events on, means events do not arrive here: `fell_back` is set
    and the events are not waited for again."""

    def __init__(self, path: Path, interval: float = 1.0, events: bool = True):
        self.path = Path(path)
        self.interval = interval
        self.changes: queue.Queue = queue.Queue()
        self.fell_back = False
        self.mode = "polling"
        self._signature = self._stat()
        self._observer = None
        self._stop = threading.Event()
        self._event_seen = threading.Event()
        if events:
            self._start_events()
        self._poller = threading.Thread(target=self._poll, name="debuglab-watch-poll", daemon=True)
        self._poller.start()

    def _stat(self):
        try:
            st = self.path.stat()
        except OSError:
            return None
        return (st.st_mtime_ns, st.st_size)

    def _start_events(self) -> None:
        try:
            from watchdog.events import FileSystemEventHandler
            from watchdog.observers import Observer
        except ImportError:
            return
        watcher = self

        class Handler(FileSystemEventHandler):
            def on_any_event(self, event):
                if announces_save(event, watcher.path.name):
                    watcher._event_seen.set()
                    watcher.changes.put("event")

        try:
            observer = Observer()
            observer.schedule(Handler(), str(self.path.parent), recursive=False)
            observer.daemon = True
            observer.start()
        except OSError:  # inotify watches exhausted, or the folder is on a file system without events
            return
        self._observer = observer
        self.mode = "file events"

    def _poll(self) -> None:
        while not self._stop.wait(self.interval):
            signature = self._stat()
            if signature == self._signature:
                continue
            self._signature = signature
            if self._observer is not None and not self.fell_back:
                # Give the event a moment to arrive: editors write, then rename, then touch.
                if self._event_seen.wait(self.interval):
                    self._event_seen.clear()
                    continue
                self.fell_back = True
                self.mode = "polling"
            self.changes.put("poll")

    def stop(self) -> None:
        self._stop.set()
        if self._observer is not None:
            self._observer.stop()


class Keys:
    """Single key presses from a terminal (no Enter needed), or lines from a pipe. The terminal is
    put back as it was on exit."""

    def __init__(self, stream=None):
        self.stream = stream or sys.stdin
        self.pressed: queue.Queue = queue.Queue()
        self._saved = None
        try:
            self.is_tty = self.stream.isatty()
        except (AttributeError, ValueError):
            self.is_tty = False

    def __enter__(self) -> "Keys":
        if self.is_tty:
            import termios
            import tty

            fd = self.stream.fileno()
            self._saved = termios.tcgetattr(fd)
            tty.setcbreak(fd)
        threading.Thread(target=self._read, name="debuglab-keys", daemon=True).start()
        return self

    def _read(self) -> None:
        while True:
            try:
                text = os.read(self.stream.fileno(), 1).decode(errors="ignore") if self.is_tty else self.stream.readline()
            except (OSError, ValueError):
                return
            if not text:
                return  # end of input: no more keys, watching goes on
            for key in text.strip().lower()[:1] or "\n":
                self.pressed.put(key)

    def __exit__(self, *exc) -> None:
        if self._saved is not None:
            import termios

            termios.tcsetattr(self.stream.fileno(), termios.TCSADRAIN, self._saved)


def wait_for(watcher: FileWatcher | None, keys: Keys, tick: float = 0.1) -> str:
    """The next thing to act on: 'change' (a save), or a key."""
    while True:
        try:
            key = keys.pressed.get_nowait()
            return "r" if key == "\n" else key
        except queue.Empty:
            pass
        if watcher is not None:
            try:
                watcher.changes.get(timeout=tick)
                while not watcher.changes.empty():  # a burst of events is one save
                    watcher.changes.get_nowait()
                return "change"
            except queue.Empty:
                continue
        time.sleep(tick)


def watch(lab, workspace, profile, device: str, poll: bool = False, manual: bool = False, interval: float = 1.0, echo=print) -> None:
    """Watch one lab after another until q (or Ctrl-C)."""
    with Keys() as keys:
        while lab is not None:
            lab = _watch_lab(lab, workspace, profile, device, keys, poll, manual, interval, echo)


def _watch_lab(lab, workspace, profile, device, keys: Keys, poll: bool, manual: bool, interval: float, echo):
    from debuglab import catalog, render
    from debuglab import verify as verifier
    from debuglab.workspace import active_session, record_event, record_verify, take_hint

    fancy = render.fancy()
    script, created = workspace.ensure_copy(lab)
    watcher = None if manual else FileWatcher(script, interval=interval, events=not poll)
    state = {"passed_next": None, "verified": None, "fell_back_told": False}

    def header() -> None:
        if fancy:
            render.console().clear()
        echo(f"watching {lab.id}: {lab.title}")
        echo(lab.summary)
        how = "press r to verify" if watcher is None else f"saving it re-verifies ({watcher.mode})"
        echo(f"edit {script}; {how}")
        session = active_session(workspace.load_progress())
        if session is not None:
            from debuglab.session import clock_line

            echo(clock_line(session))
        echo("")

    def verify_now() -> None:
        header()
        state["verified"] = digest(script)
        try:
            with render.run_progress() as progress:
                v = verifier.verify(lab, script, profile, device, workspace.runs_dir(lab.id), progress=progress)
        except RuntimeError as exc:  # the lab's own reference failed on this machine
            echo(f"debuglab: error: {exc}")
            return
        workspace.prune_runs(lab.id)
        if v.status != "checker_error":  # debuglab's own failure is no attempt of the learner's
            record_verify(workspace, lab.id, v.status, v.artifacts.get("series"))
        render.verdict(v, str(script))
        state["passed_next"] = None
        if v.status == "pass":
            upcoming = workspace.next_lab(catalog.recommended_order(catalog.all_labs()), workspace.load_progress(), skip=lab.id)
            if upcoming is not None:
                state["passed_next"] = upcoming
                echo(f"\nPASS. Next in the recommended order: {upcoming.id} ({upcoming.title}). Press n to start it, q to quit.")
            else:
                echo("\nPASS. That was the last lab you had left: every lab is passed. Press q to quit.")
        else:
            echo(f"\n{'waiting for your next save' if watcher is not None else 'press r when you have a fix'}    keys: {KEYS_HELP}")

    if created:
        echo(f"copied {lab.id} to {script.parent}")
    verify_now()
    try:
        while True:
            action = wait_for(watcher, keys)
            if watcher is not None and watcher.fell_back and not state["fell_back_told"]:
                state["fell_back_told"] = True
                echo(f"file events do not arrive from {script.parent} (a network drive or a VM share?): polling every {interval:g}s")
            if action == "change":
                if digest(script) == state["verified"]:
                    continue  # saved without a change
                with workspace.progress() as progress:
                    record_event(progress, lab.id, "edit")
                verify_now()
            elif action == "r":
                verify_now()
            elif action == "h":
                from debuglab.interview import refuse_if_locked

                try:
                    refuse_if_locked(workspace)  # an interview round locks every lab's hints, here too
                    lines = take_hint(workspace, lab)
                except DebuglabError as exc:
                    lines = [f"debuglab: {exc}"]
                for line in lines:
                    echo(line)
            elif action == "n" and state["passed_next"] is not None:
                return state["passed_next"]
            elif action == "q":
                return None
    finally:
        if watcher is not None:
            watcher.stop()
