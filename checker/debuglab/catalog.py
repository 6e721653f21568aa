"""The lab catalog: lab.toml parsing and validation. Never imports torch."""

from __future__ import annotations

import difflib
import re
import tomllib
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

from debuglab import paths
from debuglab.errors import DebuglabError

FORMAT_VERSION = 1
# The families in the order the course teaches them (the recommended order within a difficulty).
FAMILY_TITLES = {
    "crash": "tracebacks from code that looks right: fix the cause, not the message",
    "grad": "gradient flow: parts of the model that stop learning",
    "dims": "shapes, broadcasting and layouts that are silently wrong",
    "loss": "losses that compute something else than what was meant",
    "leak": "memory that grows step after step",
    "nan": "numerics: NaN and inf",
    "data": "input pipelines: speed and correctness",
    "loop": "training-loop mechanics: modes, schedules, clipping, AMP, checkpoints",
    "perf": "device efficiency: syncs, transfers, batching",
    "dist": "torch.distributed: ranks that disagree",
}
FAMILIES = tuple(FAMILY_TITLES)
PROBE_NAMES = ("grad_flow", "memory", "numerics", "profiler", "outcome", "dist", "loop_signals")
SINGLE_PROCESS_PROBES = PROBE_NAMES[:5]  # what doctor runs; "dist" compares ranks of a torchrun job
# The course areas learners prepare for; every lab trains one (lab.toml `area`), and `topic` says which part.
AREAS = (
    "tensor operations",
    "custom layers",
    "training loops",
    "loss functions",
    "data pipelines",
    "debugging and optimisation",
)
# The course's topics per area (../COURSE.md): every topic has a lab, and lab.toml's `topics` lists
# the ones a lab trains, from this table only.
TOPICS = {
    "tensor operations": ("reshaping and views", "broadcasting", "advanced indexing", "einsum", "gradient computation", "device management"),
    "custom layers": ("linear layer from scratch", "multi-head attention", "layer normalisation", "residual block", "positional encoding"),
    "training loops": ("complete loop", "LR scheduling", "gradient clipping", "mixed precision", "checkpointing"),
    "loss functions": ("focal loss", "triplet loss", "contrastive loss", "dice loss", "custom regularisation"),
    "data pipelines": ("custom Dataset", "augmentation pipeline", "collate functions", "distributed sampling", "streaming"),
    "debugging and optimisation": ("finding bugs", "memory optimisation", "profiling", "gradient checking", "NaN detection"),
}
TOPIC_AREA = {topic: area for area, topics in TOPICS.items() for topic in topics}
# What a crash lab's pristine script must do: raise (status error), with `[expect] error` in its message.
CRASH = "error"
# Checks every verdict can contain; checks.py metrics add their own names.
CHECK_NAMES = (
    "trained_to_end",
    "harness_integrity",
    "gradient_flow",
    "zero_grad",
    "optimizer_coverage",
    "parameter_registration",
    "memory_growth",
    "peak_memory",
    "numerics",
    "step_time",
    "host_syncs",
    "dataloader_wait",
    "loss_decreases",
    "loss_spike",
    "train_mode",
    "sampler_epoch",
    "checkpoint_writers",
    "rank_consistency",
)
ID_PATTERN = re.compile(r"^[a-z]+-\d\d$")
# Checks whose measurement a CUDA GPU changes (time, syncs, memory): the only ones `[expect] gpu_only`
# may name, and the device where such a lab's bug shows.
DEVICE_CHECKS = ("step_time", "host_syncs", "dataloader_wait", "memory_growth", "peak_memory")
GPU_DEVICE = "cuda"


@dataclass(frozen=True)
class Bound:
    """A bound on one outcome metric from checks.py."""

    name: str
    min: float | None = None
    max: float | None = None
    message: str = ""

    def holds(self, value: float) -> bool:
        return (self.min is None or value >= self.min) and (self.max is None or value <= self.max)

    def describe(self) -> str:
        parts = []
        if self.min is not None:
            parts.append(f">= {self.min:g}")
        if self.max is not None:
            parts.append(f"<= {self.max:g}")
        return " and ".join(parts)


