"""Verdicts: the checks a run produced, and the one document verify prints."""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field

FORMAT = "debuglab.verdict/1"  # name/version: a change to the shape below gets a new version
PASS, FAIL, ERROR, SKIP = "pass", "fail", "error", "skip"
CHECKER_ERROR = "checker_error"  # debuglab itself failed during the run: not the learner's error
EXIT_CODES = {PASS: 0, FAIL: 1, ERROR: 3, CHECKER_ERROR: 4}


@dataclass(frozen=True)
class Check:
    name: str
    status: str  # pass | fail | skip
    measured: float | str | None = None
    target: str | None = None
    message: str = ""
    line: int | None = None  # the line of the learner's file to look at, when a probe knows it

    @classmethod
    def judge(cls, name: str, ok: bool, measured, target: str, message: str, line: int | None = None) -> "Check":
        return cls(name, PASS if ok else FAIL, measured, target, message if not ok else "", line if not ok else None)


@dataclass
class Verdict:
    lab: str | None
    status: str
    message: str
    checks: list[Check] = field(default_factory=list)
    metrics: dict = field(default_factory=dict)
    device: str = ""
    profile: str = ""
    artifacts: dict = field(default_factory=dict)
    file: str = ""
    notes: list[str] = field(default_factory=list)  # worth knowing on this device, never a failure

    @property
    def exit_code(self) -> int:
        return EXIT_CODES[self.status]

    def failed(self) -> list[Check]:
        return [c for c in self.checks if c.status == FAIL]

    def to_dict(self) -> dict:
        document = asdict(self)
        if not document["notes"]:
            del document["notes"]  # optional in the format: a verdict without notes keeps its old shape
        return strict({"format": FORMAT, **document, "exit_code": self.exit_code})

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, default=str, allow_nan=False)


def strict(document: dict) -> dict:
    """The document with every NaN or infinity replaced by null, and the reason listed under
    `not_finite` ("metrics.loss_last: nan"): strict JSON parsers reject bare NaN."""
    reasons: list[str] = []

    def clean(value, path: str):
        if isinstance(value, float) and not math.isfinite(value):
            reasons.append(f"{path}: {value}")
            return None
        if isinstance(value, dict):
            return {k: clean(v, f"{path}.{k}" if path else str(k)) for k, v in value.items()}
        if isinstance(value, (list, tuple)):
            return [clean(v, f"{path}[{i}]") for i, v in enumerate(value)]
        return value

    cleaned = clean(document, "")
    if reasons:
        cleaned["not_finite"] = reasons
    return cleaned


def conclude(lab: str | None, checks: list[Check], file: str, **extra) -> Verdict:
    """pass when every check passes; otherwise fail, with the first failure as the message."""
    failed = [c for c in checks if c.status == FAIL]
    if failed:
        first = failed[0]
        more = f" (and {len(failed) - 1} more failing check{'s' if len(failed) > 2 else ''})" if len(failed) > 1 else ""
        message = f"{first.name}: {first.message}{more}"
        return Verdict(lab, FAIL, message, checks, file=file, **extra)
    return Verdict(lab, PASS, f"all {len(checks)} checks pass", checks, file=file, **extra)
