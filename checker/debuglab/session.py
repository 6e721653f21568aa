"""Pair sessions: two (or more) people at one keyboard, driver and navigator swapping on a clock.

A session lives in the workspace's progress file, so every run, verify and hint made while it is
under way is attributed to it and to the driver of the moment. Who drives is a function of the
clock (one swap every `swap_minutes`) plus the manual swaps, so a clock pane, `session status`
and the verify being recorded agree without talking to each other.
"""

from __future__ import annotations

import time

from debuglab.errors import DebuglabError
from debuglab.clock import active_session, clock, driver_index, iso, next_swap_in, roles  # noqa: F401  (roles: the CLI's)
from debuglab.workspace import Workspace

DEFAULT_MINUTES = 60
DEFAULT_SWAP_MINUTES = 10


def parse_pair(text: str) -> list[str]:
    names = [name.strip() for name in text.split(",") if name.strip()]
    if len(names) < 2 or len(set(names)) != len(names):
        raise DebuglabError(f"--pair {text!r}: expected two or more different names separated by commas, e.g. --pair \"Ada,Linus\"")
    return names


def clock_line(session: dict, now: float | None = None) -> str:
    """One line for any screen: elapsed of planned, who drives, when the next swap is."""
    now = time.time() if now is None else now
    driver, navigator = roles(session, now)
    elapsed = clock(now - session["started_ts"])
    planned = f" of {clock(60 * session['minutes'])}" if session.get("minutes") else ""
    return (
        f"pair session {session['id']}  {elapsed}{planned}  driver {driver}, navigator {navigator}  "
        f"swap in {clock(next_swap_in(session, now))}"
    )


def start(workspace: Workspace, pair: list[str], minutes: float | None, swap_minutes: float, now: float | None = None) -> dict:
    now = time.time() if now is None else now
    if swap_minutes <= 0:
        raise DebuglabError(f"--swap {swap_minutes:g}: expected minutes between swaps above 0")
    if minutes is not None and minutes <= 0:
        raise DebuglabError(f"--minutes {minutes:g}: expected the session's length in minutes above 0")
    with workspace.progress() as progress:
        under_way = active_session(progress.data, now)
        if under_way is not None:
            raise DebuglabError(
                f"pair session {under_way['id']} ({' & '.join(under_way['pair'])}) is under way since {under_way['started']}: "
                f"'debuglab session stop' ends it"
            )
        sessions = progress.data["sessions"]
        session = {
            "id": max((s["id"] for s in sessions), default=0) + 1,
            "pair": pair,
            "started": iso(now),
            "started_ts": round(now, 3),
            "minutes": minutes,
            "swap_minutes": swap_minutes,
            "swaps": [],
            "ended": None,
            "ended_ts": None,
            "labs": [],
        }
        sessions.append(session)
    return session


def swap(workspace: Workspace, now: float | None = None) -> dict:
    """A swap now, off the clock: the navigator drives."""
    now = time.time() if now is None else now
    with workspace.progress() as progress:
        session = _under_way(progress.data, now)
        _note_scheduled_swaps(session, now)
        session["swaps"].append({"t": iso(now), "ts": now, "manual": True})  # unrounded: it counts from `now` on
        session["swaps"][-1]["driver"] = roles(session, now)[0]
    return session


def stop(workspace: Workspace, now: float | None = None) -> dict:
    now = time.time() if now is None else now
    with workspace.progress() as progress:
        session = _under_way(progress.data, now, include_overrun=True)
        end = min(now, session["started_ts"] + 60 * session["minutes"]) if session.get("minutes") else now
        _note_scheduled_swaps(session, end - 1e-3)  # a swap due at the very end never happens
        session["ended"], session["ended_ts"] = iso(end), round(end, 3)
    return session


def note_swaps(workspace: Workspace, now: float | None = None) -> dict | None:
    """Record the scheduled swaps that have come due (the clock calls this as they happen)."""
    now = time.time() if now is None else now
    session = active_session(workspace.load_progress(), now)
    if session is None or not _swaps_due(session, now):
        return session  # nothing to record: the clock ticks without writing the progress file
    with workspace.progress() as progress:
        session = active_session(progress.data, now)
        if session is not None:
            _note_scheduled_swaps(session, now)
    return session


def _swaps_due(session: dict, now: float) -> bool:
    due, recorded = _clock_swaps(session, now)
    return due > recorded


