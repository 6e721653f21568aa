"""The learner's and the facilitator's experience: progress that survives upgrades, the solution,
pair sessions, watch mode, and terminal output, driven the way people use them (tmux for the
terminal flows: send-keys to type, capture-pane to read the screen)."""

import json
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import ROOT, TEST_CATALOG, cli

CATALOG_ENV = {"DEBUGLAB_DATA": str(TEST_CATALOG)}
FIX = TEST_CATALOG / "fixtures" / "loop-01" / "fix.py"
ANSI_COLOUR = re.compile(r"\x1b\[[0-9;]*[34][0-9;]*m")  # an SGR sequence that sets a colour


def workspace(tmp_path) -> Path:
    return tmp_path / "workspace"


def progress_of(tmp_path) -> dict:
    return json.loads((workspace(tmp_path) / ".debuglab" / "progress.json").read_text())


# -- progress ---------------------------------------------------------------------------------------
def test_a_version_1_progress_file_is_read_and_kept_through_an_upgrade(tmp_path):
    state = workspace(tmp_path) / ".debuglab"
    state.mkdir(parents=True)
    v1 = {"version": 1, "labs": {"loop-01": {"attempts": 3, "hints": 2, "first_pass": "2026-01-02T10:00:00+0000", "last_status": "pass"}}}
    (state / "progress.json").write_text(json.dumps(v1))
    shown = json.loads(cli("progress", "--json", env=CATALOG_ENV).stdout)
    assert shown["families"]["loop"] == {"labs": 1, "passed": 1, "active_s": 0.0, "hints": 2, "attempts": 3}
    assert cli("hint", "loop-01", env=CATALOG_ENV).returncode == 0
    upgraded = progress_of(tmp_path)
    assert upgraded["version"] == 2
    assert upgraded["labs"]["loop-01"]["attempts"] == 3 and upgraded["labs"]["loop-01"]["first_pass"] == v1["labs"]["loop-01"]["first_pass"]
    assert upgraded["labs"]["loop-01"]["hints"] == 3 and upgraded["events"][-1]["kind"] == "hint"


def test_a_progress_file_from_a_newer_debuglab_is_one_line_naming_it(tmp_path):
    state = workspace(tmp_path) / ".debuglab"
    state.mkdir(parents=True)
    (state / "progress.json").write_text(json.dumps({"version": 99, "labs": {}}))
    result = cli("progress", env=CATALOG_ENV)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert "progress.json" in result.stderr and "upgrade debuglab" in result.stderr


def test_a_changed_pristine_lab_is_flagged_and_the_learners_copy_kept(tmp_path):
    assert cli("hint", "loop-01", env=CATALOG_ENV).returncode == 0  # no copy yet
    assert cli("diff", "loop-01", env=CATALOG_ENV).returncode == 2
    ws = workspace(tmp_path)
    copy = ws / "loop-01" / "train.py"
    copy.parent.mkdir(parents=True)
    shutil.copyfile(TEST_CATALOG / "labs" / "loop-01" / "train.py", copy)
    copy.write_text(copy.read_text() + "\n# my notes\n")
    data = progress_of(tmp_path)
    data["labs"]["loop-01"]["pristine_sha256"] = "0" * 64  # copied from an older version of the lab
    (ws / ".debuglab" / "progress.json").write_text(json.dumps(data))
    listed = cli("list", env=CATALOG_ENV).stdout
    assert "pristine lab changed" in listed
    assert json.loads(cli("progress", "--json", env=CATALOG_ENV).stdout)["labs"][0]["pristine_changed"] is True
    assert copy.read_text().endswith("# my notes\n")


def test_time_spent_counts_gaps_between_actions_capped_when_idle(tmp_path):
    from debuglab.workspace import IDLE_GAP_S, Workspace, record_event

    ws = Workspace(workspace(tmp_path))
    with ws.progress() as p:
        record_event(p, "loop-01", "run", now=1000.0)
        record_event(p, "loop-01", "verify", "fail", now=1000.0 + 120)
        record_event(p, "loop-01", "verify", "pass", now=1000.0 + 120 + 5 * 3600)  # back after lunch
    assert ws.load_progress()["labs"]["loop-01"]["active_s"] == 120 + IDLE_GAP_S


