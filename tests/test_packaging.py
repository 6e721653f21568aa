"""A non-editable install carries labs/, fixtures/ and profiles/: `debuglab list` works anywhere."""

import subprocess
import sys
import zipfile

from conftest import ROOT


def test_wheel_ships_the_catalog_and_works_from_any_folder(tmp_path):
    build = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-w", str(tmp_path / "dist"), str(ROOT)],
        capture_output=True,
        text=True,
    )
    assert build.returncode == 0, build.stderr[-2000:]
    wheel = next((tmp_path / "dist").glob("debuglab-*.whl"))
    names = zipfile.ZipFile(wheel).namelist()
    for needed in ("debuglab/_data/labs/leak-03/train.py", "debuglab/_data/fixtures/leak-03/fix.py", "debuglab/_data/profiles/cpu.toml"):
        assert needed in names

    target = tmp_path / "site"
    install = subprocess.run(
        [sys.executable, "-m", "pip", "install", "--no-deps", "--target", str(target), str(wheel)], capture_output=True, text=True
    )
    assert install.returncode == 0, install.stderr[-2000:]
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    listed = subprocess.run(
        [sys.executable, "-c", "import debuglab, sys; from debuglab.cli import main; print(debuglab.__file__); main(['list'])"],
        capture_output=True,
        text=True,
        cwd=elsewhere,
        env={"PYTHONPATH": str(target), "HOME": str(tmp_path), "PATH": "/usr/bin:/bin"},
    )
    assert listed.returncode == 0, listed.stderr
    assert str(target) in listed.stdout  # the installed copy, not the checkout
    assert "leak-03" in listed.stdout
