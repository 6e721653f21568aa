"""selftest: every pristine lab fails for its intended reason, every reference fix passes, every
decoy fails with the check it names. Any other failure counts against the lab."""

from __future__ import annotations

import os
import re
import shutil
import time
from pathlib import Path

from debuglab import calibration, paths
from debuglab.catalog import CRASH, Lab
from debuglab.errors import DebuglabError
from debuglab.profiles import Profile

EXPECT_LINE = re.compile(r"^#\s*expect:\s*([\w-]+)\s*$")


def decoy_expectation(path: Path) -> str:
    for line in path.read_text(encoding="utf-8").splitlines()[:5]:
        match = EXPECT_LINE.match(line.strip())
        if match:
            return match.group(1)
    raise DebuglabError(f"{path}: a decoy must say in its first lines which check catches it ('# expect: CHECK')")


def cases(lab: Lab, device: str | None = None) -> list[tuple[str, Path, str]]:
    """(case name, script, expectation): 'pass' for the fix, else the check that must fail. On a
    device where a GPU-only lab's check is skipped, every case that check should catch must pass
    there instead: the pristine script and decoys included, whatever else they get wrong shows."""
    if not lab.fix_path.is_file():
        raise DebuglabError(f"{lab.fix_path}: file is missing; lab {lab.id} needs a reference fix")
    found = [("fix", lab.fix_path, "pass"), ("broken", lab.train_path, lab.expect_broken)]
    found += [(f"alt {p.stem}", p, "pass") for p in lab.alternatives()]
    found += [(f"decoy {p.stem}", p, decoy_expectation(p)) for p in lab.decoys()]
    if device is not None and lab.skips_on(device):
        found = [(name, path, "pass" if expected == lab.expect_broken else expected) for name, path, expected in found]
    return found


def run(labs: list[Lab], profile: Profile, device: str, progress=None, jobs: int = 1, keep_metrics: bool = False) -> dict:
    """Every case of every lab. With jobs > 1, that many labs at once (each lab's cases one after
    another, so a lab's reference and its cases run under the same load); each script still runs
    with the profile's threads, so jobs should not exceed the cores. A distributed lab's ranks each
    need a core of their own: those labs are judged first, one at a time and alone, then the others
    `jobs` at a time. (Waiting for free cores in the middle of the run starved them: the thread
    whose lab ended took the freed core for its next lab before the waiting one could have both,
    and the whole catalog then ran one lab at a time.) Rows come in the order of `labs`."""
    from concurrent.futures import ThreadPoolExecutor

    from debuglab.harness import runner

    started = time.monotonic()
    cases_by_lab = {lab.id: cases(lab, profile.device) for lab in labs}  # a malformed decoy header is an error before anything runs; GPU-only labs are judged by the profile's device
    alone = [lab for lab in labs if lab.nproc > 1 and jobs > 1]
    together = [lab for lab in labs if lab not in alone]

    def judge(lab: Lab) -> list[dict]:
        return _run_lab(lab, cases_by_lab[lab.id], profile, device, progress, keep_metrics)

    done: dict[str, list[dict]] = {}
    pool = ThreadPoolExecutor(max_workers=max(1, jobs))
    try:
        for lab in alone:  # in a worker, as the others are, so that Ctrl-C reaches this thread
            done[lab.id] = pool.submit(judge, lab).result()
        futures = {lab.id: pool.submit(judge, lab) for lab in together}
        for lab_id, future in futures.items():
            done[lab_id] = future.result()
    except KeyboardInterrupt:  # Ctrl-C reaches this thread only: end the scripts the others run
        runner.interrupt()
        pool.shutdown(wait=True, cancel_futures=True)
        runner.resume()
        raise
    pool.shutdown()
    rows = [row for lab in labs for row in done[lab.id]]
    return {
        "ok": all(r["ok"] for r in rows),
        "device": device,
        "profile": profile.name,
        "jobs": jobs,
        "seconds": round(time.monotonic() - started, 1),
        "cases": rows,
    }


