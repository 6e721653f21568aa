"""doctor over a corpus of training scripts with known bugs and known-correct ones: detection and
false-alarm rates. Each script says what doctor should find in its first lines:

    # expect: leaked-graph              (error-level finding ids, or `none` for a correct script)
    # nproc: 2                          (optional: run under torchrun with two ranks)
    # args: --epochs 2                  (optional: the script's own arguments)

tests/test_doctor.py runs it over tests/doctor_corpus/; `python3 scripts/doctor-corpus.py` prints
the table.
"""

from __future__ import annotations

import shlex
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

HEADER_LINES = 12


@dataclass(frozen=True)
class CorpusScript:
    path: Path
    expect: tuple[str, ...]  # empty: a correct script
    nproc: int = 1
    args: tuple[str, ...] = ()

    @property
    def buggy(self) -> bool:
        return bool(self.expect)


@dataclass
class Outcome:
    script: CorpusScript
    status: str
    errors: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    infos: list[str] = field(default_factory=list)
    message: str = ""
    wall_s: float = 0.0

    @property
    def detected(self) -> bool:
        """A buggy script got one of its expected ids as an error-level finding."""
        return any(e in self.errors for e in self.script.expect)

    @property
    def false_alarm(self) -> bool:
        return not self.script.buggy and (bool(self.errors) or self.status == "error")


def read(path: Path) -> CorpusScript:
    fields = {}
    for line in path.read_text().splitlines()[:HEADER_LINES]:
        if line.startswith("# ") and ":" in line:
            key, _, value = line[2:].partition(":")
            fields[key.strip()] = value.strip()
    if "expect" not in fields:
        raise ValueError(f"{path}: no '# expect:' line in its first {HEADER_LINES} lines")
    expect = () if fields["expect"] == "none" else tuple(e.strip() for e in fields["expect"].split(",") if e.strip())
    return CorpusScript(path, expect, int(fields.get("nproc", 1)), tuple(shlex.split(fields.get("args", ""))))


def collect(folder: Path) -> list[CorpusScript]:
    return [read(p) for p in sorted(folder.glob("*.py"))]


def diagnose(script: CorpusScript, runs_root: Path) -> Outcome:
    from debuglab import doctor, profiles

    profile = profiles.choose("cpu", None)
    try:
        d = doctor.run(script.path, profile, "cpu", runs_root, args=script.args, nproc=script.nproc, time_limit_s=300)
    except (doctor.NoTraining, doctor.ScriptUnusable) as exc:
        return Outcome(script, "usage", message=str(exc))
    by = {s: [f.id for f in d.findings if f.severity == s] for s in doctor.SEVERITIES}
    return Outcome(script, d.status, by["error"], by["warning"], by["info"], d.message, d.metrics.get("wall_s", 0.0))


def run_all(scripts: list[CorpusScript], runs_root: Path, jobs: int = 2) -> list[Outcome]:
    """Every script, `jobs` at a time; a two-rank script takes both slots' worth of cores, so the
    distributed ones run alone after the rest."""
    single = [s for s in scripts if s.nproc == 1]
    multi = [s for s in scripts if s.nproc > 1]
    with ThreadPoolExecutor(max_workers=max(jobs, 1)) as pool:
        outcomes = list(pool.map(lambda s: diagnose(s, runs_root), single))
    outcomes += [diagnose(s, runs_root) for s in multi]
    order = {s.path: i for i, s in enumerate(scripts)}
    return sorted(outcomes, key=lambda o: order[o.script.path])


def rates(outcomes: list[Outcome]) -> dict:
    buggy = [o for o in outcomes if o.script.buggy]
    correct = [o for o in outcomes if not o.script.buggy]
    return {
        "buggy": len(buggy),
        "detected": sum(o.detected for o in buggy),
        "detection_rate": sum(o.detected for o in buggy) / max(len(buggy), 1),
        "correct": len(correct),
        "false_alarms": sum(o.false_alarm for o in correct),
        "false_alarm_rate": sum(o.false_alarm for o in correct) / max(len(correct), 1),
        "warnings_per_correct_script": sum(len(o.warnings) for o in correct) / max(len(correct), 1),
    }


def table(outcomes: list[Outcome]) -> str:
    lines = [f"{'script':<38} {'expect':<32} {'verdict':<8} error findings / warnings"]
    for o in outcomes:
        expect = ", ".join(o.script.expect) or "none"
        mark = ("ok" if o.detected else "MISSED") if o.script.buggy else ("FALSE" if o.false_alarm else "ok")
        found = ", ".join(o.errors) or "-"
        extra = f" / {', '.join(o.warnings)}" if o.warnings else ""
        note = f"  [{o.message}]" if o.status in ("error", "usage") else ""
        lines.append(f"{o.script.path.name:<38} {expect:<32} {mark:<8} {found}{extra}{note}")
    r = rates(outcomes)
    lines.append(
        f"detection: {r['detected']}/{r['buggy']} buggy scripts ({100 * r['detection_rate']:.0f}%); false alarms: "
        f"{r['false_alarms']}/{r['correct']} correct scripts ({100 * r['false_alarm_rate']:.0f}%); "
        f"warnings per correct script: {r['warnings_per_correct_script']:.2f}"
    )
    return "\n".join(lines)
