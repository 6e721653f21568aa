"""The profiler's GPU figures, on a CPU: host syncs as the device reports them (torch's sync debug
mode, stood in for by a test-only switch), device idle time and top kernels from hand-written
Chrome traces in the format torch writes, and the tensor-core note. Each with its bug and without."""

import json
from pathlib import Path

import pytest

from conftest import ROOT

TRACES = ROOT / "tests" / "traces"
SYNC = "called a synchronizing CUDA operation (Triggered internally at /pytorch/c10/cuda/CUDAFunctions.cpp:1.)"

# A library the script calls, which synchronises inside (as torch's GradScaler.step does on a GPU).
HELPER = f'''import warnings

import torch


def log_progress(loss):
    if torch.cuda.get_sync_debug_mode():  # torch warns like this on a GPU while the mode is "warn"
        warnings.warn({SYNC!r})
    return loss
'''

# Three kinds of sync per step: one from a line of the script (what .item() or f"{{loss:.4f}}"
# does), one inside a library called from a line, and one by the checker's own probe code, which is
# faked by code compiled with a file name under debuglab/probes/.
SCRIPT = f'''import os
import warnings

import torch
import torch.nn as nn

import debuglab.probes
import sync_library

SYNC = {SYNC!r}
probe_file = os.path.join(os.path.dirname(debuglab.probes.__file__), "reads_gradients.py")
probe = {{"warnings": warnings, "SYNC": SYNC}}
exec(compile("def read_back():\\n    warnings.warn(SYNC)\\n", probe_file, "exec"), probe)

torch.manual_seed(0)
model = nn.Linear(16, 4)
optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
for step in range(60):
    loss = model(torch.randn(32, 16)).pow(2).mean()
    if torch.cuda.get_sync_debug_mode(): warnings.warn(SYNC)  # line-sync
    sync_library.log_progress(loss)  # library-sync
    if torch.cuda.get_sync_debug_mode(): probe["read_back"]()  # probe-sync
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
    value = loss.item()  # no warning on a CPU: counted by neither counter once the device counts
print("done", value > 0)
'''


def _write_sync_script(folder: Path, with_syncs: bool) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "sync_library.py").write_text(HELPER)
    source = SCRIPT if with_syncs else "\n".join(line for line in SCRIPT.splitlines() if "-sync" not in line) + "\n"
    script = folder / "train.py"
    script.write_text(source)
    return script


def _doctor_with_events(script: Path):
    from debuglab import doctor, profiles
    from debuglab.paths import cache_dir

    events = []
    diagnosis = doctor.run(script, profiles.choose("cpu", None), "cpu", cache_dir() / "doctor", on_event=events.append)
    summary = next(e for e in events if e.get("kind") == "summary")["probes"]["profiler"]
    records = [r for e in events if e.get("kind") == "steps" for r in e["records"]]
    return diagnosis, summary, records


def _line_of(script: Path, marker: str) -> int:
    return next(i for i, line in enumerate(script.read_text().splitlines(), start=1) if marker in line)


def test_device_reported_syncs_count_for_the_learners_line_and_never_show(tmp_path, monkeypatch):
    monkeypatch.setenv("DEBUGLAB_TEST_FAKE_SYNC_MODE", "1")
    script = _write_sync_script(tmp_path / "syncs", with_syncs=True)
    diagnosis, summary, records = _doctor_with_events(script)
    assert diagnosis.status == "pass", diagnosis.message
    # The device counts from the first step after warm-up (10 steps), two syncs per step: the
    # script's line and the library's; the probe's is the checker's, and .item() is not counted twice.
    assert summary["device_syncs_from"] == 11
    assert [r["syncs"] for r in records if r["i"] >= 11] == [2] * 50
    assert diagnosis.metrics["syncs_per_step"] == 2.0 and diagnosis.metrics["syncs_counted_by"] == "device"
    lines = {int(line): entry for line, entry in summary["sync_lines"].items()}
    assert lines == {_line_of(script, "# line-sync"): [None, 50], _line_of(script, "# library-sync"): ["log_progress", 50]}
    found = {f.id: f for f in diagnosis.findings}
    assert "host-syncs" in found and "as the device reported them" in found["host-syncs"].evidence
    assert "torch-warning" not in found  # loop_signals never saw the warning
    output = Path(diagnosis.artifacts["output"]).read_text()
    assert "done True" in output and "synchronizing" not in output


