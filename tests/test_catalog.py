"""The shipped catalog: every lab is complete, parses, and keeps the contract."""

import difflib
import re

import pytest

from debuglab import catalog, profiles, selftest

LAB_IDS = catalog.lab_ids()


def test_the_first_seven_labs_are_there():
    assert {"leak-01", "leak-02", "leak-03", "grad-01", "dims-01", "nan-01", "data-01"} <= set(LAB_IDS)


@pytest.mark.parametrize("lab_id", LAB_IDS)
def test_lab_is_complete(lab_id):
    lab = catalog.load(lab_id)
    assert lab.readme_path.is_file() and lab.train_path.is_file() and lab.fix_path.is_file()
    assert len(lab.hints) >= 3
    assert len(lab.decoys()) >= 2
    for decoy in lab.decoys():
        assert selftest.decoy_expectation(decoy)
        assert re.search(r"^#\s*why:", decoy.read_text(), re.M), f"{decoy} does not say why it is wrong"
    if lab.outcome:
        assert lab.checks_path is not None, f"{lab_id} has outcome bounds but no checks.py"


@pytest.mark.parametrize("lab_id", LAB_IDS)
def test_lab_script_looks_like_real_code(lab_id):
    lab = catalog.load(lab_id)
    source = lab.train_path.read_text()
    assert "debuglab" not in source
    assert len(source.splitlines()) <= 200
    for marker in ("BUG", "FIXME", "TODO", "XXX"):
        assert marker not in source, f"{lab_id}/train.py marks its bug with {marker}"


@pytest.mark.parametrize("lab_id", LAB_IDS)
def test_reference_fix_is_a_small_diff(lab_id):
    lab = catalog.load(lab_id)
    before = lab.train_path.read_text().splitlines()
    after = lab.fix_path.read_text().splitlines()
    changed = [line for line in difflib.unified_diff(before, after, n=0) if line[:1] in "+-" and line[:3] not in ("+++", "---")]
    assert 0 < len(changed) <= 12, f"{lab_id}: the fix changes {len(changed)} lines"


def test_profiles_parse_and_cover_cpu_and_cuda():
    names = profiles.all_profiles()
    assert {"cpu", "cuda"} <= set(names)
    for profile in names.values():
        assert profile.targets["step_time_ratio"] >= 1.0
    assert names["cuda"].targets["step_time_ratio"] <= names["cpu"].targets["step_time_ratio"]
