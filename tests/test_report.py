"""`debuglab report` on a workspace made by the real command line: a pair runs grad-01, takes a
hint, fixes it and verifies; the report must say so in markdown, JSON and HTML (whose charts
must render in a browser), and --merge must make the room's table from the JSON."""

import json
import os
import shutil
import struct
import subprocess
import sys
import zlib
from pathlib import Path

import numpy as np
import pytest

from debuglab import catalog
from debuglab.charts import AFTER, BEFORE, TITLES

CHROMIUM = Path("/usr/bin/chromium")
INSTALL_CHROMIUM = "apt-get update && apt-get install -y chromium"


class Workshop:
    """A workspace and a cache in one folder, and the command line run against them."""

    def __init__(self, root: Path):
        self.root = root
        self.workspace = root / "workspace"
        self.env = {**os.environ, "DEBUGLAB_WORKSPACE": str(self.workspace), "DEBUGLAB_CACHE": str(root / "cache"), "DEBUGLAB_DATA": ""}

    def debuglab(self, *args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "debuglab", *args], capture_output=True, text=True, env=self.env, cwd=cwd or self.root, timeout=600)

    def report(self, *args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
        result = self.debuglab("report", *args, cwd=cwd)
        assert result.returncode == 0, result.stderr
        return result


TIMING_CHECKS = {"step_time", "dataloader_wait"}  # wall-clock checks: a busy shared CPU can fail them


@pytest.fixture(scope="module")
def workshop(tmp_path_factory) -> Workshop:
    """grad-01 run broken, fixed with the reference fix after one hint, verified once: a pass.
    Done afresh once more if the verify fails on timing alone, so a loaded CI machine does not
    fail the report's tests; any other failure fails at once."""
    for tries_left in (1, 0):
        shop = Workshop(tmp_path_factory.mktemp("workshop"))
        run = shop.debuglab("run", "grad-01")
        assert run.returncode == 0, run.stderr
        shutil.copyfile(catalog.load("grad-01").fix_path, shop.workspace / "grad-01" / "train.py")
        assert shop.debuglab("hint", "grad-01").returncode == 0
        verify = shop.debuglab("verify", "grad-01", "--json")
        if verify.returncode == 0:
            return shop
        try:
            checks = json.loads(verify.stdout).get("checks", [])
        except json.JSONDecodeError:
            checks = []
        failed = {check["name"] for check in checks if check["status"] == "fail"}
        if not tries_left or not failed or not failed <= TIMING_CHECKS:
            pytest.fail(f"the reference fix of grad-01 did not pass verify:\n{verify.stdout}\n{verify.stderr}")


def markdown_table(text: str, heading: str) -> list[dict]:
    """The rows of the table under `## heading`, as dicts keyed by the header."""
    section = text.split(f"## {heading}\n", 1)[1].split("\n## ", 1)[0]
    lines = [line for line in section.splitlines() if line.startswith("|")]
    header = [cell.strip() for cell in lines[0].strip("|").split("|")]
    return [dict(zip(header, (cell.strip() for cell in line.strip("|").split("|")))) for line in lines[2:]]


def test_markdown_shows_the_pass_after_one_attempt_and_one_hint(workshop):
    text = workshop.report().stdout
    [row] = markdown_table(text, "Labs")
    assert (row["lab"], row["status"], row["attempts"], row["hints"], row["runs"]) == ("grad-01", "passed", "1", "1", "1")
    assert row["time to pass"] != "-" and row["solution viewed"] == "no"
    assert f"1 of {len(catalog.lab_ids())} labs passed" in text
    grad = next(r for r in markdown_table(text, "Families") if r["family"] == "grad")
    assert (grad["passed"], grad["touched"]) == ("1", "1")


def test_json_round_trips_through_merge(workshop, tmp_path):
    report = json.loads(workshop.report("--format", "json", "--name", "ada & bob").stdout)
    [lab] = report["labs"]
    assert (lab["id"], lab["status"], lab["attempts_to_pass"], lab["hints_to_pass"]) == ("grad-01", "passed", 1, 1)
    path = tmp_path / "ada.json"
    path.write_text(json.dumps(report))
    room = json.loads(workshop.report("--merge", str(path), "--format", "json").stdout)
    assert room["reports"] == [
        {
            "name": "ada & bob",
            "passed": 1,
            "attempted": 0,
            "touched": 1,
            "time_s": lab["active_s"],
            "median_time_to_pass_s": lab["time_to_pass_s"],
            "hints": 1,
            "attempts": 1,
        }
    ]
    assert room["labs"][0]["id"] == "grad-01" and room["labs"][0]["median_hints"] == 1


def test_merge_of_two_reports_gives_a_row_each_and_counts_both_passes(workshop, tmp_path):
    paths = []
    for name in ("ada & bob", "cy & dee"):
        path = tmp_path / f"{name[:2]}.json"
        workshop.report("--format", "json", "--name", name, "--output", str(path))
        paths.append(str(path))
    text = workshop.report("--merge", *paths).stdout
    assert [row["name"] for row in markdown_table(text, "Pairs")] == ["ada & bob", "cy & dee"]
    [lab] = markdown_table(text, "Labs")
    assert (lab["lab"], lab["passed"], lab["median hints"]) == ("grad-01", "2 of 2", "1")
    room = json.loads(workshop.report("--merge", *paths, "--format", "json").stdout)
    assert room["labs"][0]["passed"] == 2 and len(room["reports"]) == 2


@pytest.mark.parametrize(
    "content, why",
    [
        ("name,labs\nada,3\n", "not JSON"),
        (None, "no such file"),
        ('{"labs": []}', '"format"'),
        ('{"format": "debuglab-room", "version": 1, "reports": [], "labs": []}', "room table"),
    ],
)
def test_merge_refuses_what_is_not_a_report_in_one_line(workshop, tmp_path, content, why):
    path = tmp_path / "notes.csv"
    if content is not None:
        path.write_text(content)
    result = workshop.debuglab("report", "--merge", str(path))
    assert result.returncode == 2 and result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in result.stderr, result.stderr
    assert f"{path}: not a debuglab report" in lines[0] and why in lines[0] and "debuglab report --format json" in lines[0]


def test_default_name_is_the_pair_and_sessions_are_listed(workshop, tmp_path):
    """A pair session made with the real commands names the report and gets a row (swaps, labs)."""
    copy = Workshop(tmp_path)
    shutil.copytree(workshop.workspace, copy.workspace)
    for args in (
        ("session", "start", "--pair", "ada,bob", "--minutes", "60", "--swap", "10", "--detach"),
        ("hint", "grad-01"),  # ada drives
        ("session", "swap"),
        ("hint", "grad-01"),  # bob drives
        ("session", "stop"),
    ):
        result = copy.debuglab(*args)
        assert result.returncode == 0, result.stderr
    assert "bob: drove 0 verify runs, 1 hints" in result.stdout
    text = copy.report().stdout
    assert text.startswith("# debuglab report: ada & bob\n")
    [session] = markdown_table(text, "Pair sessions")
    assert session["pair"] == "ada & bob" and session["swaps"] == "1"
    assert session["drivers in turn"] == "ada → bob" and session["labs worked on"] == "grad-01"
    assert session["length"].endswith("of 1h 00m")


def test_an_empty_workspace_reports_nothing_touched_and_stays_empty(tmp_path):
    shop = Workshop(tmp_path)
    text = shop.report().stdout
    assert f"**0 of {len(catalog.lab_ids())} labs passed (0 touched)**" in text and "No lab touched yet" in text
    assert not shop.workspace.exists(), "a report reads the workspace; it must not create one"


def test_report_does_not_import_torch(workshop):
    probe = (
        "import sys; from click.testing import CliRunner; from debuglab.report import report_command; "
        "r = CliRunner().invoke(report_command, ['--format', 'json']); assert r.exit_code == 0, r.output; "
        "assert 'torch' not in sys.modules, 'torch was imported'"
    )
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, env=workshop.env)
    assert result.returncode == 0, result.stderr