@dataclass(frozen=True)
class Lab:
    id: str
    title: str
    family: str
    difficulty: int
    area: str
    topic: str
    summary: str
    seen_in: str
    hints: tuple[str, ...]
    steps: int
    warmup_steps: int
    probes: tuple[str, ...]
    expect_broken: str
    nproc: int = 1
    topics: tuple[str, ...] = ()
    expect_error: str = ""  # with expect_broken "error": text the script's exception must contain
    gpu_only: str = ""  # why expect_broken shows only on a CUDA GPU; elsewhere that check is skipped
    loss_drop: float | None = None
    outcome: tuple[Bound, ...] = ()
    targets: dict = field(default_factory=dict, compare=False, hash=False)

    # Paths derive from the id; nothing is stored twice.
    @property
    def lab_dir(self) -> Path:
        return paths.labs_dir() / self.id

    @property
    def train_path(self) -> Path:
        return self.lab_dir / "train.py"

    @property
    def readme_path(self) -> Path:
        return self.lab_dir / "README.md"

    @property
    def fixture_dir(self) -> Path:
        return paths.fixtures_dir() / self.id

    @property
    def fix_path(self) -> Path:
        return self.fixture_dir / "fix.py"

    @property
    def checks_path(self) -> Path | None:
        path = self.fixture_dir / "checks.py"
        return path if path.is_file() else None

    def decoys(self) -> list[Path]:
        return sorted((self.fixture_dir / "decoys").glob("*.py"))

    def alternatives(self) -> list[Path]:
        """Correct fixes other than the reference (each must pass)."""
        return sorted((self.fixture_dir / "alternatives").glob("*.py"))

    def skips_on(self, device: str) -> bool:
        """A GPU-only lab's expected check is skipped on any other device: its pristine passes there."""
        return bool(self.gpu_only) and device != GPU_DEVICE

    def skip_note(self, device: str) -> str:
        """What run, verify and show say on a device where the lab's bug does not show."""
        costs = "a GPU, not a CPU" if device == "cpu" else f"a CUDA GPU, not this {device} device"
        return f"this lab's bug costs {costs}: on this machine ({device}) its {self.expect_broken} check is skipped: {self.gpu_only}"

    def targets_for(self, profile_name: str) -> dict:
        """The lab's overrides of profile targets: [targets] then [targets.<profile>]."""
        flat = {k: v for k, v in self.targets.items() if not isinstance(v, dict)}
        flat.update(self.targets.get(profile_name, {}))
        return flat


class _Reader:
    """Reads typed keys from a parsed TOML table, naming file and key in every error."""

    def __init__(self, path: Path, table: dict, prefix: str = ""):
        self.path, self.table, self.prefix = path, table, prefix

    def fail(self, key: str, problem: str) -> DebuglabError:
        return DebuglabError(f"{self.path}: key '{self.prefix}{key}' {problem}")

    def get(self, key: str, kind: type | tuple, required: bool = True, default=None):
        if key not in self.table:
            if required:
                raise self.fail(key, f"is missing (expected {_kind_name(kind)})")
            return default
        value = self.table[key]
        if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
            raise self.fail(key, f"must be {_kind_name(kind)}, not {type(value).__name__} {value!r}")
        return value

    def sub(self, key: str, required: bool = True) -> "_Reader":
        return _Reader(self.path, self.get(key, dict, required, {}), f"{self.prefix}{key}.")


def _kind_name(kind) -> str:
    names = {str: "a string", int: "an integer", float: "a number", list: "a list", dict: "a table"}
    if isinstance(kind, tuple):
        return " or ".join(names.get(k, k.__name__) for k in kind)
    return names.get(kind, kind.__name__)