def test_concurrent_writers_lose_no_update(tmp_path):
    """The watcher, the session clock and a hint in another pane write progress.json at once."""
    code = (
        "import sys; from debuglab.workspace import Workspace, record_event\n"
        "ws = Workspace.find()\n"
        "for _ in range(40):\n"
        "    with ws.progress() as p:\n"
        "        record_event(p, sys.argv[1], 'hint')\n"
    )
    env = {**__import__("os").environ, "DEBUGLAB_WORKSPACE": str(workspace(tmp_path))}
    writers = [subprocess.Popen([sys.executable, "-c", code, lab], env=env) for lab in ("loop-01", "grad-01", "leak-01")]
    assert [w.wait(timeout=120) for w in writers] == [0, 0, 0]
    events = progress_of(tmp_path)["events"]
    assert len(events) == 120 and {e["lab"] for e in events} == {"loop-01", "grad-01", "leak-01"}


# -- solution ---------------------------------------------------------------------------------------
def test_the_solution_waits_for_a_pass_unless_forced_and_force_is_recorded(tmp_path):
    refused = cli("solution", "loop-01", env=CATALOG_ENV)
    assert refused.returncode == 2 and "--force" in refused.stderr and "Traceback" not in refused.stderr
    shown = cli("solution", "loop-01", "--force", env=CATALOG_ENV)
    assert shown.returncode == 0, shown.stderr
    assert "+    optimizer.zero_grad()" in shown.stdout  # the reference fix, as a diff
    assert "## Root cause" in shown.stdout and "## Why this fix" in shown.stdout
    assert not ANSI_COLOUR.search(shown.stdout)  # a pipe gets plain text
    entry = progress_of(tmp_path)["labs"]["loop-01"]
    assert entry["solution_viewed"] and entry["solution_before_pass"] is True


# -- pair sessions ----------------------------------------------------------------------------------
def test_roles_swap_on_the_clock_and_on_demand_and_verifies_go_to_the_driver(tmp_path):
    from debuglab import session
    from debuglab.workspace import Workspace, record_event

    ws = Workspace(workspace(tmp_path))
    t0 = 10_000.0
    started = session.start(ws, ["Ada", "Linus"], minutes=60, swap_minutes=10, now=t0)
    assert session.roles(started, t0 + 60) == ("Ada", "Linus")
    assert session.roles(started, t0 + 601) == ("Linus", "Ada")
    with pytest.raises(Exception, match="under way"):
        session.start(ws, ["Grace", "Alan"], minutes=60, swap_minutes=10, now=t0 + 5)
    with ws.progress() as p:
        record_event(p, "loop-01", "verify", "fail", now=t0 + 300)  # Ada drives
    swapped = session.swap(ws, now=t0 + 400)
    assert session.roles(swapped, t0 + 401) == ("Linus", "Ada")
    with ws.progress() as p:
        record_event(p, "loop-01", "verify", "pass", now=t0 + 500)  # Linus, after the manual swap
        record_event(p, "loop-01", "hint", now=t0 + 700)  # Ada: the clock swapped at 10 minutes, no clock pane running
    ended = session.stop(ws, now=t0 + 1000)  # one swap on the clock, at 10 minutes
    assert [(s["driver"], s["manual"]) for s in ended["swaps"]] == [("Linus", True), ("Ada", False)]
    drivers = [(e["driver"], e["status"]) for e in ws.load_progress()["events"] if e["kind"] == "verify"]
    assert drivers == [("Ada", "fail"), ("Linus", "pass")]
    assert [e["driver"] for e in ws.load_progress()["events"] if e["kind"] == "hint"] == ["Ada"]
    text = session.summary(ws, ended)
    assert "passed during the session: loop-01" in text and "Linus: drove 1 verify runs" in text


