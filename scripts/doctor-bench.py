#!/usr/bin/env python3
"""Benchmark (not a test): the wall time of `debuglab doctor SCRIPT` against a plain
`python3 SCRIPT`, run alternately on the same machine (one thread each, as doctor runs it), and
the ratio of their medians.

    python3 scripts/doctor-bench.py [--rounds 3] [SCRIPT [-- ARGS...]]

Without a script it times tests/doctor_corpus/cli_args_tbptt.py with 60 epochs (about 20 s plain).
"""
import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
parser = argparse.ArgumentParser()
parser.add_argument("--rounds", type=int, default=3)
parser.add_argument("script", nargs="?", default=str(ROOT / "tests" / "doctor_corpus" / "cli_args_tbptt.py"))
parser.add_argument("args", nargs=argparse.REMAINDER)
options = parser.parse_args()
args = [a for a in options.args if a != "--"] or (["--epochs", "60", "--bptt", "20"] if options.script.endswith("cli_args_tbptt.py") else [])
script = Path(options.script).resolve()
env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}


def timed(command: list[str]) -> float:
    started = time.perf_counter()
    done = subprocess.run(command, cwd=script.parent, env=env, capture_output=True, text=True)
    wall = time.perf_counter() - started
    if done.returncode not in (0, 1):
        sys.exit(f"{' '.join(command)} exited {done.returncode}: {done.stderr.strip()[-500:]}")
    return wall


plain_cmd = [sys.executable, str(script), *args]
doctor_cmd = [sys.executable, "-m", "debuglab", "doctor", str(script), "--", *args]
plain, doctor = [], []
for r in range(options.rounds):
    plain.append(timed(plain_cmd))
    doctor.append(timed(doctor_cmd))
    print(f"round {r + 1}: plain {plain[-1]:.2f} s, doctor {doctor[-1]:.2f} s ({doctor[-1] / plain[-1]:.2f}x)", flush=True)
p, d = statistics.median(plain), statistics.median(doctor)
print(f"{script.name} {' '.join(args)}: plain median {p:.2f} s, doctor median {d:.2f} s: doctor/plain = {d / p:.2f}x (target <= 1.30x)")
