"""Every probe on a case with its bug and one without (scripts in tests/scripts)."""

import json
import tempfile
from pathlib import Path

import pytest

from conftest import SCRIPTS
from conftest import doctor as run_doctor
from probe_cases import DIST_VARIANTS, write_variant

_verdicts: dict = {}
_VARIANTS = Path(tempfile.mkdtemp(prefix="debuglab-variants-"))


def doctor(name: str):
    """Judge base.py or one of its bug variants; each runs once per session (several tests read
    the same verdict)."""
    if name not in _verdicts:
        base = SCRIPTS / f"{name}.py"
        script = base if base.is_file() else write_variant(name, _VARIANTS)
        distributed = name.startswith("dist_")
        _verdicts[name] = run_doctor(script, nproc=2 if distributed else 1)
    return _verdicts[name]


def failed(verdict) -> list[str]:
    return [c.name for c in verdict.checks if c.status == "fail"]


def test_clean_loop_passes_every_probe():
    verdict = doctor("base")
    assert verdict.status == "pass", verdict.message
    assert verdict.metrics["steps"] == 120
    assert abs(verdict.metrics["growth_bytes_per_step"]) < 1024
    assert verdict.metrics["graphs_alive_max"] <= 2
    assert verdict.metrics["first_nonfinite_step"] is None


@pytest.mark.parametrize(
    "script, check, words",
    [
        ("detached", "gradient_flow", ["encoder.0.weight", "no gradient"]),
        ("stale_grad", "zero_grad", ["previous step's gradient"]),
        ("raw_weight", "parameter_registration", ["scale", "not an nn.Parameter"]),
        ("no_optimizer", "optimizer_coverage", ["head.weight", "no optimizer owns"]),
        ("leak_loss", "memory_growth", ["autograd graphs alive"]),
        ("leak_list", "memory_growth", ["heap grows"]),
        ("nan_mid", "numerics", ["step 61", "encoder.2"]),
        ("sync_every_step", "host_syncs", [".item()"]),
        ("slow_loader", "dataloader_wait", ["DataLoader"]),
        ("eval_left_on", "train_mode", ["eval mode", "step 32", "encoder.2"]),
        ("resumed_nan", "numerics", ["step 61", "encoder.2"]),
    ],
)
def test_probe_catches_its_bug(script, check, words):
    verdict = doctor(script)
    assert verdict.status == "fail"
    assert failed(verdict) == [check], verdict.message  # that check, and no false alarm beside it
    message = next(c.message for c in verdict.checks if c.name == check)
    for word in words:
        assert word in message


@pytest.mark.parametrize("script", ["eval_restored", "resumed", "loader_reads_values", "mse_loss"])
def test_the_same_structure_without_the_bug_passes(script):
    verdict = doctor(script)
    assert verdict.status == "pass", verdict.message
    assert verdict.metrics["steps"] == 120  # a resumed run's new optimizer is counted from its first step


def test_loss_spike_finds_a_jump_that_stays_and_not_one_bad_batch():
    from debuglab.probes.outcome import loss_spike

    smooth = [(i, 1.0 / i) for i in range(1, 101)]
    ratio, _ = loss_spike(smooth, warmup=10)
    assert ratio < 1.0
    one_bad_batch = [(i, 50.0 if i == 60 else 0.1) for i in range(1, 101)]
    assert loss_spike(one_bad_batch, warmup=10)[0] == pytest.approx(1.0)
    resumed_cold = [(i, 0.1 if i <= 60 else 2.0 * 0.98 ** (i - 60)) for i in range(1, 101)]
    ratio, step = loss_spike(resumed_cold, warmup=10)
    assert ratio > 10 and step == 61


def test_leaks_dead_gradients_and_nans_stop_the_run_early():
    # reported within 50 steps of the first sign, and the script is not run to its end
    assert doctor("leak_loss").metrics["steps"] <= 50
    assert doctor("detached").metrics["steps"] <= 50
    assert doctor("nan_mid").metrics["steps"] <= 61 + 1


