"""The README stays true: its catalog table lists every lab, and CI runs its test command."""

import re

from conftest import ROOT
from debuglab import catalog


def test_readme_names_the_catalog_as_it_is():
    """The README gives the number of labs, each family with its count, and points at the
    generated docs/catalog.md, which lists every lab with its title (test_lab_texts checks that
    page is current)."""
    text = (ROOT / "README.md").read_text()
    labs = catalog.all_labs()
    present = [family for family in catalog.FAMILIES if any(lab.family == family for lab in labs)]
    assert f"{len(labs)} labs in {len(present)} families" in text
    for family in present:
        count = sum(lab.family == family for lab in labs)
        assert f"| `{family}` ({count} labs) | {catalog.FAMILY_TITLES[family]} |" in text, family
    assert "docs/catalog.md" in text and "debuglab list --by-topic" in text
    page = (ROOT / "docs" / "catalog.md").read_text()
    rows = dict(re.findall(r"^\| `([a-z]+-\d\d)` \| \*+ \| ([^|]+?) \|", page, re.M))
    assert rows == {lab.id: lab.title.replace("|", "\\|") for lab in labs}


def test_ci_runs_the_readme_test_command():
    readme = (ROOT / "README.md").read_text()
    assert "make test" in readme and "make lab" in readme
    assert "make test" in (ROOT / ".ci" / "run").read_text()
    makefile = (ROOT / "Makefile").read_text()
    assert "debuglab run leak-03" in makefile and "pytest" in makefile


def test_every_command_and_lab_the_readme_names_exists():
    """A newcomer runs the workshop from the README alone: what it tells them to type must exist."""
    from debuglab.cli import main

    text = (ROOT / "README.md").read_text()
    # What a reader types: code blocks and `code spans` (prose says "debuglab and ..." too).
    code = "\n".join(re.findall(r"```.*?```", text, re.S) + re.findall(r"`[^`\n]+`", text))
    code = re.sub(r"#.*", "", code)  # comments in code blocks are prose
    commands = set(re.findall(r"\bdebuglab ([a-z]+)\b", code))
    assert {"watch", "progress", "solution", "session", "report"} <= commands
    unknown = commands - set(main.commands)
    assert not unknown, f"README names commands that do not exist: {sorted(unknown)}"
    subcommands = set(re.findall(r"\bdebuglab session ([a-z]+)\b", code))
    assert subcommands and subcommands <= set(main.commands["session"].commands)
    named = set(re.findall(r"`([a-z]+-\d\d)`", text)) | set(re.findall(r"debuglab [a-z]+ ([a-z]+-\d\d)\b", text))
    assert named and named <= set(catalog.lab_ids()), sorted(named - set(catalog.lab_ids()))


def test_the_readme_has_a_workshop_section_with_the_pair_layout():
    text = (ROOT / "README.md").read_text()
    section = text.split("## Running a workshop", 1)[1].split("\n## ", 1)[0]
    for needed in ("debuglab watch", "debuglab session start --pair", "debuglab report --merge", "--format json", "Agenda"):
        assert needed in section, needed


def test_the_ci_doctor_guide_uses_real_options_and_its_gate_blocks_a_buggy_script(tmp_path):
    """docs/ci-doctor.md: every option its doctor lines pass exists, and its gate script, run on a
    real doctor.json of a script with a dead gradient, exits 1."""
    import subprocess
    import sys

    from conftest import TESTS, cli
    from debuglab.cli import main

    guide = (ROOT / "docs" / "ci-doctor.md").read_text()
    known = {opt for param in main.commands["doctor"].params for opt in param.opts}
    for line in re.findall(r"debuglab doctor ([^\n]*)", guide):
        ours = line.split(" -- ")[0]
        used = set(re.findall(r"(?<!\S)(--[a-z-]+)", ours))
        assert used <= known, f"docs/ci-doctor.md passes {sorted(used - known)} to doctor"
    gate = re.search(r"python - <<'PY'\n(.*?)\nPY", guide, re.S).group(1)
    report = cli("doctor", str(TESTS / "doctor_corpus" / "autoencoder_frozen_by_data.py"), "--steps", "120", "--json", cwd=tmp_path)
    (tmp_path / "doctor.json").write_text(report.stdout)
    result = subprocess.run([sys.executable, "-"], input=gate, text=True, capture_output=True, cwd=tmp_path)
    assert result.returncode == 1 and "line" in result.stdout, (report.stdout[:500], result.stdout, result.stderr)
