"""The README stays true: its catalog table lists every lab, and CI runs its test command."""

import re

from conftest import ROOT
from debuglab import catalog


def test_readme_catalog_table_lists_every_lab_with_its_title():
    text = (ROOT / "README.md").read_text()
    rows = dict(re.findall(r"^\| `([a-z]+-\d\d)` \| ([^|]+?) \|", text, re.M))
    for lab in catalog.all_labs():
        assert lab.id in rows, f"README's catalog table misses {lab.id}"
        assert rows[lab.id] == lab.title
    assert set(rows) == set(catalog.lab_ids())


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
