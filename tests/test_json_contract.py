"""Every --json output carries "format": "debuglab.<name>/1" and validates against its JSON Schema,
shipped in the package (checker/debuglab/schemas/); a NaN measurement parses with a strict parser."""

import json
import math
from importlib import resources

import jsonschema
import pytest

from conftest import TEST_CATALOG, cli

ENV = {"DEBUGLAB_DATA": str(TEST_CATALOG)}


def schema(name: str) -> dict:
    return json.loads(resources.files("debuglab").joinpath("schemas", f"{name}.schema.json").read_text(encoding="utf-8"))


def strict_loads(text: str):
    """json.loads that refuses NaN and Infinity, as strict parsers in other languages do."""

    def refuse(constant):
        raise ValueError(f"not strict JSON: {constant}")

    return json.loads(text, parse_constant=refuse)


def conforms(name: str, text: str) -> dict:
    document = strict_loads(text)
    jsonschema.validate(document, schema(name), format_checker=jsonschema.FormatChecker())
    assert document["format"] == f"debuglab.{name}/1"
    return document


@pytest.mark.parametrize("name", ["verdict", "doctor", "list", "progress", "selftest", "report", "error", "interview"])
def test_each_schema_is_a_valid_schema_and_names_its_format(name):
    document = schema(name)
    jsonschema.Draft202012Validator.check_schema(document)
    assert document["$id"] == f"debuglab.{name}/1"


def test_the_schemas_catch_a_document_that_breaks_the_contract():
    good = {"format": "debuglab.error/1", "status": "usage", "message": "unknown lab", "exit_code": 2}
    jsonschema.validate(good, schema("error"))
    for bad in ({**good, "exit_code": 1}, {**good, "format": "debuglab.error/2"}, {k: v for k, v in good.items() if k != "message"}):
        with pytest.raises(jsonschema.ValidationError):
            jsonschema.validate(bad, schema("error"))
    with pytest.raises(ValueError, match="not strict"):
        strict_loads('{"loss": NaN}')


def test_list_progress_verify_report_and_errors_conform(tmp_path):
    conforms("list", cli("list", "--json", env=ENV).stdout)
    listing = conforms("list", cli("list", "--json", "--by-topic", env=ENV).stdout)
    assert {row["topic"] for row in listing["topics"]} >= {"einsum", "NaN detection"}
    verdict = conforms("verdict", cli("verify", "loop-01", "--json", env=ENV).stdout)  # the pristine copy: it fails
    assert verdict["status"] == "fail" and verdict["exit_code"] == 1 and verdict["checks"]
    started = cli("session", "start", "--pair", "Ada,Linus", "--detach", env=ENV)
    assert started.returncode == 0, started.stderr
    progress = conforms("progress", cli("progress", "--json", env=ENV).stdout)
    assert progress["session"]["pair"] == ["Ada", "Linus"] and progress["session"]["driver"] == "Ada"
    assert progress["labs"][0]["id"] == "loop-01" and progress["labs"][0]["attempts"] == 1
    cli("session", "stop", env=ENV)
    out = tmp_path / "report.json"
    result = cli("report", "--format", "json", "--output", str(out), env=ENV)
    assert result.returncode == 0, result.stderr
    conforms("report", out.read_text())
    # selftest --json is validated where the whole catalog is judged (test_selftest.py)
    for args, code in ((("verify", "no-such-lab", "--json"), 2), (("list", "--json", "--no-such-flag"), 2)):
        result = cli(*args, env=ENV)
        error = conforms("error", result.stdout)
        assert result.returncode == code == error["exit_code"], result.stdout


def test_the_interview_scorecard_conforms():
    """A round with no run (a whole round with verdicts is validated in test_interview.py)."""
    assert cli("interview", "start", "--lab", "loop-01", "--candidate", "Ada", env=ENV).returncode == 0
    assert cli("interview", "grade", "debugging", "weak", "never ran the script", env=ENV).returncode == 0
    assert cli("interview", "stop", env=ENV).returncode == 0
    card = conforms("interview", cli("interview", "report", "--format", "json", env=ENV).stdout)
    assert card["candidate"] == "Ada" and card["verifies"] == [] and card["time_to_first_run_s"] is None
    assert next(c for c in card["criteria"] if c["id"] == "debugging")["grade"]["grade"] == "weak"


def test_doctor_output_conforms_and_a_nan_is_null_with_its_reason(tmp_path):
    script = tmp_path / "diverges.py"
    script.write_text(
        "import torch\n"
        "torch.manual_seed(0)\n"
        "model = torch.nn.Linear(8, 1)\n"
        "opt = torch.optim.SGD(model.parameters(), lr=1e6)\n"
        "x, y = torch.randn(64, 8) * 100, torch.randn(64, 1)\n"
        "for step in range(40):\n"
        "    loss = ((model(x) - y) ** 2).mean()\n"
        "    opt.zero_grad()\n"
        "    loss.backward()\n"
        "    opt.step()\n"
    )
    result = cli("doctor", str(script), "--json")
    diagnosis = conforms("doctor", result.stdout)
    assert result.returncode == 1 and any(f["id"] == "non-finite" for f in diagnosis["findings"])
    values = [v for v in diagnosis["metrics"].values() if isinstance(v, float)]
    assert all(math.isfinite(v) for v in values)


def test_a_nan_measurement_becomes_null_and_says_where():
    from debuglab.verdict import Verdict

    document = Verdict("nan-01", "fail", "loss is nan", metrics={"loss_last": float("nan"), "peak": float("inf"), "steps": 3}).to_json()
    parsed = conforms("verdict", document)
    assert parsed["metrics"] == {"loss_last": None, "peak": None, "steps": 3}
    assert sorted(parsed["not_finite"]) == ["metrics.loss_last: nan", "metrics.peak: inf"]


def test_selftest_writes_junit_xml_that_names_the_lab_the_case_and_what_was_measured(tmp_path):
    from xml.etree import ElementTree as ET

    from debuglab import selftest

    report = {
        "device": "cpu", "profile": "cpu", "jobs": 1, "seconds": 3.0, "ok": False,
        "cases": [
            {"lab": "leak-03", "case": "fix", "expected": "pass", "status": "pass", "failed_checks": [], "ok": True, "seconds": 1.0, "message": "all pass", "failures": []},
            {"lab": "leak-03", "case": "decoy <gc>", "expected": "memory_growth", "status": "fail", "failed_checks": ["step_time"], "ok": False, "seconds": 2.0,
             "message": "step_time: 2.1x & slower", "failures": [{"check": "step_time", "measured": 2.1, "target": "<= 1.6x", "message": "slower"}]},
        ],
    }
    tree = ET.fromstring(selftest.junit_xml(report))
    assert tree.get("tests") == "2" and tree.get("failures") == "1"
    suite = tree.find("testsuite")
    assert suite.get("name") == "leak-03"
    cases = suite.findall("testcase")
    assert cases[0].find("failure") is None
    failure = cases[1].find("failure")
    assert cases[1].get("name") == "decoy <gc> (expected: memory_growth)"  # escaped in the file, whole when parsed
    assert "step_time: measured 2.1, target <= 1.6x" in failure.get("message") and failure.text == "step_time: 2.1x & slower"


def test_selftest_junit_into_a_missing_folder_is_one_line_exit_2(tmp_path):
    result = cli("selftest", "loop-01", "--junit-xml", str(tmp_path / "nope" / "out.xml"), env=ENV)
    assert result.returncode == 2 and "does not exist" in result.stderr and "Traceback" not in result.stderr
