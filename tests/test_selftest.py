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
def test_a_distributed_lab_waits_for_a_core_per_rank():
    """With --jobs 2, a two-rank lab never runs beside another lab: three processes on two cores
    made a correct dist-03 fix fail step_time (1.89x) in one whole-catalog run."""
    import threading
    import time

    from debuglab.selftest import _Cores

    cores, order = _Cores(2), []
    one_core_held, release = threading.Event(), threading.Event()

    def single():
        with cores.taken(1):
            order.append("single starts")
            one_core_held.set()
            release.wait(5)
            order.append("single ends")

    def distributed():
        one_core_held.wait(5)
        with cores.taken(2):
            order.append("two ranks start")

    threads = [threading.Thread(target=single), threading.Thread(target=distributed)]
    for t in threads:
        t.start()
    time.sleep(0.3)
    assert order == ["single starts"]  # the two-rank lab is waiting for the second core
    release.set()
    for t in threads:
        t.join(5)
    assert order == ["single starts", "single ends", "two ranks start"]
    with cores.taken(8):  # more ranks than cores: it takes them all, and does not wait forever
        assert cores.free == 0