def test_a_pair_needs_two_different_names():
    result = cli("session", "start", "--pair", "Ada", "--detach", env=CATALOG_ENV)
    assert result.returncode == 2 and "two or more different names" in result.stderr and "Traceback" not in result.stderr


# -- watch: file events and the polling fallback -----------------------------------------------------
@pytest.mark.parametrize("events", [True, False], ids=["file-events", "polling"])
def test_the_watcher_sees_a_save(tmp_path, events):
    from debuglab.watch import FileWatcher

    path = tmp_path / "train.py"
    path.write_text("a = 1\n")
    watcher = FileWatcher(path, interval=0.2, events=events)
    try:
        assert watcher.mode == ("file events" if events else "polling")
        time.sleep(0.3)
        path.write_text("a = 2\n")
        assert watcher.changes.get(timeout=5) == ("event" if events else "poll")
        assert not watcher.fell_back
    finally:
        watcher.stop()


def test_the_watcher_falls_back_to_polling_when_file_events_do_not_arrive(tmp_path):
    from debuglab.watch import FileWatcher

    path = tmp_path / "train.py"
    path.write_text("a = 1\n")
    watcher = FileWatcher(path, interval=0.2, events=True)
    try:
        assert watcher.mode == "file events"
        watcher._observer.stop()  # as on a network drive: the folder never reports a change
        watcher._observer.join()
        path.write_text("a = 2\n")
        assert watcher.changes.get(timeout=5) == "poll"
        assert watcher.fell_back and watcher.mode == "polling"
    finally:
        watcher.stop()


# -- the terminal flows, in tmux ---------------------------------------------------------------------
class Tmux:
    """One program in a tmux pane on a private server: type with send(), read the screen with screen()."""

    def __init__(self, tmp_path: Path, command: str, env: dict, width: int = 200, height: int = 60):
        if shutil.which("tmux") is None:
            pytest.fail("tmux is not installed: 'make test' installs it (apt-get install -y tmux)")
        self.socket = str(tmp_path / "tmux.sock")
        exports = " ".join(f"{k}={_quote(v)}" for k, v in env.items())
        shell = f"cd {_quote(str(tmp_path))} && env {exports} {command}; echo PROGRAM-EXITED $?; sleep 600"
        self._tmux("new-session", "-d", "-s", "t", "-x", str(width), "-y", str(height), shell)

    def _tmux(self, *args: str) -> str:
        return subprocess.run(["tmux", "-S", self.socket, *args], capture_output=True, text=True, check=True).stdout

    def screen(self, escapes: bool = False) -> str:
        return self._tmux("capture-pane", "-p", "-J", *(["-e"] if escapes else []), "-S", "-400", "-t", "t")

    def send(self, *keys: str) -> None:
        self._tmux("send-keys", "-t", "t", *keys)

    def wait_for(self, text: str, timeout: float = 120) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            screen = self.screen()
            if text in screen:
                return screen
            time.sleep(0.3)
        raise AssertionError(f"{text!r} never appeared on the screen:\n{self.screen()}")

    def close(self) -> None:
        subprocess.run(["tmux", "-S", self.socket, "kill-server"], capture_output=True)


def _quote(text: str) -> str:
    return "'" + text.replace("'", "'\\''") + "'"


def _env(tmp_path, **extra) -> dict:
    env = {"DEBUGLAB_WORKSPACE": str(workspace(tmp_path)), "DEBUGLAB_CACHE": str(tmp_path / "cache"), **CATALOG_ENV, "TERM": "xterm-256color"}
    env["PYTHONPATH"] = str(ROOT / "checker")
    return {**env, **extra}


