"""The shipped catalog: every lab is complete, parses, and keeps the contract."""

import difflib
import re

import pytest

from debuglab import catalog, profiles, selftest

LAB_IDS = catalog.lab_ids()


def test_the_first_seven_labs_are_there():
    assert {"leak-01", "leak-02", "leak-03", "grad-01", "dims-01", "nan-01", "data-01"} <= set(LAB_IDS)


@pytest.mark.parametrize("lab_id", LAB_IDS)
def test_lab_is_complete(lab_id):
    lab = catalog.load(lab_id)
    assert lab.readme_path.is_file() and lab.train_path.is_file() and lab.fix_path.is_file()
    assert len(lab.hints) >= 3
    assert len(lab.decoys()) >= 2
    for decoy in lab.decoys():
        assert selftest.decoy_expectation(decoy)
        assert re.search(r"^#\s*why:", decoy.read_text(), re.M), f"{decoy} does not say why it is wrong"
    if lab.outcome:
        assert lab.checks_path is not None, f"{lab_id} has outcome bounds but no checks.py"


@pytest.mark.parametrize("lab_id", LAB_IDS)
def test_lab_explains_its_solution(lab_id):
    """`debuglab solution` shows fixtures/<id>/solution.md: the root cause, why the fix, a rule to keep."""
    lab = catalog.load(lab_id)
    text = (lab.fixture_dir / "solution.md").read_text()
    assert text.startswith(f"# {lab_id}: ")
    sections = re.split(r"^## ", text, flags=re.M)[1:]
    assert [s.splitlines()[0] for s in sections] == ["Root cause", "Why this fix", "Remember"]
    for section in sections:
        body = section.split("\n", 1)[1].strip()
        assert len(body.split()) >= 8, f"{lab_id}: section '{section.splitlines()[0]}' is nearly empty"
    assert len(text.split()) <= 260


@pytest.mark.parametrize("lab_id", LAB_IDS)
def test_lab_script_looks_like_real_code(lab_id):
    lab = catalog.load(lab_id)
    source = lab.train_path.read_text()
    assert "debuglab" not in source
    assert len(source.splitlines()) <= 200
    for marker in ("BUG", "FIXME", "TODO", "XXX"):
        assert marker not in source, f"{lab_id}/train.py marks its bug with {marker}"


@pytest.mark.parametrize("lab_id", LAB_IDS)
def test_reference_fix_is_a_small_diff(lab_id):
    lab = catalog.load(lab_id)
    before = lab.train_path.read_text().splitlines()
    after = lab.fix_path.read_text().splitlines()
    changed = [line for line in difflib.unified_diff(before, after, n=0) if line[:1] in "+-" and line[:3] not in ("+++", "---")]
    # Small: a perf lab's fix that turns a Python loop into one batched op is the largest, at about 15 lines.
    assert 0 < len(changed) <= 16, f"{lab_id}: the fix changes {len(changed)} lines"


def test_profiles_parse_and_cover_cpu_and_cuda():
    names = profiles.all_profiles()
    assert {"cpu", "cuda"} <= set(names)
    for profile in names.values():
        assert profile.targets["step_time_ratio"] >= 1.0
    assert names["cuda"].targets["step_time_ratio"] <= names["cpu"].targets["step_time_ratio"]


def test_an_h100_class_gpu_gets_the_tight_profile(monkeypatch):
    monkeypatch.setattr(profiles, "detect_device", lambda: "cuda")
    monkeypatch.setattr(profiles, "gpu_name", lambda: "NVIDIA H100 80GB HBM3")
    chosen = profiles.choose("cuda", None)
    assert chosen.name == "h100" and chosen.targets["step_time_ratio"] <= 1.1 and chosen.targets["dataloader_wait_fraction"] <= 0.05
    monkeypatch.setattr(profiles, "gpu_name", lambda: "NVIDIA A10G")
    assert profiles.choose("cuda", None).name == "cuda"


# The catalog's coverage, as the course promises it.
LABS = [catalog.load(i) for i in LAB_IDS]


def test_the_catalog_has_thirty_seven_labs():
    assert len(LABS) >= 37


SECOND_EDITION_LABS = 62


@pytest.mark.parametrize("family", catalog.FAMILIES)
def test_every_family_has_three_labs_at_every_difficulty(family):
    mine = [lab for lab in LABS if lab.family == family]
    assert len(mine) >= 3, family
    assert {lab.difficulty for lab in mine} == {1, 2, 3}, family


def test_the_second_edition_has_sixty_two_labs():
    assert len(LABS) >= SECOND_EDITION_LABS