def test_a_loop_without_syncs_counts_none_on_the_device(tmp_path, monkeypatch):
    monkeypatch.setenv("DEBUGLAB_TEST_FAKE_SYNC_MODE", "1")
    script = _write_sync_script(tmp_path / "clean", with_syncs=False)
    diagnosis, summary, records = _doctor_with_events(script)
    assert diagnosis.status == "pass" and summary["device_syncs_from"] == 11
    assert diagnosis.metrics["syncs_per_step"] == 0.0 and summary["sync_lines"] == {}
    assert not [f.id for f in diagnosis.findings if f.id in ("host-syncs", "torch-warning")]


def test_the_learners_own_warnings_still_print_while_the_device_counts(tmp_path, monkeypatch):
    monkeypatch.setenv("DEBUGLAB_TEST_FAKE_SYNC_MODE", "1")
    script = _write_sync_script(tmp_path / "own", with_syncs=True)
    script.write_text(script.read_text().replace("    value = loss.item()", "    if step == 40: warnings.warn('my own warning')\n    value = loss.item()"))
    diagnosis, _, _ = _doctor_with_events(script)
    output = Path(diagnosis.artifacts["output"]).read_text()
    assert "my own warning" in output and "synchronizing" not in output


def test_gpu_idle_time_and_top_kernels_from_a_host_bound_trace():
    from debuglab import trace

    found = trace.read(TRACES / "gpu_idle.pt.trace.json")
    assert found.steps == 3 and found.step_ms == pytest.approx(30.0)
    # per 10 ms step: a 1.5 ms GEMM and a 0.3 ms ReLU; the warm-up kernel before the steps is left out
    assert found.idle_fraction == pytest.approx(0.82)
    assert [(k["name"], k["calls"], k["ms"]) for k in found.top_kernels] == [
        ("ampere_sgemm_128x64_tn", 3, 4.5),
        ("void at::native::vectorized_elementwise_kernel<4, at::native::relu>", 3, 0.9),
    ]
    # the GEMM is counted once, for addmm (inside aten::linear), in float32
    assert found.matmul_ms == {"matmul": {"float32": pytest.approx(4.5)}}


def test_a_busy_device_is_not_idle():
    from debuglab import trace

    found = trace.read(TRACES / "gpu_busy.pt.trace.json")
    assert found.idle_fraction == pytest.approx(0.1)
    assert found.top_kernels[0]["share"] == pytest.approx(2 / 3, abs=1e-3)
    assert found.matmul_ms == {"matmul": {"bfloat16": pytest.approx(18.0)}}


@pytest.mark.parametrize("name, idle, finding_present", [("gpu_idle", 0.82, True), ("gpu_busy", 0.1, False)])
def test_gpu_idle_finding_with_long_gaps_and_not_on_a_busy_device(name, idle, finding_present):
    from debuglab import doctor
    from debuglab.probes.profiler import device_figures

    summary = {"trace": str(TRACES / f"{name}.pt.trace.json"), "device": "cuda", "tensor_cores": True, "matmul_precision": "highest", "cudnn_tf32": True}
    metrics = device_figures(summary)
    assert metrics["gpu_idle_fraction"] == pytest.approx(idle) and "device_time_unmeasured" not in metrics
    found = [f for f in doctor.detect_device(doctor.Context(None, metrics, False, None)) if f.id == "gpu-idle"]
    assert bool(found) == finding_present
    if found:
        assert found[0].severity == "warning" and "82%" in found[0].evidence and "ampere_sgemm" in found[0].evidence
        assert found[0].why and found[0].confirm and found[0].labs == ("perf-01",)


