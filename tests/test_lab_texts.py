"""What the learner reads never gives the answer away, and the catalog covers the course: the
README and the first hint name no identifier the reference fix adds, hints climb from symptom to
fix, every lab has three decoys, every course topic has a lab, and docs/catalog.md is current."""

import io
import keyword
import re
import subprocess
import sys
import tokenize
from pathlib import Path

import pytest

from debuglab import catalog, selftest

LABS = catalog.all_labs()
ROOT = Path(__file__).resolve().parents[1]


def names(source: str) -> set[str]:
    """The identifiers a Python file uses (names, attributes, keyword arguments), not its strings
    or comments."""
    found = set()
    for token in tokenize.generate_tokens(io.StringIO(source).readline):
        if token.type == tokenize.NAME and not keyword.iskeyword(token.string):
            found.add(token.string)
    return found


def added_identifiers(lab: catalog.Lab) -> set[str]:
    """What the reference fix writes that the pristine script never uses: the fix's vocabulary.
    One- and two-letter names (loop variables) say nothing."""
    before = names(lab.train_path.read_text(encoding="utf-8"))
    after = names(lab.fix_path.read_text(encoding="utf-8"))
    return {name for name in after - before if len(name) > 2}


QUOTED_ERROR = re.compile(r"`(?:\w+\.)*\w*(?:Error|Exception): [^`]*`")


def leaks(text: str, identifiers: set[str]) -> list[str]:
    return sorted(name for name in identifiers if re.search(rf"(?<![\w.]){re.escape(name)}(?!\w)", text))


def test_the_leak_finder_finds_a_leak_and_passes_plain_prose():
    assert leaks("Train with `ignore_index` set", {"ignore_index", "contiguous"}) == ["ignore_index"]
    assert leaks("the loss is not contiguous with training", {"contiguous"}) == ["contiguous"]
    assert leaks("the team saw padded batches; x.contiguous_ok", {"contiguous"}) == []
    quoted = "it died with `RuntimeError: view size is not compatible (at least one dimension spans across two contiguous subspaces)`"
    assert leaks(QUOTED_ERROR.sub("", quoted), {"contiguous"}) == [] and leaks(quoted, {"contiguous"}) == ["contiguous"]
    assert names("y = x.contiguous().view(B, -1)  # reshape\nz = f(a, dim=1)") >= {"contiguous", "view", "dim"}
    assert "reshape" not in names("y = x.view(B, -1)  # reshape\n")


@pytest.mark.parametrize("lab", LABS, ids=lambda lab: lab.id)
def test_no_identifier_the_fix_adds_appears_in_the_readme_or_the_first_hint(lab):
    added = added_identifiers(lab)
    # PyTorch's own error text, quoted as the team saw it, may say "contiguous": the learner reads
    # it in the traceback anyway. Only what the lab's authors wrote is held to the rule.
    readme = QUOTED_ERROR.sub("", lab.readme_path.read_text(encoding="utf-8"))
    assert not leaks(readme, added), f"{lab.readme_path} names what the fix adds: {leaks(readme, added)}"
    assert not leaks(lab.hints[0], added), f"{lab.id}'s hint 1 names what the fix adds: {leaks(lab.hints[0], added)}"
    assert not leaks(lab.title, added), f"{lab.id}'s title names what the fix adds: {leaks(lab.title, added)}"


@pytest.mark.parametrize("lab", LABS, ids=lambda lab: lab.id)
def test_hints_climb_from_a_symptom_to_the_mechanism_to_the_fix(lab):
    kinds = [hint.split(":", 1)[0].strip() for hint in lab.hints]
    assert kinds[:3] == ["symptom", "mechanism", "fix"], f"{lab.id}: hints are {kinds}"