def test_every_course_area_has_two_labs():
    for area in catalog.AREAS:
        assert sum(lab.area == area for lab in LABS) >= 2, area
    assert all(lab.topic for lab in LABS)


def test_distributed_labs_run_two_ranks_under_the_dist_probe():
    dist_labs = [lab for lab in LABS if lab.family == "dist"]
    assert len(dist_labs) >= 3
    for lab in dist_labs:
        assert lab.nproc == 2 and "dist" in lab.probes
        assert "init_process_group" in lab.train_path.read_text()


# An interviewer's red flags, each the bug of a named lab: (lab, the check its pristine script must fail,
# words in the lab's topic).
RED_FLAGS = {
    "weights as raw tensors, not nn.Parameter": ("grad-02", "parameter_registration", "linear layer"),
    "state that should be a registered buffer": ("loop-07", "reloaded_accuracy", "buffers"),
    "zero_grad forgotten": ("loop-05", "zero_grad", "accumulation"),
    "evaluation without no_grad": ("loop-02", "peak_memory", "no_grad"),
    "evaluation that leaves the model in eval mode": ("loop-01", "train_mode", "eval modes"),
    "no gradient clipping: the loss explodes": ("nan-02", "numerics", "clipping"),
    "a checkpoint that cannot resume": ("loop-03", "loss_spike", "resume"),
    "targets not detached": ("grad-05", "heldout_accuracy", "not detached"),
}


@pytest.mark.parametrize("flag", RED_FLAGS)
def test_each_red_flag_is_the_bug_of_a_lab(flag):
    lab_id, check, words = RED_FLAGS[flag]
    assert lab_id in LAB_IDS, f"no lab for the red flag: {flag}"
    lab = catalog.load(lab_id)
    assert lab.expect_broken == check and words in lab.topic


# GPU-only labs: `[expect] gpu_only = "REASON"` (docs/authoring-labs.md, "GPU-only labs").
GPU_REASON = "the copies it teaches exist only beside a GPU"


def gpu_only_toml(tmp_path, expect: str) -> "Path":
    """The test catalog's lab.toml with its [expect] table replaced."""
    from conftest import TEST_CATALOG

    toml = (TEST_CATALOG / "labs" / "loop-01" / "lab.toml").read_text(encoding="utf-8")
    path = tmp_path / "lab.toml"
    path.write_text(toml.replace('[expect]\nbroken = "zero_grad"', f"[expect]\n{expect}"))
    return path


def test_a_gpu_only_lab_skips_its_check_on_any_device_but_a_cuda_gpu(tmp_path):
    lab = catalog.parse_lab("loop-99", gpu_only_toml(tmp_path, f'broken = "step_time"\ngpu_only = "{GPU_REASON}"'))
    assert lab.expect_broken == "step_time" and lab.gpu_only == GPU_REASON
    assert lab.skips_on("cpu") and lab.skips_on("mps") and not lab.skips_on("cuda")
    note = lab.skip_note("cpu")
    assert "costs a GPU, not a CPU" in note and "step_time check is skipped" in note and note.endswith(GPU_REASON)
    assert lab.skip_note("mps").startswith("this lab's bug costs a CUDA GPU, not this mps device: on this machine (mps)")
    plain = catalog.parse_lab("loop-99", gpu_only_toml(tmp_path, 'broken = "step_time"'))
    assert not plain.gpu_only and not plain.skips_on("cpu")


@pytest.mark.parametrize(
    "expect, problem",
    [
        ('broken = "step_time"\ngpu_only = "  "', "is empty"),
        ('broken = "step_time"\ngpu_only = true', "must be a string"),
        (f'broken = "zero_grad"\ngpu_only = "{GPU_REASON}"', "does not depend on the device"),
    ],
)
def test_a_malformed_gpu_only_key_is_named_in_one_line(tmp_path, expect, problem):
    path = gpu_only_toml(tmp_path, expect)
    with pytest.raises(catalog.DebuglabError) as raised:
        catalog.parse_lab("loop-99", path)
    message = str(raised.value)
    assert message.startswith(f"{path}: key 'expect.gpu_only' ") and problem in message and "\n" not in message


def test_the_shipped_gpu_only_labs_fail_a_device_check_and_say_so_in_their_report():
    gpu_labs = [lab for lab in LABS if lab.gpu_only]
    assert {lab.id for lab in gpu_labs} >= {"perf-04", "perf-05"}
    for lab in gpu_labs:
        assert lab.expect_broken in catalog.DEVICE_CHECKS
        readme = lab.readme_path.read_text(encoding="utf-8")
        assert "without a CUDA GPU" in readme and "skipped" in readme, f"{lab.id}: its README must say what a CPU run shows"
