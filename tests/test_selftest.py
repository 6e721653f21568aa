"""The whole catalog, judged for real: each pristine lab fails with its intended check (a crash lab
raises for its intended reason), each reference fix and alternative passes, each decoy fails with
the check it names. The catalog is judged once, two labs at a time, and each lab is its own test,
so a failing lab names itself; the JUnit XML of the run is kept where DEBUGLAB_SELFTEST_JUNIT says
(CI sets it)."""

import os
from pathlib import Path

import pytest

from conftest import cli
from debuglab import catalog

LAB_IDS = catalog.lab_ids()


@pytest.fixture(scope="module")
def whole_catalog(tmp_path_factory):
    from test_json_contract import conforms

    home = tmp_path_factory.mktemp("selftest")
    junit = Path(os.environ.get("DEBUGLAB_SELFTEST_JUNIT") or home / "selftest-junit.xml")
    env = {"DEBUGLAB_WORKSPACE": str(home / "workspace"), "DEBUGLAB_CACHE": str(home / "cache")}
    # two labs at once: one per core of a 2-core CI machine
    result = cli("selftest", "--json", "--jobs", "2", "--junit-xml", str(junit), env=env, timeout=3000)
    report = conforms("selftest", result.stdout)
    assert junit.read_text().startswith("<?xml")
    return result, report


def test_the_whole_catalog_run_exits_0_only_when_every_case_is_as_intended(whole_catalog):
    result, report = whole_catalog
    assert {row["lab"] for row in report["cases"]} == set(LAB_IDS)
    assert (result.returncode == 0) == report["ok"] == all(row["ok"] for row in report["cases"])


@pytest.mark.parametrize("lab_id", LAB_IDS)
def test_lab(lab_id, whole_catalog):
    _, report = whole_catalog
    rows = [row for row in report["cases"] if row["lab"] == lab_id]
    lab = catalog.load(lab_id)
    assert {row["case"] for row in rows} >= {"fix", "broken"} | {f"decoy {p.stem}" for p in lab.decoys()} | {f"alt {p.stem}" for p in lab.alternatives()}
    wrong = [f"{row['case']}: expected {row['expected']}, got {row['status']} {row['failed_checks']} ({row['message']})" for row in rows if not row["ok"]]
    assert not wrong, "\n".join(wrong)
def test_with_two_jobs_labs_run_two_at_a_time_and_a_distributed_lab_runs_alone(monkeypatch):
    """The scheduler, with each lab's judging replaced by a short sleep that records who ran
    beside whom (the real catalog takes minutes): single-process labs run two at a time, a
    two-rank lab never beside another lab (three processes on two cores made a correct dist-03
    fix fail step_time at 1.89x), and the rows keep the catalog's order. Waiting for two free
    cores in the middle of the run starved the distributed lab and left one core idle for the
    rest of the catalog (a whole-catalog run took as long as with one job)."""
    import threading
    import time
    from dataclasses import replace

    from debuglab import profiles, selftest

    running, overlaps, lock = set(), [], threading.Lock()

    def fake_run_lab(lab, lab_cases, profile, device, progress, keep_metrics=False):
        with lock:
            overlaps.append((lab.id, frozenset(running)))
            running.add(lab.id)
        time.sleep(0.3)
        with lock:
            running.discard(lab.id)
        return [{"lab": lab.id, "case": "fix", "ok": True, "seconds": 0.3}]

    monkeypatch.setattr(selftest, "_run_lab", fake_run_lab)
    monkeypatch.setattr(selftest, "cases", lambda lab, device=None: [])
    base = catalog.load("loop-01")
    labs = [replace(base, id=f"solo-{n:02d}") for n in range(1, 5)]
    labs.insert(2, replace(base, id="ranks-01", nproc=2))
    report = selftest.run(labs, profiles.choose("cpu", None), "cpu", jobs=2)
    assert [row["lab"] for row in report["cases"]] == [lab.id for lab in labs]
    beside = {lab_id: others for lab_id, others in overlaps}
    assert beside["ranks-01"] == frozenset() and all("ranks-01" not in others for others in beside.values())
    paired = {lab_id for lab_id, others in overlaps for lab_id in ({lab_id} | others if others else set())}
    assert paired == {f"solo-{n:02d}" for n in range(1, 5)}, overlaps  # every one ran beside another: two at a time


def gpu_only_catalog(tmp_path):
    """The small test catalog with its lab turned GPU-only: the check it names is step_time, which
    its slow decoy (collect_every_step) fails; its pristine script still fails zero_grad."""
    import shutil

    from conftest import TEST_CATALOG

    root = tmp_path / "catalog"
    shutil.copytree(TEST_CATALOG, root)
    toml = root / "labs" / "loop-01" / "lab.toml"
    toml.write_text(toml.read_text().replace('broken = "zero_grad"', 'broken = "step_time"\ngpu_only = "a test: its slowness is judged on a GPU only"'))
    return root


def test_off_the_gpu_selftest_expects_a_gpu_only_labs_check_to_pass(tmp_path, monkeypatch):
    from debuglab import paths, selftest

    monkeypatch.setenv("DEBUGLAB_DATA", str(gpu_only_catalog(tmp_path)))
    paths.data_root.cache_clear(), catalog.lab_ids.cache_clear(), catalog.load.cache_clear()
    lab = catalog.load("loop-01")
    on_gpu = {name: expected for name, _, expected in selftest.cases(lab, "cuda")}
    on_cpu = {name: expected for name, _, expected in selftest.cases(lab, "cpu")}
    assert on_gpu == {"fix": "pass", "broken": "step_time", "decoy collect_every_step": "step_time", "decoy lower_lr": "zero_grad"}
    # what only a GPU can judge must pass elsewhere; what any device catches is still expected
    assert on_cpu == {"fix": "pass", "broken": "pass", "decoy collect_every_step": "pass", "decoy lower_lr": "zero_grad"}


def test_off_the_gpu_verify_skips_the_gpu_only_check_and_says_why(tmp_path, monkeypatch):
    """For real, on this CPU: the slow decoy passes with step_time skipped and the reason in the
    verdict's message; the pristine script, which also leaks gradients, still fails for that."""
    from debuglab import paths, profiles, selftest, verify

    monkeypatch.setenv("DEBUGLAB_DATA", str(gpu_only_catalog(tmp_path)))
    for cached in (paths.data_root, catalog.lab_ids, catalog.load, profiles.all_profiles):
        cached.cache_clear()
    lab = catalog.load("loop-01")
    profile = profiles.choose(None, "cpu")
    decoy = next(p for p in lab.decoys() if p.stem == "collect_every_step")
    v = verify.verify(lab, decoy, profile, "cpu", tmp_path / "runs")
    step_time = next(c for c in v.checks if c.name == "step_time")
    assert v.status == "pass" and step_time.status == "skip", v.message
    assert "costs a GPU, not a CPU" in v.message and "judged on a GPU only" in v.message and step_time.message == lab.skip_note("cpu")
    broken = verify.verify(lab, lab.train_path, profile, "cpu", tmp_path / "runs")
    assert broken.status == "fail" and "zero_grad" in [c.name for c in broken.failed()]
    assert not selftest._as_intended(lab, "broken", "pass", broken, [c.name for c in broken.failed()])
