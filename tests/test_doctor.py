"""doctor: findings on scripts it was not written for (tests/doctor_corpus), each finding on a case
with its bug and one without, and the command line as a user meets it."""

import json
import math
import tempfile
from pathlib import Path

import pytest

from conftest import ROOT, SCRIPTS, cli
from probe_cases import write_variant

CORPUS = ROOT / "tests" / "doctor_corpus"
_VARIANTS = Path(tempfile.mkdtemp(prefix="debuglab-doctor-variants-"))
_results: dict = {}


def diagnose(name: str, nproc: int = 1, **kwargs):
    """doctor on base.py or one of its variants (tests/probe_cases.py), once per session."""
    key = (name, nproc, tuple(sorted(kwargs.items())))
    if key not in _results:
        from debuglab import doctor, profiles
        from debuglab.paths import cache_dir

        base = SCRIPTS / f"{name}.py"
        script = base if base.is_file() else write_variant(name, _VARIANTS)
        _results[key] = doctor.run(script, profiles.choose("cpu", None), "cpu", cache_dir() / "doctor", nproc=nproc, **kwargs)
    return _results[key]


def ids(d, severity=None) -> list[str]:
    return [f.id for f in d.findings if severity is None or f.severity == severity]


# -- the corpus: 47 scripts written for it, 28 with one bug each, 19 correct -----------------------


@pytest.fixture(scope="module")
def corpus_outcomes(tmp_path_factory):
    from debuglab import corpus

    scripts = corpus.collect(CORPUS)
    return {o.script.path.name: o for o in corpus.run_all(scripts, tmp_path_factory.mktemp("corpus-runs"), jobs=2)}


def _corpus_names(buggy: bool) -> list[str]:
    from debuglab import corpus

    return [s.path.name for s in corpus.collect(CORPUS) if s.buggy == buggy]


@pytest.mark.slow
def test_the_corpus_meets_doctors_targets(corpus_outcomes, capsys):
    from debuglab import corpus

    outcomes = list(corpus_outcomes.values())
    with capsys.disabled():
        print("\n" + corpus.table(outcomes))
    r = corpus.rates(outcomes)
    assert r["buggy"] >= 20 and r["correct"] >= 10
    assert r["detection_rate"] >= 0.9, corpus.table(outcomes)
    assert r["false_alarms"] == 0, corpus.table(outcomes)
    assert r["warnings_per_correct_script"] <= 1.0, corpus.table(outcomes)


@pytest.mark.slow
@pytest.mark.parametrize("name", _corpus_names(buggy=True))
def test_a_buggy_corpus_script_gets_its_finding(corpus_outcomes, name):
    outcome = corpus_outcomes[name]
    assert outcome.status == "fail" and outcome.detected, (outcome.script.expect, outcome.errors, outcome.message)


@pytest.mark.slow
@pytest.mark.parametrize("name", _corpus_names(buggy=False))
def test_a_correct_corpus_script_gets_no_error(corpus_outcomes, name):
    outcome = corpus_outcomes[name]
    assert outcome.status == "pass" and not outcome.errors, (outcome.errors, outcome.message)


def test_every_corpus_script_says_what_doctor_should_find():
    from debuglab import corpus, doctor

    scripts = corpus.collect(CORPUS)
    assert len(scripts) >= 30 and sum(not s.buggy for s in scripts) >= 10
    for s in scripts:
        text = s.path.read_text()
        assert "# modelled on:" in text, s.path.name
        for finding_id in s.expect:
            assert doctor.FINDINGS[finding_id].severity == doctor.ERROR, (s.path.name, finding_id)


# -- each finding the corpus does not cover: the bug present, then absent -------------------------


@pytest.mark.parametrize(
    "bug, clean, finding, severity",
    [
        ("eval_with_grad", "eval_restored", "eval-without-no-grad", "warning"),
        ("scheduler_first", "scheduler_after", "scheduler-before-optimizer", "warning"),
        ("feature_history", "base", "memory-growth", "warning"),
        ("noise_targets", "base", "loss-not-falling", "error"),
        ("raw_weight", "base", "raw-tensor-parameter", "warning"),
        ("slow_loader", "loader_reads_values", "dataloader-bound", "warning"),
        ("sync_every_step", "base", "host-syncs", "info"),
        ("implicit_softmax", "base", "implicit-softmax-dim", "warning"),
        ("leak_list", "base", "leaked-graph", "error"),
    ],
)
def test_finding_present_with_its_bug_and_absent_without(bug, clean, finding, severity):
    found = diagnose(bug)
    assert finding in ids(found, severity), [(f.id, f.severity, f.evidence) for f in found.findings]
    assert finding not in ids(diagnose(clean))
    f = next(f for f in found.findings if f.id == finding)
    assert f.evidence and f.why and f.confirm  # every finding says what was measured, why it matters, how to see it


def test_a_clean_loop_has_no_findings_at_all():
    d = diagnose("base")
    assert d.status == "pass" and d.findings == [] and d.steps == 120, [(f.id, f.evidence) for f in d.findings]
    output = Path(d.artifacts["output"]).read_text()
    assert "step 0 loss" in output and "profiler_start" not in output  # the script's output, and nothing of ours


