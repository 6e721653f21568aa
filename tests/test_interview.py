"""Interview mode: a whole round through the real command line, what the candidate sees (and never
sees), refusals that record nothing, the clock, practice mode, and the static read behind the
scorecard's rubric."""

import ast
import json
import os
import re
import shutil
import subprocess
import sys
import time
from importlib import resources
from pathlib import Path

import jsonschema
import pytest

from conftest import ROOT, TEST_CATALOG
from debuglab import catalog, interview, interview_static
from test_report import chromium

LAB = "loop-01"
# A realistic incident for the test lab, written the way the catalog's READMEs are: a title line
# naming the lab, and commands naming its id. The round must show it with both gone.
README = """# loop-01: Test lab: gradients add up

**Team:** fraud scoring. **Model:** a small MLP that sorts transactions into 4 classes.

## What we saw
The loss falls for the first steps, then climbs and wobbles; held-out accuracy stalls near 0.8.

Run it with `debuglab run loop-01`.

## What "fixed" means
`debuglab verify loop-01` passes: the loss falls and held-out accuracy is at least 0.8.
"""
NOTE = "the loss climbs after a few steps: maybe updates grow step after step"


def one_line(text: str) -> str:
    lines = [line for line in text.splitlines() if line.strip()]
    assert len(lines) == 1, text
    assert "Traceback" not in text
    return lines[0]