def parse_lab(lab_id: str, toml_path: Path) -> Lab:
    try:
        data = tomllib.loads(toml_path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise DebuglabError(f"{toml_path}: file is missing; every lab needs a lab.toml") from None
    except tomllib.TOMLDecodeError as exc:
        raise DebuglabError(f"{toml_path}: not valid TOML ({exc}); fix the syntax there") from None
    top = _Reader(toml_path, data)
    fmt = top.get("format", int)
    if fmt != FORMAT_VERSION:
        raise top.fail("format", f"is {fmt}; this debuglab reads format {FORMAT_VERSION} (upgrade debuglab)")
    family = top.get("family", str)
    if family not in FAMILIES:
        raise top.fail("family", f"is {family!r}; expected one of {', '.join(FAMILIES)}")
    if lab_id.split("-")[0] != family:
        raise top.fail("family", f"is {family!r} but the lab id {lab_id!r} names another family")
    difficulty = top.get("difficulty", int)
    if difficulty not in (1, 2, 3):
        raise top.fail("difficulty", f"is {difficulty}; expected 1, 2 or 3")
    hints = top.get("hints", list)
    if len(hints) < 3 or not all(isinstance(h, str) and h.strip() for h in hints):
        raise top.fail("hints", "must list at least three non-empty strings (symptom, mechanism, fix)")

    area = top.get("area", str)
    if area not in AREAS:
        raise top.fail("area", f"is {area!r}; expected one of: {', '.join(AREAS)}")

    run = top.sub("run")
    steps = run.get("steps", int)
    warmup = run.get("warmup_steps", int, required=False, default=10)
    if steps < 1 or not 0 <= warmup < steps:
        raise run.fail("warmup_steps", f"must be at least 0 and below run.steps ({steps})")
    probes = run.get("probes", list)
    for name in probes:
        if name not in PROBE_NAMES:
            raise run.fail("probes", f"names unknown probe {name!r}; known: {', '.join(PROBE_NAMES)}")
    if "profiler" not in probes:
        raise run.fail("probes", "must include 'profiler': every lab's verdict has a performance check")
    loss_drop = run.get("loss_drop", (int, float), required=False)
    nproc = run.get("nproc", int, required=False, default=1)
    if not 1 <= nproc <= 8:
        raise run.fail("nproc", f"is {nproc}; expected 1 (one process) to 8 ranks under torchrun")
    if nproc > 1 and "dist" not in probes:
        raise run.fail("probes", "must include 'dist' when run.nproc > 1: it compares the ranks")

    outcome = []
    for name, table in top.get("outcome", dict, required=False, default={}).items():
        reader = top.sub("outcome").sub(name)
        lo = reader.get("min", (int, float), required=False)
        hi = reader.get("max", (int, float), required=False)
        if lo is None and hi is None:
            raise reader.fail("min", "or 'max' must be given")
        outcome.append(Bound(name, lo, hi, reader.get("message", str, required=False, default="")))

    expect = top.sub("expect")
    broken = expect.get("broken", str)
    known_checks = set(CHECK_NAMES) | {b.name for b in outcome}
    if broken not in known_checks and broken != CRASH:
        raise expect.fail("broken", f"is {broken!r}, not a check this lab produces; known: {', '.join(sorted(known_checks))} (or {CRASH!r}: the script raises)")
    expect_error = expect.get("error", str, required=False, default="")
    if broken == CRASH and not expect_error.strip():
        raise expect.fail("error", "is missing: with broken = \"error\", name the text the exception must contain")
    gpu_only = expect.get("gpu_only", str, required=False, default="")
    if "gpu_only" in expect.table and not gpu_only.strip():
        raise expect.fail("gpu_only", "is empty: say why the bug shows only on a GPU (run, verify and show print it elsewhere)")
    if gpu_only and broken not in DEVICE_CHECKS:
        raise expect.fail("gpu_only", f"is set, but broken = {broken!r} does not depend on the device; a GPU-only lab fails one of {', '.join(DEVICE_CHECKS)}")
    if (family == "crash") != (broken == CRASH):
        raise expect.fail("broken", f"is {broken!r}; a crash lab's script raises (broken = \"error\"), and only a crash lab's does")

    topics = top.get("topics", list, required=False, default=[])
    for name in topics:
        if name not in TOPIC_AREA:
            raise top.fail("topics", f"names {name!r}, not a course topic; known: {', '.join(TOPIC_AREA)}")

    return Lab(
        id=lab_id,
        title=top.get("title", str),
        family=family,
        difficulty=difficulty,
        area=area,
        topic=top.get("topic", str, required=False, default=""),
        summary=top.get("summary", str),
        seen_in=top.get("seen_in", str, required=False, default=""),
        hints=tuple(hints),
        steps=steps,
        warmup_steps=warmup,
        probes=tuple(probes),
        expect_broken=broken,
        nproc=nproc,
        topics=tuple(topics),
        expect_error=expect_error,
        gpu_only=gpu_only.strip(),
        loss_drop=float(loss_drop) if loss_drop is not None else None,
        outcome=tuple(outcome),
        targets=top.get("targets", dict, required=False, default={}),
    )


@cache
def lab_ids() -> tuple[str, ...]:
    root = paths.labs_dir()
    return tuple(sorted(p.name for p in root.iterdir() if p.is_dir() and ID_PATTERN.match(p.name)))


@cache
def load(lab_id: str) -> Lab:
    ids = lab_ids()
    if lab_id not in ids:
        near = difflib.get_close_matches(lab_id, ids, n=3, cutoff=0.5)
        hint = f"did you mean {', '.join(near)}?" if near else "run 'debuglab list' to see the catalog"
        raise DebuglabError(f"unknown lab {lab_id!r}: {hint}")
    lab = parse_lab(lab_id, paths.labs_dir() / lab_id / "lab.toml")
    if not lab.train_path.is_file():
        raise DebuglabError(f"{lab.train_path}: file is missing; lab {lab_id} needs its train.py")
    return lab


def all_labs() -> list[Lab]:
    return [load(i) for i in lab_ids()]


def recommended_order(labs: list[Lab]) -> list[Lab]:
    """Easy labs first, families in the order the course teaches them."""
    rank = {f: i for i, f in enumerate(FAMILIES)}
    return sorted(labs, key=lambda lab: (lab.difficulty, rank.get(lab.family, 99), lab.id))


def topic_table(labs: list[Lab]) -> list[dict]:
    """Every course topic, area by area, with the labs that train it (recommended order)."""
    ordered = recommended_order(labs)
    return [
        {"area": area, "topic": topic, "labs": [lab.id for lab in ordered if topic in lab.topics]}
        for area, topics in TOPICS.items()
        for topic in topics
    ]


def catalog_markdown(labs: list[Lab]) -> str:
    """docs/catalog.md: the labs by course topic, then by family. Generated by
    scripts/catalog-doc.py; a test fails when it is stale."""
    ordered = recommended_order(labs)
    by_id = {lab.id: lab for lab in ordered}
    lines = [
        "# The catalog",
        "",
        "Generated from the labs' lab.toml by `python3 scripts/catalog-doc.py > docs/catalog.md`; a test",
        "fails when this page is stale. `debuglab list --by-topic` prints the same table with your progress.",
        "",
        f"{len(labs)} labs in {len({lab.family for lab in labs})} families. Difficulty: * to ***.",
        "",
        "## By course topic",
        "",
        "The topics of the course debuglab serves (a lab can train several).",
        "",
    ]
    for area in TOPICS:
        area_rows = [row for row in topic_table(labs) if row["area"] == area]
        count = len({i for row in area_rows for i in row["labs"]})
        lines += [f"### {area} ({count} labs)", "", "| topic | labs |", "|---|---|"]
        for row in area_rows:
            cells = ", ".join(f"`{i}` {'*' * by_id[i].difficulty}" for i in row["labs"]) or "none yet"
            lines.append(f"| {row['topic']} | {cells} |")
        lines.append("")
    lines += ["## By family", ""]
    for family in FAMILIES:
        mine = [lab for lab in ordered if lab.family == family]
        if not mine:
            continue
        lines += [f"### {family}: {FAMILY_TITLES[family]}", "", "| lab | difficulty | title | topics |", "|---|---|---|---|"]
        for lab in mine:
            title = lab.title.replace("|", "\\|")
            lines.append(f"| `{lab.id}` | {'*' * lab.difficulty} | {title} | {', '.join(lab.topics)} |")
        lines.append("")
    return "\n".join(lines)