@pytest.mark.parametrize(
    "bug, finding",
    [("dist_rank_local_lr", "ranks-diverge"), ("dist_every_rank_saves", "checkpoint-every-rank"), ("dist_no_set_epoch", "sampler-same-order")],
)
def test_rank_findings_with_their_bug_and_not_on_a_correct_job(bug, finding):
    assert finding in ids(diagnose(bug, nproc=2))
    clean = diagnose("dist_base", nproc=2)
    assert clean.status == "pass" and not ids(clean, "error"), [(f.id, f.evidence) for f in clean.findings]


def test_warnings_and_infos_do_not_fail_the_run():
    d = diagnose("raw_weight")
    assert d.status == "pass" and d.exit_code == 0 and ids(d, "warning")


def test_a_nan_finding_names_where_it_appeared():
    d = diagnose("nan_mid")
    f = next(f for f in d.findings if f.id == "non-finite")
    assert "step 61" in f.evidence and "encoder.2" in f.evidence and f.line


def test_findings_point_at_the_line():
    d = diagnose("eval_with_grad")
    f = next(f for f in d.findings if f.id == "eval-without-no-grad")
    source = Path(d.script).read_text().splitlines()
    assert "model(torch.randn(64, 16))" in source[f.line - 1]


# -- the learning rate and the chance level: units on the figures -----------------------------------


def test_chance_level_is_the_best_constant_predictions_loss():
    import torch

    from debuglab.probes.loop_signals import _chance_level, _target_stats

    labels = torch.tensor([0, 1, 2, 3] * 8)
    sums = _target_stats("cross_entropy", (32, 4), labels, {})
    assert _chance_level("cross_entropy", sums) == pytest.approx(math.log(4))
    padded = torch.tensor([0, 0, 1, -100])  # ignore_index left out: two classes, 2:1
    sums = _target_stats("cross_entropy", (4, 3), padded, {})
    assert _chance_level("cross_entropy", sums) == pytest.approx(-(2 / 3 * math.log(2 / 3) + 1 / 3 * math.log(1 / 3)))
    y = torch.randn(4096, 2) * torch.tensor([1.0, 3.0]) + 5
    sums = _target_stats("mse_loss", (4096, 2), y, {})
    assert _chance_level("mse_loss", sums) == pytest.approx((1 + 9) / 2, rel=0.1)


