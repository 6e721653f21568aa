"""The whole catalog, judged for real: each pristine lab fails with its intended check, each
reference fix passes, each decoy fails with the check it names."""

import json

from conftest import cli


def test_selftest_over_the_whole_catalog():
    result = cli("selftest", "--json", "--jobs", "2", timeout=3000)  # two labs at once: one per core of a 2-core CI machine
    from test_json_contract import conforms

    report = conforms("selftest", result.stdout)
    wrong = [f"{c['lab']} {c['case']}: expected {c['expected']}, got {c['status']} {c['failed_checks']} ({c['message']})" for c in report["cases"] if not c["ok"]]
    assert not wrong, "\n".join(wrong)
    assert result.returncode == 0
    assert {c["case"] for c in report["cases"]} >= {"fix", "broken"}


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
