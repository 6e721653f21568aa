"""Shared state on one machine: calibration entries stored from many threads and processes at once,
and run folders private to each selftest process."""

import os
import subprocess
import sys
import threading
from pathlib import Path
from dataclasses import replace

from conftest import TEST_CATALOG


def test_calibration_entries_stored_at_once_all_survive(test_catalog):
    from debuglab import calibration, catalog, profiles

    lab = catalog.load("loop-01")
    profile = profiles.choose(None, "cpu")
    keys = []

    def store(n):
        named = replace(profile, name=f"cpu-{n}")  # one calibration entry per name
        keys.append(calibration.key(lab, named))
        calibration.store(lab, named, {"step_time_p20_ms": float(n)})

    threads = [threading.Thread(target=store, args=(n,)) for n in range(24)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    # and two other processes writing at the same time
    code = (
        "import sys; from dataclasses import replace; from debuglab import calibration, catalog, profiles\n"
        "lab = catalog.load('loop-01'); p = profiles.choose(None, 'cpu')\n"
        "for n in range(20): calibration.store(lab, replace(p, name=f'{sys.argv[1]}-{n}'), {'step_time_p20_ms': 1.0})\n"
    )
    env = {**os.environ, "DEBUGLAB_DATA": str(TEST_CATALOG)}
    procs = [subprocess.Popen([sys.executable, "-c", code, tag], env=env) for tag in ("a", "b")]
    assert all(p.wait(timeout=120) == 0 for p in procs)
    import json

    stored = json.loads(calibration._path().read_text())
    assert all(k in stored for k in keys)
    assert len(stored) == 24 + 40


def test_each_selftest_process_has_its_own_run_folder(isolated):
    from debuglab import paths, selftest

    root = paths.cache_dir() / "selftest"
    ended = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    dead_pid = int(ended.stdout)
    (root / f"loop-01-{dead_pid}").mkdir(parents=True)  # left behind by a process that has ended
    other = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        (root / f"loop-01-{other.pid}").mkdir()  # a selftest running now in another process
        mine = selftest._private_runs("loop-01")
        assert mine.name == f"loop-01-{os.getpid()}"
        assert (root / f"loop-01-{other.pid}").is_dir()  # never touched
        assert not (root / f"loop-01-{dead_pid}").exists()  # cleaned up
    finally:
        other.kill()
        other.wait()


def test_the_memory_slope_is_the_median_of_pairwise_slopes_even_for_an_even_count():
    from debuglab.probes.memory import growth

    # four points give six pairwise slopes: 0, 0, 0, 10, 15, 30 (bytes per step); median 5, not 10
    points = [(0, 0), (1, 0), (2, 0), (3, 30)]
    assert growth(points)[0] == 5.0
    assert growth([(0, 0), (1, 10), (2, 20)])[0] == 10.0  # an odd count: the middle one


def test_watch_reruns_on_saves_of_its_file_only():
    """Events that are not a save of the watched file (verify opening and reading it, an unchanged
    close, attributes, another file, a folder, the file moved away) do not rerun verify."""
    from watchdog import events as ev

    from debuglab.watch import announces_save

    folder = "/work/lab"
    saves = [ev.FileModifiedEvent(f"{folder}/train.py"), ev.FileClosedEvent(f"{folder}/train.py"), ev.FileCreatedEvent(f"{folder}/train.py"),
             ev.FileMovedEvent(f"{folder}/.train.py.swp", f"{folder}/train.py")]
    others = [ev.FileOpenedEvent(f"{folder}/train.py"), ev.FileClosedNoWriteEvent(f"{folder}/train.py"), ev.FileAttribEvent(f"{folder}/train.py"),
              ev.FileDeletedEvent(f"{folder}/train.py"), ev.FileModifiedEvent(f"{folder}/notes.txt"), ev.DirModifiedEvent(folder),
              ev.FileMovedEvent(f"{folder}/train.py", f"{folder}/train.py.bak")]
    assert all(announces_save(e, "train.py") for e in saves)
    assert not any(announces_save(e, "train.py") for e in others)


def test_the_heap_sampler_per_platform_and_its_fallback(monkeypatch):
    from debuglab.probes import memory

    name, sample = memory.heap_sampler()
    assert name == "mallinfo2" and sample() > 0  # Linux with glibc: CI
    monkeypatch.setenv(memory.SAMPLER_VARIABLE, "malloc_zone")  # macOS's: absent from glibc
    assert memory.heap_sampler() == ("none", None)
    monkeypatch.setenv(memory.SAMPLER_VARIABLE, "none")
    assert memory.heap_sampler() == ("none", None)


def test_without_a_heap_sampler_a_leak_still_fails_memory_growth_at_the_end(tmp_path):
    """The fallback path, forced: no sampler (a platform with neither mallinfo2 nor
    malloc_zone_statistics) means no early stop, and memray's record still judges the slope."""
    import json

    from conftest import cli

    verdicts = {}
    for sampler in ("mallinfo2", "none"):
        result = cli("verify", "leak-02", "--json", env={"DEBUGLAB_HEAP_SAMPLER": sampler})
        verdicts[sampler] = json.loads(result.stdout)
    sampled, fallback = verdicts["mallinfo2"], verdicts["none"]
    assert sampled["metrics"]["heap_sampler"] == "mallinfo2" and "stopped at step" in sampled["message"]
    assert fallback["metrics"]["heap_sampler"] == "none" and "stopped at step" not in fallback["message"]
    assert fallback["metrics"]["steps"] == 200 and fallback["status"] == "fail"
    assert [c["name"] for c in fallback["checks"] if c["status"] == "fail"] == ["memory_growth"]


def test_native_windows_gets_one_line_naming_wsl2_and_exit_2(monkeypatch):
    from click.testing import CliRunner

    from debuglab import cli

    monkeypatch.setattr(cli.sys, "platform", "win32")
    result = CliRunner().invoke(cli.main, ["list"])
    assert result.exit_code == 2 and "WSL2" in result.output and "Traceback" not in result.output
    assert len(result.output.strip().splitlines()) == 1


RESUMED = '''"""A loop that builds a new optimizer halfway (a resume): the checker then scans the live objects
for the model, which trips torch's deprecated `torch.distributed.reduce_op`."""
import warnings

import torch
import torch.distributed  # noqa: F401  (imported by many training scripts; holds the deprecated proxy)
import torch.nn as nn

torch.manual_seed(0)
model = nn.Sequential(nn.Linear(16, 32), nn.ReLU(), nn.Linear(32, 4))
weights = torch.randn(16, 4)
optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
for step in range(120):
    if step == 60:
        optimizer = torch.optim.SGD(model.parameters(), lr=0.05)
        warnings.warn("the learner's own warning")
    x = torch.randn(32, 16)
    y = (x @ weights).argmax(dim=1)
    loss = nn.functional.cross_entropy(model(x), y)
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
'''


def test_the_checkers_own_warnings_stay_out_of_the_learners_output(tmp_path):
    """A warning our code trips in the learner's process is silenced; the learner's own is not."""
    from conftest import doctor

    script = tmp_path / "resumed.py"
    script.write_text(RESUMED)
    v = doctor(script)
    output = open(v.artifacts["output"]).read()
    assert "the learner's own warning" in output, output
    assert "reduce_op" not in output and output.count("Warning") == 1, output


LITTERING = '''"""A loop with DataLoader workers (multiprocessing makes a pymp-* folder) and a folder of its own
from tempfile, never removed: what a run ended by a signal leaves in /tmp."""
import tempfile

import torch
import torch.nn as nn
from torch.utils.data import DataLoader, TensorDataset

print("temp folder:", tempfile.mkdtemp(prefix="mine-"))
torch.manual_seed(0)
x = torch.randn(512, 16)
y = (x @ torch.randn(16, 4)).argmax(dim=1)
loader = DataLoader(TensorDataset(x, y), batch_size=32, shuffle=True, num_workers=2)
model = nn.Sequential(nn.Linear(16, 32), nn.ReLU(), nn.Linear(32, 4))
optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
for epoch in range(3):
    for xb, yb in loader:
        loss = nn.functional.cross_entropy(model(xb), yb)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
'''


def test_a_run_leaves_nothing_in_the_temporary_folder(tmp_path):
    """The script's temporary files (its own, DataLoader workers', torchrun's) live in a folder of
    the run's, removed after it: nothing is left in the machine's temporary folder."""
    import shutil
    import tempfile

    from conftest import cli

    # A short path, as /tmp is: multiprocessing's sockets live in it (AF_UNIX: 107 bytes at most).
    temp = Path(tempfile.mkdtemp(prefix="t-", dir="/tmp"))
    try:
        script = tmp_path / "littering.py"
        script.write_text(LITTERING)
        result = cli("doctor", str(script), "--time-limit", "120", env={"TMPDIR": str(temp)})
        assert result.returncode == 0, result.stdout + result.stderr
        output = next((tmp_path / "cache").rglob("output.log")).read_text()
        used = output.split("temp folder:", 1)[1].split()[0]
        assert used.startswith(str(temp)), output  # the run's own folder, under the machine's
        assert list(temp.iterdir()) == []
    finally:
        shutil.rmtree(temp, ignore_errors=True)