def test_learning_rate_collapse_and_not_a_schedule_that_ends_at_zero():
    from debuglab import doctor

    class Evidence:
        def __init__(self, lrs, schedulers=()):
            self.steps = [{"i": i + 1, "lr": lr} for i, lr in enumerate(lrs)]
            self._signals = {"schedulers": list(schedulers), "ceiling": lrs[0]}

        def summary(self, probe):
            return self._signals if probe == "loop_signals" else {}

    def found(lrs, schedulers=()):
        return [f.id for f in doctor.detect_learning_rate(doctor.Context(Evidence(lrs, schedulers), {}, False, None))]

    n = 300
    per_batch_steplr = [0.1 * 0.1 ** (i // 20) for i in range(n)]
    cosine = [0.05 * (1 + math.cos(math.pi * i / (n - 1))) for i in range(n)]
    onecycle_like = [0.004 + 0.096 * math.sin(math.pi * min(i / 90, 1) / 2) if i < 90 else 4e-7 + 0.1 * (1 + math.cos(math.pi * (i - 90) / (n - 91))) / 2 for i in range(n)]
    uncapped_warmup = [0.002 * (i + 1) / 20 for i in range(n)]
    assert found(per_batch_steplr) == ["lr-collapse"]
    assert found(cosine) == [] and found(onecycle_like, [{"type": "OneCycleLR", "max_lrs": [0.1]}]) == []
    assert found(uncapped_warmup, [{"type": "LambdaLR", "max_lrs": []}]) == ["lr-explosion"]
    assert found(uncapped_warmup) == []  # set by hand, with no scheduler: a warm-up has no declared ceiling


# -- the command line, as a user meets it ---------------------------------------------------------


def one_line(text: str) -> str:
    lines = [ln for ln in text.strip().splitlines() if ln.strip()]
    assert len(lines) == 1, text
    return lines[0]


def test_doctor_exit_codes_follow_the_findings():
    bug = write_variant("detached", _VARIANTS)
    result = cli("doctor", str(bug), "--json")
    report = json.loads(result.stdout)
    assert result.returncode == 1 and report["status"] == "fail" and report["exit_code"] == 1
    assert report["format"] == "debuglab.doctor/1"
    finding = report["findings"][0]
    assert finding["id"] == "dead-gradient" and finding["severity"] == "error"
    assert set(finding) >= {"id", "severity", "title", "evidence", "why", "confirm", "line", "labs"}
    text = cli("doctor", str(bug))
    assert text.returncode == 1 and "ERROR  dead-gradient" in text.stdout and "practise: debuglab run grad-01" in text.stdout


def test_the_scripts_arguments_pass_after_the_double_dash_and_it_runs_from_its_folder(tmp_path):
    folder = tmp_path / "project"
    (folder / "data").mkdir(parents=True)
    (folder / "data" / "steps.txt").write_text("40\n")
    script = folder / "train.py"
    source = (SCRIPTS / "base.py").read_text()
    source = source.replace(
        "STEPS = 120\n",
        "import argparse\nparser = argparse.ArgumentParser()\nparser.add_argument('--lr', type=float, required=True)\n"
        "args = parser.parse_args()\nSTEPS = int(open('data/steps.txt').read())\n",
    ).replace("lr=0.1", "lr=args.lr")
    script.write_text(source)
    ok = cli("doctor", str(script), "--json", "--", "--lr", "0.05")
    report = json.loads(ok.stdout)
    assert ok.returncode == 0 and report["steps"] == 40, ok.stderr
    missing = cli("doctor", str(script))
    assert missing.returncode == 2
    message = one_line(missing.stderr)
    assert "usage" in message and "--lr" in message and "debuglab doctor train.py -- " in message


def test_json_is_strict_even_when_the_run_saw_nan():
    def reject(constant):
        raise ValueError(f"bare {constant} in JSON")

    result = cli("doctor", str(write_variant("nan_mid", _VARIANTS)), "--json")
    report = json.loads(result.stdout, parse_constant=reject)
    assert result.returncode == 1 and report["findings"][0]["id"] == "non-finite"


def test_steps_stops_a_long_training_and_says_so():
    result = cli("doctor", str(SCRIPTS / "base.py"), "--steps", "30", "--json")
    report = json.loads(result.stdout)
    assert result.returncode == 0 and report["steps"] == 30
    assert any("after 30 steps" in n for n in report["notes"])


def test_training_without_an_optimizer_counts_backward_calls(tmp_path):
    script = tmp_path / "by_hand.py"
    script.write_text(
        "import torch\ntorch.manual_seed(0)\nw = torch.zeros(3, requires_grad=True)\nX = torch.randn(256, 3)\ny = X @ torch.tensor([1.0, -2.0, 0.5])\n"
        "for step in range(80):\n    loss = ((X @ w - y) ** 2).mean()\n    loss.backward()\n    with torch.no_grad():\n"
        "        w -= 0.05 * w.grad\n        w.grad.zero_()\n"
    )
    report = json.loads(cli("doctor", str(script), "--json").stdout)
    assert report["status"] == "pass" and report["steps"] == 80 and report["step_unit"] == "backward call"
    assert any("no optimizer" in n for n in report["notes"])
    forgot = tmp_path / "by_hand_stale.py"
    forgot.write_text(script.read_text().replace("        w.grad.zero_()\n", ""))
    report = json.loads(cli("doctor", str(forgot), "--json").stdout)
    assert report["status"] == "fail" and [f["id"] for f in report["findings"]][0] == "stale-gradient"


def test_a_script_that_never_trains_is_one_line_and_exit_2(tmp_path):
    script = tmp_path / "inference.py"
    script.write_text("import torch\nmodel = torch.nn.Linear(4, 2)\nwith torch.no_grad():\n    print(model(torch.randn(3, 4)).shape)\n")
    result = cli("doctor", str(script))
    assert result.returncode == 2 and "no training step seen" in one_line(result.stderr)
    as_json = cli("doctor", str(script), "--json")
    error = json.loads(as_json.stdout)
    assert as_json.returncode == 2 and error["status"] == "usage" and error["format"] == "debuglab.error/1"
    assert "no training step seen" in error["message"] and error["exit_code"] == 2


@pytest.mark.parametrize(
    "name, content, words",
    [
        ("missing.py", None, ["no such file"]),
        ("notes.txt", "This is not\na Python (script at all\n", ["not valid Python"]),
        ("blob.py", b"\x00\x01\x02binary", ["binary file"]),
        ("needs_pkg.py", "import torch\nimport surely_not_installed_pkg\n", ["surely_not_installed_pkg", "not installed", "pip install"]),
    ],
)
def test_bad_input_is_one_line_and_exit_2(tmp_path, name, content, words):
    path = tmp_path / name
    if isinstance(content, bytes):
        path.write_bytes(content)
    elif content is not None:
        path.write_text(content)
    result = cli("doctor", str(path))
    assert result.returncode == 2, result.stdout + result.stderr
    message = one_line(result.stderr)
    assert "Traceback" not in result.stderr and name in message
    for word in words:
        assert word in message


def test_the_findings_catalogue_is_generated_from_the_code():
    from debuglab import catalog, doctor

    page = (ROOT / "docs" / "findings.md").read_text()
    assert page == doctor.catalogue_markdown(), "docs/findings.md is stale: python3 scripts/findings-doc.py > docs/findings.md"
    labs = set(catalog.lab_ids())
    for kind in doctor.FINDINGS.values():
        assert kind.severity in doctor.SEVERITIES and kind.id == kind.id.lower()
        assert set(kind.labs) <= labs, kind.id  # practise lines name labs that exist
