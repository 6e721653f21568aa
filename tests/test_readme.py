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