class Round:
    """A workspace, a cache and a copy of the test catalog with a realistic README, and the
    command line run against them as the interviewer and the candidate run it."""

    def __init__(self, root: Path):
        self.root = root
        self.catalog = root / "catalog"
        shutil.copytree(TEST_CATALOG, self.catalog)
        (self.catalog / "labs" / LAB / "README.md").write_text(README)
        self.workspace = root / "workspace"
        self.env = {**os.environ, "DEBUGLAB_WORKSPACE": str(self.workspace), "DEBUGLAB_CACHE": str(root / "cache"), "DEBUGLAB_DATA": str(self.catalog)}

    def debuglab(self, *args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "debuglab", *args], capture_output=True, text=True, env=self.env, cwd=cwd or self.root, timeout=600)

    @property
    def state(self) -> Path:
        return self.workspace / ".debuglab" / "interview" / "rounds.json"

    def files(self) -> dict[str, bytes]:
        """Every file of the workspace, with its bytes: 'nothing recorded' means this is unchanged."""
        if not self.workspace.exists():
            return {}
        return {str(p.relative_to(self.workspace)): p.read_bytes() for p in sorted(self.workspace.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def played(tmp_path_factory) -> tuple[Round, dict[str, subprocess.CompletedProcess]]:
    """One whole round, played once for the tests below: start with a fixed lab, a run, a failing
    verify, a note, a hint unlocked, the reference fix copied in, a passing verify, stop."""
    game = Round(tmp_path_factory.mktemp("interview"))
    lab = TEST_CATALOG / "fixtures" / LAB
    shown = {}
    shown["start"] = game.debuglab("interview", "start", "--lab", LAB, "--candidate", "Ada", "--minutes", "45")
    shown["run"] = game.debuglab("interview", "run")
    shown["verify fails"] = game.debuglab("interview", "verify")
    shown["note"] = game.debuglab("interview", "note", NOTE)
    shown["hint"] = game.debuglab("interview", "hint")
    shutil.copyfile(lab / "fix.py", game.workspace / "round-1" / "train.py")
    shown["verify passes"] = game.debuglab("interview", "verify")
    shown["stop"] = game.debuglab("interview", "stop")
    shown["grade"] = game.debuglab("interview", "grade", "shape awareness", "weak", "guessed at the batch dimension aloud")
    return game, shown


def test_a_whole_round_through_the_cli(played):
    game, shown = played
    codes = {name: result.returncode for name, result in shown.items()}
    assert codes == {"start": 0, "run": 0, "verify fails": 1, "note": 0, "hint": 0, "verify passes": 0, "stop": 0, "grade": 0}, {
        name: result.stderr[-800:] for name, result in shown.items()}
    assert "step 0 | loss" in shown["run"].stdout  # the script's own output
    assert shown["verify fails"].stdout.startswith("FAIL round 1, verify 1") and shown["verify passes"].stdout.startswith("PASS round 1, verify 2")
    assert "held-out accuracy" in shown["verify passes"].stdout and "(target >= 0.8)" in shown["verify passes"].stdout
    assert (game.workspace / "round-1" / "README.md").read_text().startswith("# Round 1: the incident")

    record = json.loads(game.state.read_text())["rounds"][0]
    kinds = [e["kind"] for e in record["events"]]
    assert kinds == ["start", "run", "verify", "note", "hint", "verify", "stop"]
    verifies = [e for e in record["events"] if e["kind"] == "verify"]
    assert [v["verdict"]["status"] for v in verifies] == ["fail", "pass"]
    assert verifies[0]["verdict"]["format"] == "debuglab.verdict/1" and any(c["name"] == "zero_grad" and c["status"] == "fail" for c in verifies[0]["verdict"]["checks"])
    snapshots = game.workspace / ".debuglab" / "interview" / "round-1"
    assert (snapshots / verifies[-1]["snapshot"]).read_text() == (TEST_CATALOG / "fixtures" / LAB / "fix.py").read_text()
    assert (snapshots / verifies[0]["snapshot"]).read_text() == (TEST_CATALOG / "labs" / LAB / "train.py").read_text()
    assert not (game.workspace / LAB).exists(), "the round works on round-1/, never on a copy named after the lab"

    markdown = game.debuglab("interview", "report")
    assert markdown.returncode == 0, markdown.stderr
    text = markdown.stdout
    assert f"`{LAB}`: Test lab: gradients add up" in text  # revealed after the round
    assert "| time to pass |" in text and "| hints unlocked | 1 of 3 |" in text and "| verifies | 2: fail → pass |" in text
    assert "final vs pristine: 1 line changed; the reference fix changes 1 (about what the bug needed); final vs reference fix: 0 lines apart" in text
    assert "+    optimizer.zero_grad()" in text
    assert f"note at 00:" in text and NOTE in text
    rubric = {line.split(" | ")[0].strip("| "): line for line in text.splitlines() if line.startswith("| ") and (" | high | " in line or " | medium | " in line)}
    assert "weak (interviewer, overrules suggested mixed: guessed at the batch dimension aloud)" in rubric["shape awareness"]
    assert "strong (suggested)" in rubric["gradient understanding"]  # the lab's bug was the missing zero_grad, and the fix cures it
    assert "fixed since the pristine script: the training loop calls backward() and step() but never zero_grad()" in text

    document = json.loads(game.debuglab("interview", "report", "--format", "json").stdout)
    schema = json.loads(resources.files("debuglab").joinpath("schemas", "interview.schema.json").read_text())
    jsonschema.validate(document, schema)
    assert document["passed"] and document["time_to_first_run_s"] <= document["time_to_pass_s"]
    assert document["lab"]["id"] == LAB and [v["status"] for v in document["verifies"]] == ["fail", "pass"]
    shapes = next(c for c in document["criteria"] if c["id"] == "shapes")
    assert shapes["suggestion"] == "mixed" and shapes["grade"]["grade"] == "weak" and shapes["final"] == "weak"


def test_the_html_scorecard_replays_the_round_in_a_browser(played, tmp_path):
    game, _ = played
    result = game.debuglab("interview", "report", "--format", "html", cwd=tmp_path)
    page = tmp_path / "debuglab-interview-round-1.html"
    assert result.returncode == 0 and result.stdout.strip() == str(page), result.stderr
    html = page.read_text()
    assert "<script" not in html and "://" not in html.replace("http://www.w3.org/2000/svg", ""), "the page must work offline, JS off"

    dom = chromium("--dump-dom", page.as_uri(), profile=tmp_path / "chromium-dom").stdout
    assert "<h2>Timeline</h2>" in dom
    for event in ("round started", "run: ran", "verify: FAIL (zero_grad", f"note: {NOTE}", "hint 1 unlocked: look at the loss", "verify: PASS", "round stopped"):
        assert event in dom, event
    # the passing verify's snapshot against the failing one: the one line the fix adds
    assert '<span class="add">+    optimizer.zero_grad()</span>' in dom
    assert "train.py (verify at 00:" in dom and re.search(r"<b>all \d+ checks pass</b>", dom)
    for title in ("Loss per step", "Memory per step: first run", "Memory per step: last run"):
        assert f"<title>{title}" in dom, title


def test_the_candidate_never_sees_the_lab(played):
    """Everything a round's command shows the candidate (stdout and stderr of start, run, both
    verifies and the note) is free of the lab's id, its title, every hint, and its family as a
    label ("loop-", "family:"), and of check names. The test lab suits a strict check: its id,
    title and hints are phrases the script's own output ("step 50 | loss 0.55") cannot contain,
    its README names the lab in its title line and in two commands, and the words "loss" and
    "step" that the script prints are no part of any forbidden string. The hint the interviewer
    unlocks is the one exception, by design: its output shows that hint's text (and no other)."""
    game, shown = played
    lab = catalog.parse_lab(LAB, game.catalog / "labs" / LAB / "lab.toml")
    forbidden = [LAB, lab.title, *lab.hints, f"{lab.family}-", "family:", *catalog.CHECK_NAMES, "look at "]
    for name in ("start", "run", "verify fails", "note", "verify passes"):
        seen = shown[name].stdout + shown[name].stderr
        leaked = [text for text in forbidden if text in seen]
        assert not leaked, f"{name} shows {leaked}:\n{seen}"
    readme = (game.workspace / "round-1" / "README.md").read_text()
    assert not [text for text in forbidden if text in readme]
    assert "`debuglab interview run`" in readme and "`debuglab interview verify` passes" in readme and "held-out accuracy stalls" in readme
    hint = shown["hint"].stdout + shown["hint"].stderr
    assert f"hint 1/3: {lab.hints[0]}" in hint
    assert not [text for text in [LAB, lab.title, *lab.hints[1:], f"{lab.family}-", "family:"] if text in hint]


def test_every_lab_incident_is_shown_without_naming_the_lab():
    """The real catalog's READMEs, as a round shows them: the title line and every mention of the
    id are gone, and nothing names the title, a hint or the family as a label."""
    for lab in catalog.all_labs():
        text = interview.incident_text(lab, 3)
        assert text.startswith("# Round 3: the incident\n"), lab.id
        leaked = [s for s in (lab.id, lab.title, *lab.hints, f"{lab.family}-", "family:") if s in text]
        assert not leaked, f"{lab.id}: {leaked}"
        assert "What we saw" in text or "What" in text, lab.id


def test_hints_and_solutions_are_locked_while_a_round_runs(tmp_path):
    game = Round(tmp_path)
    assert game.debuglab("interview", "start", "--lab", LAB).returncode == 0
    for args in (("hint", LAB), ("solution", LAB, "--force")):
        refused = game.debuglab(*args)
        assert refused.returncode == 2 and "locked while interview round 1 runs" in one_line(refused.stderr), args
    progress = game.workspace / ".debuglab" / "progress.json"
    assert not progress.exists(), "a refused hint records nothing"
    assert game.debuglab("interview", "stop").returncode == 0
    assert game.debuglab("hint", LAB).returncode == 0  # unlocked once the round ends


def test_start_never_imports_torch(tmp_path):
    """Starting a round costs what `debuglab list` costs: no torch, no run."""
    game = Round(tmp_path)
    probe = (
        "import sys; from click.testing import CliRunner; from debuglab.cli import main; "
        f"r = CliRunner().invoke(main, ['interview', 'start', '--lab', '{LAB}']); assert r.exit_code == 0, r.output; "
        "assert 'torch' not in sys.modules, 'torch was imported'"
    )
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, env=game.env)
    assert result.returncode == 0, result.stderr
    assert (game.workspace / "round-1" / "train.py").is_file()


# -- refusals: one line, exit 2, nothing recorded ---------------------------------------------------
def refused(game: Round, *args: str, says: str) -> None:
    before = game.files()
    result = game.debuglab(*args)
    assert result.returncode == 2, (args, result.stdout, result.stderr)
    assert says in one_line(result.stderr), result.stderr
    assert game.files() == before, f"{args} recorded something"


def test_commands_without_a_round_are_refused_and_record_nothing(tmp_path):
    game = Round(tmp_path)
    for args in (("run",), ("verify",), ("note", "x"), ("hint",), ("stop",), ("grade", "gradients", "strong", "x"), ("report",)):
        refused(game, "interview", *args, says="no interview round in this workspace")
    assert not game.state.exists()


def test_bad_starts_and_grades_are_refused_and_record_nothing(tmp_path):
    game = Round(tmp_path)
    refused(game, "interview", "start", "--lab", "loop-1", says="unknown lab 'loop-1'")
    refused(game, "interview", "start", "--area", "cooking", says="--area 'cooking'")
    assert game.debuglab("interview", "start", "--level", "1").returncode == 0  # the only lab of level 1
    refused(game, "interview", "start", "--lab", LAB, says="round 1 is running")
    refused(game, "interview", "grade", "charisma", "strong", "x", says="unknown criterion 'charisma'")
    refused(game, "interview", "grade", "gradients", "great", "x", says="grade 'great'")
    refused(game, "interview", "report", says="round 1 is still running")
    assert game.debuglab("interview", "stop").returncode == 0
    refused(game, "interview", "start", "--level", "1", says="1 lab fit --level 1 and this workspace has started every one")
    refused(game, "interview", "start", "--level", "3", says="no lab fits --level 3")
    for args in (("run",), ("verify",), ("note", "x"), ("hint",)):
        refused(game, "interview", *args, says="no interview round is running (round 1 ended")


def test_the_clock_ends_the_round_and_stop_is_then_a_no_op(tmp_path):
    game = Round(tmp_path)
    assert game.debuglab("interview", "start", "--lab", LAB, "--minutes", "0.01").returncode == 0
    time.sleep(1.0)
    late = game.debuglab("interview", "note", "too late")
    assert late.returncode == 2 and "minutes were up" in one_line(late.stderr) and "this note was not run" in late.stderr
    record = json.loads(game.state.read_text())["rounds"][0]
    assert record["ended_by"] == "clock" and record["ended_ts"] == pytest.approx(record["started_ts"] + 0.6, abs=0.01)
    assert [e["kind"] for e in record["events"]] == ["start", "time_up"]  # the late note is not recorded
    before = game.files()
    stopped = game.debuglab("interview", "stop")
    assert stopped.returncode == 0 and "had already ended (its 0.01 minutes were up" in stopped.stdout
    assert game.files() == before
    card = json.loads(game.debuglab("interview", "report", "--format", "json").stdout)
    assert card["ended_by"] == "clock" and not card["passed"] and card["time_to_first_run_s"] is None


def test_a_practice_round_ends_with_the_solution_and_labs_for_each_weak_criterion(tmp_path):
    """On the real catalog: grad-02 left as it was (raw tensors as parameters, never fixed), so
    nn.Module usage and debugging come out weak, and the scorecard names unseen labs for both."""
    env = {**os.environ, "DEBUGLAB_WORKSPACE": str(tmp_path / "ws"), "DEBUGLAB_CACHE": str(tmp_path / "cache")}
    env.pop("DEBUGLAB_DATA", None)
    run = lambda *args: subprocess.run([sys.executable, "-m", "debuglab", *args], capture_output=True, text=True, env=env, timeout=120)  # noqa: E731
    assert run("interview", "start", "--practice", "--lab", "grad-02").returncode == 0
    assert run("interview", "stop").returncode == 0
    card = json.loads(run("interview", "report", "--format", "json").stdout)
    weak = {c["id"] for c in card["criteria"] if c["final"] == "weak"}
    assert weak == {"nn-module", "debugging"}, card["criteria"]
    module = next(c for c in card["criteria"] if c["id"] == "nn-module")
    assert any("is a plain tensor with requires_grad" in line for line in module["evidence"])
    plan = {row["criterion"]: row for row in card["practice_plan"]["labs"]}
    assert set(plan) == weak
    for criterion_id, row in plan.items():
        chosen = next(c for c in interview.CRITERIA if c.id == criterion_id)
        assert row["labs"] and "grad-02" not in row["labs"]
        for lab_id in row["labs"]:
            assert set(catalog.load(lab_id).topics) & set(chosen.topics), (criterion_id, lab_id)
    markdown = run("interview", "report").stdout
    solution = markdown.split("## The solution", 1)[1]
    assert "grad-02/train.py (reference fix)" in solution and "## Root cause" in solution
    assert "## What to practise next" in solution and f"`{plan['nn-module']['labs'][0]}`" in solution


# -- the static read ---------------------------------------------------------------------------------
def findings(source: str) -> list[tuple[str, int]]:
    result = interview_static.read(source, source)
    return [(f["kind"], f["line"]) for f in result["findings"]]


RAW = """
import torch
class Linear(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.weight = torch.randn(4, 3, requires_grad=True)
"""
REGISTERED = RAW.replace("torch.randn(4, 3, requires_grad=True)", "torch.nn.Parameter(torch.randn(4, 3))")
RAW_IN_OPTIMIZER = """
import torch
w = torch.zeros(3).requires_grad_()
optimizer = torch.optim.SGD([w], lr=0.1)
"""
GRADCHECK_INPUT = """
import torch
x = torch.randn(3, dtype=torch.double, requires_grad=True)
torch.autograd.gradcheck(torch.sin, (x,))
frozen = torch.nn.Linear(2, 2).requires_grad_(False)
"""


def test_raw_tensors_with_requires_grad_as_parameters_are_found():
    assert findings(RAW) == [("raw_parameter", 6)]
    assert findings(REGISTERED) == []
    assert findings(RAW_IN_OPTIMIZER) == [("raw_parameter", 3)]
    assert findings(GRADCHECK_INPUT) == []  # an input with requires_grad is no parameter; requires_grad_(False) freezes


LOOP = """
for step in range(100):
    loss = model(x).sum()
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
"""
ACCUMULATING = """
for step in range(100):
    loss = model(x).sum() / 4
    loss.backward()
    if (step + 1) % 4 == 0:
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
"""
ONCE_PER_EPOCH = """
for epoch in range(3):
    optimizer.zero_grad()
    for x in loader:
        loss = model(x).sum()
        loss.backward()
        optimizer.step()
"""


def test_a_training_loop_without_zero_grad_is_found():
    assert findings(LOOP.replace("    optimizer.zero_grad()\n", "")) == [("missing_zero_grad", 2)]
    assert findings(LOOP) == []
    assert findings(ACCUMULATING) == []  # accumulation clears every k steps, inside the loop
    assert findings(ONCE_PER_EPOCH) == [("missing_zero_grad", 4)]  # the inner loop is where steps add up


EVALUATION = """
import torch
@torch.no_grad()
def evaluate(x, y):
    model.eval()
    accuracy = (model(x).argmax(1) == y).float().mean()
    model.train()
    return accuracy

for step in range(100):
    optimizer.zero_grad()
    model(x).sum().backward()
    optimizer.step()
    if step % 50 == 0:
        print(evaluate(x, y))
"""


def test_evaluation_without_no_grad_or_eval_mode_is_found():
    assert findings(EVALUATION) == []
    assert findings(EVALUATION.replace("@torch.no_grad()\n", "")) == [("eval_without_no_grad", 3)]
    called_under_no_grad = EVALUATION.replace("@torch.no_grad()\n", "").replace("        print(evaluate(x, y))", "        with torch.no_grad():\n            print(evaluate(x, y))")
    assert findings(called_under_no_grad) == []
    no_modes = EVALUATION.replace("    model.eval()\n", "").replace("    model.train()\n", "")
    assert findings(no_modes) == [("eval_without_eval_mode", 4)]
    assert findings(EVALUATION.replace("    model.train()\n", "")) == [("eval_mode_left_on", 4)]


def test_shape_comments_are_counted_on_the_lines_the_candidate_changed():
    before = "h = x @ w\ny = h\n"
    commented = interview_static.shape_comments(before, "h = x @ w\ny = h.view(B, -1)  # (B, T*C)\n")
    bare = interview_static.shape_comments(before, "h = x @ w\ny = h.view(B, -1)\nprint(y)\n")
    assert commented == {"changed_lines": 1, "shape_lines": [2], "commented": [2]}
    assert bare == {"changed_lines": 2, "shape_lines": [2], "commented": []}  # the untouched `@` line is not theirs


def test_the_static_read_finds_the_catalogs_bugs_and_passes_every_reference_fix():
    """The detectors on real code: the pristine scripts whose bug is one of these red flags are
    flagged, and no reference fix in the catalog is."""
    expected = {"grad-02": "raw_parameter", "loop-01": "eval_mode_left_on", "loop-02": "eval_without_no_grad", "loop-05": "missing_zero_grad", "loop-09": "eval_without_eval_mode"}
    for lab in catalog.all_labs():
        pristine = lab.train_path.read_text()
        flagged = {kind for kind, _ in findings(pristine)}
        assert flagged == ({expected[lab.id]} if lab.id in expected else set()), lab.id
        assert findings(lab.fix_path.read_text()) == [], lab.id
        ast.parse(pristine)


def test_a_random_round_skips_gpu_only_labs_off_the_gpu(tmp_path, monkeypatch):
    """Off a CUDA GPU a GPU-only lab's untouched script passes, so no random round picks it there."""
    from types import SimpleNamespace

    from debuglab import profiles
    from debuglab.workspace import Workspace

    monkeypatch.setattr(interview.random, "SystemRandom", lambda: SimpleNamespace(choice=lambda labs: labs))  # every candidate
    workspace = Workspace(tmp_path / "workspace")
    gpu_only = {lab.id for lab in catalog.all_labs() if lab.gpu_only}
    assert gpu_only
    monkeypatch.setattr(profiles, "detect_device", lambda: "cpu")
    assert not gpu_only & {lab.id for lab in interview.pick_lab(workspace, {"rounds": []}, None, None)}
    monkeypatch.setattr(profiles, "detect_device", lambda: "cuda")
    assert gpu_only <= {lab.id for lab in interview.pick_lab(workspace, {"rounds": []}, None, None)}
