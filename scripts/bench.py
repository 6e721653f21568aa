#!/usr/bin/env python3
"""Benchmark: what verify costs over running the script, and how fast `debuglab list` answers.

Measured side by side in one run (these machines are shared and noisy): for each lab, `python
fix.py` and `debuglab verify LAB --file fix.py` alternate, and the ratio of medians is printed.
The calibration cache is warmed first, as it is after a learner's first verify of a lab.
Also: for the leak, nan and grad labs, the step at which verify stopped the pristine script.
With --interview, only interview mode's cost: `debuglab verify LAB` against `debuglab interview
verify` of the same file, and `debuglab interview start` against a plain copy (`debuglab reset
LAB --yes`), alternating, as ratios of medians.

    python scripts/bench.py [--repeats 3] [LAB ...]
    python scripts/bench.py --interview [--repeats 3] [LAB]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def timed(cmd: list[str], env: dict) -> tuple[float, subprocess.CompletedProcess]:
    started = time.perf_counter()
    done = subprocess.run(cmd, capture_output=True, text=True, env=env)
    return time.perf_counter() - started, done


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("labs", nargs="*")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--interview", action="store_true", help="Only interview mode's cost against plain verify and a plain copy.")
    args = parser.parse_args()

    from debuglab import catalog

    if args.interview:
        interview_cost(catalog.load(args.labs[0] if args.labs else "loop-05"), args.repeats)
        return

    labs = [catalog.load(i) for i in args.labs] if args.labs else catalog.all_labs()
    scratch = Path(tempfile.mkdtemp(prefix="debuglab-bench-"))
    env = {**os.environ, "DEBUGLAB_WORKSPACE": str(scratch / "ws"), "DEBUGLAB_CACHE": str(scratch / "cache")}
    debuglab = [sys.executable, "-m", "debuglab"]

    print(f"debuglab benchmark: {len(labs)} labs, {args.repeats} alternating repeats, python {sys.version.split()[0]}")
    print(f"{'lab':<8}  {'python fix.py':>13}  {'verify fix':>10}  {'ratio':>5}  {'cold verify':>11}  pristine stopped at")
    ratios = []
    for lab in labs:
        cold, _ = timed([*debuglab, "verify", lab.id, "--file", str(lab.fix_path), "--json"], env)  # calibrates
        plain, judged = [], []
        for _ in range(args.repeats):
            plain.append(timed([sys.executable, str(lab.fix_path)], {**env})[0])
            seconds, done = timed([*debuglab, "verify", lab.id, "--file", str(lab.fix_path), "--json"], env)
            judged.append(seconds)
            status = json.loads(done.stdout)["status"]
        ratio = statistics.median(judged) / statistics.median(plain)
        ratios.append(ratio)
        _, broken = timed([*debuglab, "verify", lab.id, "--file", str(lab.train_path), "--json"], env)
        verdict = json.loads(broken.stdout)
        steps = verdict["metrics"].get("steps")
        stopped = f"step {steps} of {lab.steps} ({verdict['message'].split(':')[0]})" if steps is not None and steps < lab.steps else "ran to the end"
        print(
            f"{lab.id:<8}  {statistics.median(plain):>12.2f}s  {statistics.median(judged):>9.2f}s  {ratio:>5.2f}  {cold:>10.2f}s  "
            f"{stopped}{'' if status == 'pass' else '  (reference fix did not pass: ' + status + ')'}"
        )
    print(f"verify / python fix.py: median {statistics.median(ratios):.2f}, worst {max(ratios):.2f} (target <= 1.5)")

    list_times, baseline = [], []
    for _ in range(10):
        baseline.append(timed([sys.executable, "-c", "pass"], env)[0])
        list_times.append(timed([*debuglab, "list"], env)[0])
    print(
        f"debuglab list: median {statistics.median(list_times) * 1000:.0f} ms "
        f"(python -c pass: {statistics.median(baseline) * 1000:.0f} ms; target < 300 ms)"
    )


def interview_cost(lab, repeats: int) -> None:
    """Interview mode must cost what plain mode costs: the same verify of the same file (the
    reference fix, so both run to the end), and a round's start against a plain copy of a lab."""
    import shutil

    scratch = Path(tempfile.mkdtemp(prefix="debuglab-bench-interview-"))
    env = {**os.environ, "DEBUGLAB_WORKSPACE": str(scratch / "ws"), "DEBUGLAB_CACHE": str(scratch / "cache")}
    debuglab = [sys.executable, "-m", "debuglab"]
    timed([*debuglab, "verify", lab.id, "--file", str(lab.fix_path), "--json"], env)  # calibrates, as a first verify does
    timed([*debuglab, "interview", "start", "--lab", lab.id], env)
    plain, interviewed, starts, copies = [], [], [], []
    shutil.copyfile(lab.fix_path, scratch / "ws" / "round-1" / "train.py")
    timed([*debuglab, "reset", lab.id, "--yes"], env)
    shutil.copyfile(lab.fix_path, scratch / "ws" / lab.id / "train.py")
    for _ in range(repeats):
        plain.append(timed([*debuglab, "verify", lab.id], env)[0])
        interviewed.append(timed([*debuglab, "interview", "verify"], env)[0])
    timed([*debuglab, "interview", "stop"], env)
    for _ in range(repeats * 3):
        seconds, done = timed([*debuglab, "interview", "start", "--lab", lab.id], env)
        assert done.returncode == 0, done.stderr
        starts.append(seconds)
        timed([*debuglab, "interview", "stop"], env)
        copies.append(timed([*debuglab, "reset", lab.id, "--yes"], env)[0])
    print(f"interview mode, {lab.id}, {repeats} alternating repeats (starts and copies: {3 * repeats})")
    print(f"  verify LAB            median {statistics.median(plain):6.2f}s")
    print(f"  interview verify      median {statistics.median(interviewed):6.2f}s   ratio {statistics.median(interviewed) / statistics.median(plain):.2f} (target <= 1.05)")
    print(f"  reset LAB --yes       median {statistics.median(copies) * 1000:6.0f} ms (a plain copy)")
    print(f"  interview start       median {statistics.median(starts) * 1000:6.0f} ms   ratio {statistics.median(starts) / statistics.median(copies):.2f}")
    shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    main()