@pytest.mark.parametrize("lab", LABS, ids=lambda lab: lab.id)
def test_every_lab_has_three_decoys_each_naming_its_check(lab):
    decoys = lab.decoys()
    assert len(decoys) >= 3, f"{lab.id} has {len(decoys)} decoys; the catalog promises at least three wrong fixes people try"
    for path in decoys:
        expected = selftest.decoy_expectation(path)
        assert expected != "pass", f"{path}: a correct fix belongs in alternatives/, not decoys/"
        assert any(line.startswith("# why:") for line in path.read_text(encoding="utf-8").splitlines()[:5]), f"{path}: no '# why:' line"
    for path in lab.alternatives():
        assert selftest.decoy_expectation(path) == "pass", f"{path}: an alternative fix must say '# expect: pass'"


@pytest.mark.parametrize("topic", list(catalog.TOPIC_AREA))
def test_every_course_topic_has_a_lab(topic):
    assert any(topic in lab.topics for lab in LABS), f"no lab trains {topic!r}"


def test_every_lab_names_its_topics_and_the_big_areas_have_eight():
    assert all(lab.topics for lab in LABS), [lab.id for lab in LABS if not lab.topics]
    table = catalog.topic_table(LABS)
    for area in ("tensor operations", "debugging and optimisation"):
        labs = {i for row in table if row["area"] == area for i in row["labs"]}
        assert len(labs) >= 8, f"{area}: {len(labs)} labs"


def test_the_crash_family_raises_for_its_reason_and_only_it_does():
    crash = [lab for lab in LABS if lab.family == "crash"]
    assert len(crash) >= 6
    assert all(lab.expect_broken == catalog.CRASH and lab.expect_error for lab in crash)
    assert all(lab.expect_broken != catalog.CRASH for lab in LABS if lab.family != "crash")


def test_a_crash_lab_without_the_error_text_is_refused(tmp_path):
    toml = (catalog.paths.labs_dir() / "leak-03" / "lab.toml").read_text(encoding="utf-8")
    toml = toml.replace('family = "leak"', 'family = "crash"')
    toml = re.sub(r'broken = "[^"]+"', 'broken = "error"', toml)
    path = tmp_path / "lab.toml"
    path.write_text(toml)
    with pytest.raises(catalog.DebuglabError, match=r"expect.error' is missing"):
        catalog.parse_lab("crash-99", path)
    path.write_text(toml.replace('broken = "error"', 'broken = "error"\nerror = "Trying to backward"'))
    assert catalog.parse_lab("crash-99", path).expect_error == "Trying to backward"
    toml = toml.replace('broken = "error"', 'broken = "error"\nerror = "Trying to backward"')
    path.write_text(re.sub(r"(?m)^topics = .*$", "", toml).replace("format = 1", 'format = 1\ntopics = ["sorcery"]'))
    with pytest.raises(catalog.DebuglabError, match="'sorcery', not a course topic"):
        catalog.parse_lab("crash-99", path)
    path.write_text(toml.replace('family = "crash"', 'family = "leak"'))
    with pytest.raises(catalog.DebuglabError, match="only a crash lab"):
        catalog.parse_lab("leak-99", path)


def test_selftest_judges_a_crash_by_its_message():
    from types import SimpleNamespace

    lab = SimpleNamespace(expect_error="Trying to backward through the graph a second time")
    raised = SimpleNamespace(status="error", message="the script raised RuntimeError: Trying to backward through the graph a second time (train.py:88)")
    other = SimpleNamespace(status="error", message="the script raised RuntimeError: mat1 and mat2 shapes cannot be multiplied")
    assert selftest._as_intended(lab, "broken", "error", raised, [])
    assert not selftest._as_intended(lab, "broken", "error", other, [])  # a crash for another reason is a broken lab
    assert not selftest._as_intended(lab, "broken", "error", SimpleNamespace(status="fail", message=""), ["heldout_accuracy"])
    assert selftest._as_intended(lab, "decoy retain_graph", "memory_growth", SimpleNamespace(status="fail", message=""), ["memory_growth"])


def test_docs_catalog_is_current():
    current = subprocess.run([sys.executable, str(ROOT / "scripts" / "catalog-doc.py")], capture_output=True, text=True, check=True).stdout
    assert (ROOT / "docs" / "catalog.md").read_text(encoding="utf-8") == current, "docs/catalog.md is stale: python3 scripts/catalog-doc.py > docs/catalog.md"
