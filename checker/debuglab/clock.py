"""Time as debuglab shows and records it, and who drives in a pair session: small functions of
the progress records that the workspace, the sessions, the CLI and the report all use."""

from __future__ import annotations

import time


def iso(ts: float | None = None) -> str:
    """A moment as the progress file and the reports write it: local time with its offset."""
    return time.strftime("%Y-%m-%dT%H:%M:%S%z", time.localtime(ts))


def duration(seconds: float | None) -> str:
    """12s, 4m 05s, 1h 02m: time spent as people read it."""
    if seconds is None:
        return "-"
    seconds = int(round(seconds))
    if seconds < 60:
        return f"{seconds}s"
    if seconds < 3600:
        return f"{seconds // 60}m {seconds % 60:02d}s"
    return f"{seconds // 3600}h {seconds % 3600 // 60:02d}m"


def clock(seconds: float) -> str:
    """01:05, 1:02:03: a running clock, as the session pane shows it."""
    seconds = int(max(seconds, 0))
    return f"{seconds // 3600}:{seconds % 3600 // 60:02d}:{seconds % 60:02d}" if seconds >= 3600 else f"{seconds // 60:02d}:{seconds % 60:02d}"


def active_session(progress: dict, now: float | None = None) -> dict | None:
    """The pair session under way: started, not stopped, and not past its planned length."""
    now = time.time() if now is None else now
    for session in reversed(progress.get("sessions", [])):
        if session.get("ended_ts") is None:
            minutes = session.get("minutes")
            if minutes is None or now < session["started_ts"] + 60 * minutes:
                return session
    return None


def driver_index(session: dict, now: float) -> int:
    interval = 60 * session["swap_minutes"]
    scheduled = int(max(now - session["started_ts"], 0) // interval) if interval > 0 else 0
    manual = sum(1 for swap in session.get("swaps", []) if swap.get("manual") and swap["ts"] <= now)
    return (scheduled + manual) % len(session["pair"])


def roles(session: dict, now: float | None = None) -> tuple[str, str]:
    """(driver, navigator) at a moment."""
    now = time.time() if now is None else now
    pair = session["pair"]
    i = driver_index(session, now)
    return pair[i], pair[(i + 1) % len(pair)]


def next_swap_in(session: dict, now: float) -> float:
    interval = 60 * session["swap_minutes"]
    return interval - (max(now - session["started_ts"], 0) % interval)