def test_on_a_cpu_the_device_figures_are_absent_with_the_reason():
    from conftest import doctor as run_doctor

    verdict = run_doctor(ROOT / "tests" / "scripts" / "base.py")
    assert "gpu_idle_fraction" not in verdict.metrics and "top_kernels" not in verdict.metrics
    assert verdict.metrics["device_time_unmeasured"] == "the run was on the CPU: no device kernels"
    assert verdict.metrics["syncs_counted_by"] == "methods" and verdict.notes == []


def test_tensor_core_note_from_a_gpu_trace_in_float32_and_not_in_bfloat16():
    from debuglab.probes.profiler import device_figures, tensor_core_note

    def note(name, **summary):
        summary = {"trace": str(TRACES / f"{name}.pt.trace.json"), "device": "cuda", "tensor_cores": True,
                   "matmul_precision": "highest", "cudnn_tf32": True, **summary}
        return tensor_core_note(device_figures(summary))

    assert "100% of that ran in float32" in note("gpu_idle")
    assert note("gpu_busy") is None  # bfloat16 under autocast
    assert note("gpu_idle", matmul_precision="high") is None  # TF32 allowed
    assert note("gpu_idle", tensor_cores=False) is None  # a card without tensor cores


MLP = '''import torch
import torch.nn as nn

torch.manual_seed(0)
model = nn.Sequential(nn.Linear(256, 512), nn.ReLU(), nn.Linear(512, 512), nn.ReLU(), nn.Linear(512, 10))
optimizer = torch.optim.SGD(model.parameters(), lr=0.01)
for step in range(30):
    x, y = torch.randn(256, 256), torch.randint(0, 10, (256,))
    with torch.autocast("cpu", dtype=torch.bfloat16, enabled=AUTOCAST):
        loss = nn.functional.cross_entropy(model(x), y)
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
'''


@pytest.mark.parametrize("autocast", [False, True])
def test_tensor_core_note_for_a_float32_mlp_and_not_under_bfloat16_autocast(tmp_path, monkeypatch, autocast):
    """The trace of a real run: the dtypes of the matrix products, measured by the profiler
    (record_shapes); the test switch pretends the CPU has tensor cores."""
    from conftest import cli, doctor as run_doctor

    monkeypatch.setenv("DEBUGLAB_TEST_TENSOR_CORES", "1")
    script = tmp_path / "mlp.py"
    script.write_text(MLP.replace("AUTOCAST", str(autocast)))
    verdict = run_doctor(script)
    assert verdict.metrics["tensor_cores"] is True and verdict.metrics["matmul_time_share"] >= 0.3, verdict.metrics
    if autocast:
        assert verdict.metrics["matmul_float32_share"] < 0.1 and verdict.notes == []
        return
    assert verdict.metrics["matmul_float32_share"] == 1.0
    assert verdict.status == "pass" and len(verdict.notes) == 1 and "tensor cores" in verdict.notes[0]  # a note, not a failure
    assert json.loads(verdict.to_json())["notes"] == verdict.notes
    report = json.loads(cli("doctor", str(script), "--json").stdout)
    finding = next(f for f in report["findings"] if f["id"] == "tensor-cores-unused")
    assert finding["severity"] == "info" and report["status"] == "pass"


def test_a_verdict_shows_its_notes_and_they_conform_to_the_schema(capsys):
    from importlib import resources

    import jsonschema

    from debuglab import render
    from debuglab.verdict import Check, Verdict

    verdict = Verdict(None, "pass", "all 1 checks pass", [Check("host_syncs", "pass", 0.0, "<= 0.50/step")], notes=["matrix products ran in float32"])
    render.verdict(verdict, "train.py")
    assert "note: matrix products ran in float32" in capsys.readouterr().out
    schema = json.loads(resources.files("debuglab").joinpath("schemas", "verdict.schema.json").read_text())
    jsonschema.validate(json.loads(verdict.to_json()), schema)
    without = json.loads(Verdict(None, "pass", "all pass").to_json())
    assert "notes" not in without  # a verdict without notes keeps the shape it always had
    jsonschema.validate(without, schema)