def test_memory_probe_points_at_the_retaining_line():
    verdict = doctor("leak_list")
    check = next(c for c in verdict.checks if c.name == "memory_growth")
    source = Path(verdict.file).read_text().splitlines()
    assert "model.encoder(torch.randn(256, 16))" in source[check.line - 1]


def test_profiler_writes_a_chrome_trace_of_three_steps_with_the_learners_lines():
    """torch.profiler.schedule places the recorded steps; tensorboard_trace_handler writes the file;
    with_stack puts the script's own lines in it (what Perfetto shows under each op)."""
    verdict = doctor("base")
    trace = Path(verdict.artifacts["trace"])
    assert trace.name.endswith(".pt.trace.json") and "trace_error" not in verdict.artifacts
    events = json.loads(trace.read_text())["traceEvents"]
    assert any(e.get("name", "").startswith("aten::") for e in events)
    steps = {e["name"] for e in events if e.get("name", "").startswith("ProfilerStep#")}
    assert len(steps) == 3, steps
    script = Path(verdict.file).name
    assert any(e.get("cat") == "python_function" and e.get("name", "").startswith(script) for e in events)


def test_a_run_without_a_trace_says_why(tmp_path):
    """A run that ends before the traced steps has no trace, and the verdict says why rather than
    leaving the trace out silently."""
    script = tmp_path / "short.py"
    script.write_text((SCRIPTS / "base.py").read_text().replace("STEPS = 120", "STEPS = 4"))
    verdict = run_doctor(script)
    assert "trace" not in verdict.artifacts and verdict.artifacts["trace_error"] == "the run ended before the traced steps"


def test_sync_probe_counts_only_the_learners_file():
    # base.py calls .item() every 40 steps only; torch's own internals must not be counted
    verdict = doctor("base")
    assert verdict.metrics["syncs_per_step"] == pytest.approx(3 / 120, abs=0.01)


@pytest.mark.parametrize("script", ["dist_base", "dist_new_sampler_each_epoch"])
def test_a_correct_distributed_loop_passes_on_every_rank(script):
    verdict = doctor(script)
    assert verdict.status == "pass", verdict.message
    assert verdict.metrics["ranks"] == 2
    assert {c.name for c in verdict.checks} >= {"sampler_epoch", "checkpoint_writers", "rank_consistency"}


@pytest.mark.parametrize(
    "script, check, words",
    [
        ("dist_no_set_epoch", "sampler_epoch", ["same epoch", "set_epoch"]),
        ("dist_every_rank_saves", "checkpoint_writers", ["ranks 0, 1", "rank 0 only"]),
        ("dist_rank_local_lr", "rank_consistency", ["differ from rank 0", "0.weight"]),
    ],
)
def test_dist_probe_compares_the_ranks(script, check, words):
    assert script in DIST_VARIANTS
    verdict = doctor(script)
    assert verdict.status == "fail"
    assert check in failed(verdict), verdict.message
    others = {c.name: c.message for c in verdict.checks if c.status == "fail" and c.name not in (check, "host_syncs")}
    assert not others, others  # the lr variant reads loss.item() every step: host_syncs may fail beside it
    message = next(c.message for c in verdict.checks if c.name == check)
    for word in words:
        assert word in message


def test_a_rank_that_raises_is_an_error_naming_the_rank(tmp_path):
    script = tmp_path / "rank_raises.py"
    source = (SCRIPTS / "dist_base.py").read_text()
    script.write_text(source.replace("        optimizer.step()\n", "        optimizer.step()\n        if rank == 1:\n            raise ValueError('bad batch')\n", 1))
    verdict = run_doctor(script, nproc=2)
    assert verdict.status == "error"
    assert "rank 1" in verdict.message and "ValueError: bad batch" in verdict.message
    assert verdict.metrics["line"] is not None


def test_a_scaled_loss_is_reported_unscaled_and_the_model_still_pickles():
    verdict = doctor("amp_save")
    assert verdict.status == "pass", verdict.message  # torch.save(model) raised before hooks moved off the modules
    assert verdict.metrics["loss_first"] < 10  # the loss (about 4), not loss x 1024