def test_html_says_not_measured_where_a_series_lacks_figures(workshop, tmp_path):
    """A run that stopped early, or a lab without a probe: the report draws what is there."""
    copy = Workshop(tmp_path)
    shutil.copytree(workshop.workspace, copy.workspace)
    after = copy.workspace / ".debuglab" / "series" / "grad-01" / "after.json"
    series = json.loads(after.read_text())
    series["heap"] = []
    series["metrics"] = {}
    for step in series["steps"]:
        step.pop("grad_norms", None)
    after.write_text(json.dumps(series))
    (copy.workspace / ".debuglab" / "series" / "grad-01" / "before.json").write_text("{not json")
    html = Path(copy.report("--format", "html").stdout.strip()).read_text()
    assert "memory not measured in this run" in html and "gradient norms not measured in this run" in html
    assert f"<title>{TITLES['loss']}</title>" in html  # the after run's loss still drawn


def read_png(path: Path) -> np.ndarray:
    """Height x width x RGB of an 8-bit, non-interlaced PNG (what Chromium writes), undoing the
    per-row filters of the PNG specification."""
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", f"{path} is not a PNG"
    pos, chunks = 8, []
    while pos < len(data):
        length, kind = struct.unpack(">I4s", data[pos : pos + 8])
        body = data[pos + 8 : pos + 8 + length]
        if kind == b"IHDR":
            width, height, depth, colour_type, _, _, interlace = struct.unpack(">IIBBBBB", body)
            assert depth == 8 and colour_type in (2, 6) and interlace == 0, (depth, colour_type, interlace)
        elif kind == b"IDAT":
            chunks.append(body)
        pos += 12 + length
    raw = zlib.decompress(b"".join(chunks))
    bpp = 3 if colour_type == 2 else 4
    stride = width * bpp
    rows = np.zeros((height, stride), np.uint8)
    previous = np.zeros(stride, np.int64)
    for r in range(height):
        kind = raw[r * (stride + 1)]
        line = np.frombuffer(raw, np.uint8, stride, r * (stride + 1) + 1).astype(np.int64)
        if kind == 0:  # None
            current = line
        elif kind == 1:  # Sub: a running sum along the row, per channel
            current = np.cumsum(line.reshape(-1, bpp), axis=0).reshape(-1) % 256
        elif kind == 2:  # Up
            current = (line + previous) % 256
        else:  # Average and Paeth depend on the byte just decoded: one at a time
            out, up = line.tolist(), previous.tolist()
            for i in range(stride):
                left = out[i - bpp] if i >= bpp else 0
                corner = up[i - bpp] if i >= bpp else 0
                if kind == 3:
                    out[i] = (out[i] + ((left + up[i]) >> 1)) & 255
                else:
                    p_left, p_up, p_corner = abs(up[i] - corner), abs(left - corner), abs(left + up[i] - 2 * corner)
                    guess = left if p_left <= p_up and p_left <= p_corner else up[i] if p_up <= p_corner else corner
                    out[i] = (out[i] + guess) & 255
            current = np.array(out, np.int64)
        rows[r] = current
        previous = current
    return rows.reshape(height, width, bpp)[:, :, :3]