def test_watch_verifies_on_save_and_offers_the_next_lab(tmp_path):
    """On the real catalog: grad-01 fails, the learner saves the reference fix, it passes, and
    watch offers the next lab in the recommended order."""
    from debuglab import catalog

    env = {k: v for k, v in _env(tmp_path).items() if k != "DEBUGLAB_DATA"}
    copy = workspace(tmp_path) / "grad-01" / "train.py"
    # The first lab of the recommended order other than grad-01: nothing else is passed yet.
    following = next(lab.id for lab in catalog.recommended_order(catalog.all_labs()) if lab.id != "grad-01")
    pane = Tmux(tmp_path, f"{sys.executable} -m debuglab watch grad-01", env)
    try:
        screen = pane.wait_for("waiting for your next save", timeout=180)
        assert "FAIL grad-01" in screen and "gradient_flow" in screen and "(file events)" in screen
        pane.send("h")
        pane.wait_for("hint 1/3: ")
        shutil.copyfile(catalog.load("grad-01").fix_path, copy)  # the learner saves the fix
        screen = pane.wait_for("Press n to start it", timeout=180)
        assert "PASS grad-01" in screen and f"Next in the recommended order: {following}" in screen
        pane.send("n")
        pane.wait_for(f"watching {following}", timeout=30)
        pane.wait_for("waiting for your next save", timeout=180)
        pane.send("q")
        pane.wait_for("PROGRAM-EXITED 0")
    finally:
        pane.close()
    data = progress_of(tmp_path)
    kinds = [(e["lab"], e["kind"], e.get("status")) for e in data["events"]]
    assert kinds == [
        ("grad-01", "verify", "fail"), ("grad-01", "hint", None), ("grad-01", "edit", None),
        ("grad-01", "verify", "pass"), (following, "verify", "error" if catalog.load(following).expect_broken == catalog.CRASH else "fail"),
    ]
    assert data["labs"]["grad-01"]["first_pass"] and data["labs"]["grad-01"]["hints_to_pass"] == 1


def test_watch_in_manual_mode_runs_only_on_a_key(tmp_path):
    copy = workspace(tmp_path) / "loop-01" / "train.py"
    pane = Tmux(tmp_path, f"{sys.executable} -m debuglab watch loop-01 --manual", _env(tmp_path))
    try:
        pane.wait_for("press r when you have a fix")
        shutil.copyfile(FIX, copy)
        time.sleep(3)
        assert "PASS loop-01" not in pane.screen()  # a save alone does nothing
        pane.send("r")
        pane.wait_for("PASS loop-01", timeout=180)
        pane.send("q")
        pane.wait_for("PROGRAM-EXITED 0")
    finally:
        pane.close()


def test_the_session_clock_shows_who_drives_and_rings_at_each_swap(tmp_path):
    command = f"{sys.executable} -m debuglab session start --pair 'Ada,Linus' --minutes 0.2 --swap 0.05"
    pane = Tmux(tmp_path, command, _env(tmp_path))
    try:
        pane.wait_for("Ada drives, Linus navigates")
        pane.wait_for("driver Ada, navigator Linus")
        pane.wait_for("SWAP: Linus drives now, Ada navigates", timeout=20)
        screen = pane.wait_for("PROGRAM-EXITED 0", timeout=30)
        assert "SWAP: Ada drives now, Linus navigates" in screen and "pair session 1: Ada & Linus" in screen
    finally:
        pane.close()
    recorded = progress_of(tmp_path)["sessions"][0]
    assert recorded["ended"] and [s["driver"] for s in recorded["swaps"]] == ["Linus", "Ada", "Linus"]


@pytest.mark.parametrize("no_color", [False, True], ids=["colour", "NO_COLOR"])
def test_a_terminal_gets_colour_unless_no_color_is_set(tmp_path, no_color):
    extra = {"NO_COLOR": "1"} if no_color else {}
    pane = Tmux(tmp_path, f"{sys.executable} -m debuglab solution loop-01 --force", _env(tmp_path, **extra))
    try:
        pane.wait_for("PROGRAM-EXITED 0")
        coloured = bool(ANSI_COLOUR.search(pane.screen(escapes=True)))
    finally:
        pane.close()
    assert coloured is not no_color