def _clock_swaps(session: dict, now: float) -> tuple[int, int]:
    """(swaps the clock has made by `now`, swaps of the clock recorded)."""
    due = int(max(now - session["started_ts"], 0) // (60 * session["swap_minutes"]))
    return due, sum(1 for s in session.get("swaps", []) if not s.get("manual"))


def summary(workspace: Workspace, session: dict) -> str:
    """What the pair did: length, swaps, labs worked on and passed during the session."""
    data = workspace.load_progress()
    events = [e for e in data["events"] if e.get("session") == session["id"]]
    passed = sorted({e["lab"] for e in events if e["kind"] == "verify" and e.get("status") == "pass"})
    end = session.get("ended_ts") or time.time()
    lines = [
        f"pair session {session['id']}: {' & '.join(session['pair'])}, {clock(end - session['started_ts'])}, "
        f"{len(session.get('swaps', []))} swaps",
        f"labs worked on: {', '.join(session.get('labs', [])) or 'none'}",
        f"passed during the session: {', '.join(passed) or 'none'}",
    ]
    for name in session["pair"]:
        drove = [e for e in events if e.get("driver") == name]
        verifies = sum(e["kind"] == "verify" for e in drove)
        lines.append(f"  {name}: drove {verifies} verify runs, {sum(e['kind'] == 'hint' for e in drove)} hints")
    return "\n".join(lines)


def run_clock(workspace: Workspace, session: dict, fancy: bool, tick_s: float = 1.0) -> dict:
    """Keep the clock on screen until the planned end (or Ctrl-C, which ends the session): the
    time, who drives, and a banner with the terminal bell at each swap. At a terminal the clock is
    one line redrawn in place (rich Live); in a log, a line a minute."""
    from contextlib import nullcontext

    live = None
    if fancy:
        from rich.live import Live
        from rich.text import Text

        from debuglab.render import console

        live = Live(Text(clock_line(session)), console=console(), auto_refresh=False, transient=False)
    last_driver = roles(session)[0]
    last_plain = 0.0
    try:
        with live if live is not None else nullcontext():
            while True:
                now = time.time()
                current = note_swaps(workspace, now)
                if current is None or current["id"] != session["id"]:
                    break  # planned end reached, or stopped from another terminal
                session = current
                driver, navigator = roles(session, now)
                if driver != last_driver:
                    banner = f"SWAP: {driver} drives now, {navigator} navigates"
                    if live is not None:
                        live.console.bell()
                        live.console.print(Text(banner, style="bold yellow"))
                    else:
                        print(banner, flush=True)
                    last_driver = driver
                if live is not None:
                    live.update(Text(clock_line(session, now)), refresh=True)
                elif now - last_plain >= 60:
                    print(clock_line(session, now), flush=True)
                    last_plain = now
                time.sleep(tick_s)
    except KeyboardInterrupt:
        pass
    finished = _latest(workspace, session["id"])
    if finished.get("ended_ts") is None:
        finished = stop(workspace)
    return finished


def current(workspace: Workspace) -> dict:
    """The session under way, or a one-line error saying how to start one."""
    return _under_way(workspace.load_progress(), time.time())


def _under_way(progress: dict, now: float, include_overrun: bool = False) -> dict:
    session = active_session(progress, now)
    if session is None and include_overrun:
        # A session past its planned length that nobody stopped: stop records its end.
        open_sessions = [s for s in progress.get("sessions", []) if s.get("ended_ts") is None]
        session = open_sessions[-1] if open_sessions else None
    if session is None:
        raise DebuglabError("no pair session is under way: start one with 'debuglab session start --pair \"NAME,NAME\"'")
    return session


def _note_scheduled_swaps(session: dict, now: float) -> None:
    """Append the clock's swaps up to `now` that are not recorded yet (one per interval)."""
    due, recorded = _clock_swaps(session, now)
    for k in range(recorded + 1, due + 1):
        ts = session["started_ts"] + k * 60 * session["swap_minutes"]
        entry = {"t": iso(ts), "ts": ts, "manual": False}
        session["swaps"].append(entry)
        entry["driver"] = roles(session, ts)[0]
    session["swaps"].sort(key=lambda s: s["ts"])


def _latest(workspace: Workspace, session_id: int) -> dict:
    return next(s for s in workspace.load_progress()["sessions"] if s["id"] == session_id)