def pixels_of(image: np.ndarray, hex_colour: str) -> int:
    rgb = [int(hex_colour[i : i + 2], 16) for i in (1, 3, 5)]
    return int(np.all(image == rgb, axis=2).sum())


def chromium(*args: str, profile: Path) -> subprocess.CompletedProcess:
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: install it with '{INSTALL_CHROMIUM}'", pytrace=False)
    flags = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
             "--disable-component-update", "--disable-sync", f"--user-data-dir={profile}", "--window-size=1280,2400"]
    return subprocess.run([str(CHROMIUM), *flags, *args], capture_output=True, text=True, timeout=120)


def test_html_charts_render_in_a_browser(workshop, tmp_path):
    folder = tmp_path / "room"
    folder.mkdir()
    result = workshop.report("--format", "html", cwd=folder)
    page = folder / "debuglab-report.html"
    assert result.stdout.strip() == str(page) and page.is_file()
    html = page.read_text()
    assert "<script" not in html and "://" not in html.replace("http://www.w3.org/2000/svg", ""), "the page must work offline, JS off"

    dom = chromium("--dump-dom", page.as_uri(), profile=tmp_path / "chromium-dom")
    assert dom.returncode == 0, dom.stderr
    for title in TITLES.values():
        assert f"<title>{title}" in dom.stdout, f"chart {title!r} not in the rendered page"
    assert "encoder: no gradient" in dom.stdout  # grad-01's dead encoder, flagged in the before chart

    screenshot = tmp_path / "report.png"
    shot = chromium(f"--screenshot={screenshot}", page.as_uri(), profile=tmp_path / "chromium-shot")
    assert shot.returncode == 0 and screenshot.is_file(), shot.stderr
    image = read_png(screenshot)
    assert image.shape[:2] == (2400, 1280)
    background = image[5, 5]
    assert (np.any(image != background, axis=2)).mean() > 0.1, "the page rendered (almost) blank"
    assert pixels_of(image, BEFORE) > 200, "no pixel of the before (broken) colour: the SVG charts did not render"
    assert pixels_of(image, AFTER) > 200, "no pixel of the after (fixed) colour: the SVG charts did not render"
