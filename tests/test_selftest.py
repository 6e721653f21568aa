"""The whole catalog, judged for real: each pristine lab fails with its intended check, each
reference fix passes, each decoy fails with the check it names."""

import json

from conftest import cli


def test_selftest_over_the_whole_catalog():
    result = cli("selftest", "--json", "--jobs", "2", timeout=3000)  # two labs at once: one per core of a 2-core CI machine
    report = json.loads(result.stdout)
    wrong = [f"{c['lab']} {c['case']}: expected {c['expected']}, got {c['status']} {c['failed_checks']} ({c['message']})" for c in report["cases"] if not c["ok"]]
    assert not wrong, "\n".join(wrong)
    assert result.returncode == 0
    assert {c["case"] for c in report["cases"]} >= {"fix", "broken"}
