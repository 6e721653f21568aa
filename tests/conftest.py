import os
import subprocess
import sys
from pathlib import Path

import pytest

TESTS = Path(__file__).resolve().parent
ROOT = TESTS.parent
SCRIPTS = TESTS / "scripts"
TEST_CATALOG = TESTS / "catalog"


@pytest.fixture(autouse=True)
def isolated(tmp_path, monkeypatch):
    """Every test gets its own workspace and cache; nothing touches the user's."""
    monkeypatch.setenv("DEBUGLAB_WORKSPACE", str(tmp_path / "workspace"))
    monkeypatch.setenv("DEBUGLAB_CACHE", str(tmp_path / "cache"))
    monkeypatch.delenv("DEBUGLAB_DATA", raising=False)
    from debuglab import catalog, paths, profiles

    for cached in (paths.data_root, catalog.lab_ids, catalog.load, profiles.all_profiles):
        cached.cache_clear()
    yield tmp_path
    for cached in (paths.data_root, catalog.lab_ids, catalog.load, profiles.all_profiles):
        cached.cache_clear()


@pytest.fixture
def test_catalog(monkeypatch):
    """The small catalog under tests/catalog (one quick lab, a short-time-limit profile)."""
    monkeypatch.setenv("DEBUGLAB_DATA", str(TEST_CATALOG))
    from debuglab import catalog, paths, profiles

    for cached in (paths.data_root, catalog.lab_ids, catalog.load, profiles.all_profiles):
        cached.cache_clear()
    return TEST_CATALOG


def cli(*args: str, env: dict | None = None, timeout: float = 300, input: str | None = None, cwd=None):
    """Run the real command line in a subprocess, as a learner would."""
    full_env = {**os.environ, **(env or {})}
    return subprocess.run(
        [sys.executable, "-m", "debuglab", *args],
        capture_output=True,
        text=True,
        env=full_env,
        timeout=timeout,
        input=input,
        cwd=cwd,
    )


def doctor(script: Path, profile: str = "cpu", warmup: int = 10, nproc: int = 1):
    """Judge a script with every probe, in-process (the script itself still runs in a child)."""
    from debuglab import profiles, verify

    chosen = profiles.choose(None, profile)
    from debuglab.paths import cache_dir

    return verify.verify(None, script, chosen, "cpu", cache_dir() / "doctor", label="doctor", warmup_steps=warmup, nproc=nproc)