def _run_lab(lab: Lab, lab_cases: list, profile: Profile, device: str, progress, keep_metrics: bool = False) -> list[dict]:
    from debuglab import verify

    rows = []
    runs = _private_runs(lab.id)
    reference = calibration.load(lab, profile)
    if reference is None:
        try:
            reference = verify.calibrate(lab, profile, device, runs)
        except RuntimeError as exc:  # the reference itself fails here: every case of the lab is moot
            if progress:
                progress(f"BAD  {lab.id:<8} {str(exc)[:120]}")
            return [{"lab": lab.id, "case": "fix", "expected": "pass", "status": "error", "failed_checks": [], "ok": False, "seconds": 0.0, "message": str(exc), "failures": []}]
    for name, script, expected in lab_cases:
        t0 = time.monotonic()
        v = verify.verify(lab, script, profile, device, runs, label=name.replace(" ", "-"), reference=reference)
        failed = [c.name for c in v.failed()]
        ok = _as_intended(lab, name, expected, v, failed)
        row = {
            "lab": lab.id,
            "case": name,
            "expected": expected,
            "status": v.status,
            "failed_checks": failed,
            "ok": ok,
            "seconds": round(time.monotonic() - t0, 2),
            "message": v.message,
            # what each failing check measured against its target: the line a CI failure shows
            "failures": [{"check": c.name, "measured": _plain(c.measured), "target": c.target, "message": c.message} for c in v.failed()],
        }
        if keep_metrics:
            row["metrics"] = v.metrics
        rows.append(row)
        if progress:
            progress(f"{'ok  ' if ok else 'BAD '} {lab.id:<8} {name:<24} {v.status:<5} {row['seconds']:>6.1f}s  {v.message[:100]}")
    return rows


def _as_intended(lab: Lab, case: str, expected: str, v, failed: list[str]) -> bool:
    if expected == "pass":
        return v.status == "pass"
    if expected == CRASH:  # the script must raise, and for the lab's own reason
        return v.status == "error" and (case != "broken" or lab.expect_error in v.message)
    return v.status == "fail" and expected in failed


def _plain(value):
    """A measurement for strict JSON: a NaN or infinity becomes its name ("nan", "inf")."""
    import math

    return str(value) if isinstance(value, float) and not math.isfinite(value) else value


def junit_xml(report: dict) -> str:
    """The report as JUnit XML, the format CI systems read: a testsuite per lab, a testcase per
    case; a case not as intended is a failure whose message names the checks, what each measured
    and its target. Every piece of text is escaped."""
    from xml.etree import ElementTree as ET

    root = ET.Element("testsuites", name="debuglab selftest", tests=str(len(report["cases"])),
                      failures=str(sum(not r["ok"] for r in report["cases"])), time=f"{report['seconds']:.1f}")
    by_lab: dict[str, list[dict]] = {}
    for row in report["cases"]:
        by_lab.setdefault(row["lab"], []).append(row)
    for lab_id, rows in by_lab.items():
        suite = ET.SubElement(root, "testsuite", name=lab_id, tests=str(len(rows)), failures=str(sum(not r["ok"] for r in rows)),
                              time=f"{sum(r['seconds'] for r in rows):.2f}")
        ET.SubElement(ET.SubElement(suite, "properties"), "property", name="device", value=f"{report['device']} (profile {report['profile']})")
        for row in rows:
            case = ET.SubElement(suite, "testcase", classname=f"debuglab.{lab_id}", name=f"{row['case']} (expected: {row['expected']})",
                                 time=f"{row['seconds']:.2f}")
            if row["ok"]:
                continue
            checks = "; ".join(f"{f['check']}: measured {f['measured']}, target {f['target']}" for f in row.get("failures", [])) or "no check failed"
            failure = ET.SubElement(case, "failure", type=row["status"],
                                    message=f"expected {row['expected']}, got {row['status']} ({checks})")
            failure.text = row["message"]
    ET.indent(root)
    return '<?xml version="1.0" encoding="utf-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"


def _private_runs(lab_id: str) -> Path:
    """This process's run folder for a lab, emptied; folders left by processes that have ended are
    removed. Two selftests at once (or a selftest beside a verify) never touch each other's."""
    root = paths.cache_dir() / "selftest"
    for old in root.glob(f"{lab_id}-*"):
        pid = old.name.rsplit("-", 1)[-1]
        if pid.isdigit() and int(pid) != os.getpid() and not _alive(int(pid)):
            shutil.rmtree(old, ignore_errors=True)
    runs = root / f"{lab_id}-{os.getpid()}"
    shutil.rmtree(runs, ignore_errors=True)
    return runs


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def table(report: dict) -> str:
    lines = [f"{'lab':<8}  {'case':<24}  {'expected':<18}  {'got':<5}  {'seconds':>7}  result"]
    for r in report["cases"]:
        got = r["status"] if r["expected"] == "pass" else f"{r['status']}"
        lines.append(
            f"{r['lab']:<8}  {r['case']:<24}  {r['expected']:<18}  {got:<5}  {r['seconds']:>7.1f}  "
            + ("ok" if r["ok"] else f"WRONG (failed: {', '.join(r['failed_checks']) or 'nothing'})")
        )
    bad = sum(not r["ok"] for r in report["cases"])
    lines.append(
        f"\n{len(report['cases']) - bad} of {len(report['cases'])} cases as intended on {report['device']} "
        f"(profile {report['profile']}) in {report['seconds']:.0f} s"
    )
    return "\n".join(lines)
