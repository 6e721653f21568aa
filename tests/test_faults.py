"""The harness under hostile or broken scripts: errors are the learner's, time limits and Ctrl-C
end the whole process tree, and a script cannot pass by faking or tampering."""

import json
import os
from pathlib import Path
import signal
import subprocess
import sys
import textwrap
import time

import pytest

from conftest import TEST_CATALOG, cli

FIX = (TEST_CATALOG / "fixtures" / "loop-01" / "fix.py").read_text()
BROKEN = (TEST_CATALOG / "labs" / "loop-01" / "train.py").read_text()


def verify_file(tmp_path, source: str, *extra: str, name: str = "attempt.py"):
    script = tmp_path / name
    script.write_text(textwrap.dedent(source))
    started = time.monotonic()
    result = cli("verify", "loop-01", "--file", str(script), "--json", *extra, env={"DEBUGLAB_DATA": str(TEST_CATALOG)})
    elapsed = time.monotonic() - started
    assert result.stdout.strip(), result.stderr
    return result.returncode, json.loads(result.stdout), elapsed, script


def test_syntax_error_is_an_error_with_the_learners_line(tmp_path):
    code, verdict, _, script = verify_file(tmp_path, "import torch\n\ndef broken(:\n    pass\n")
    assert code == 3 and verdict["status"] == "error"
    assert "SyntaxError" in verdict["message"] and f"{script.name}:3" in verdict["message"]


def test_exception_points_at_the_learners_line_not_the_checkers(tmp_path):
    source = FIX.replace("    loss.backward()\n", "    if step == 30:\n        raise ValueError('shapes disagree')\n    loss.backward()\n")
    code, verdict, _, script = verify_file(tmp_path, source)
    line = source.splitlines().index("        raise ValueError('shapes disagree')") + 1
    assert code == 3 and verdict["status"] == "error"
    assert "ValueError: shapes disagree" in verdict["message"] and f"{script.name}:{line}" in verdict["message"]
    output = open(verdict["artifacts"]["output"]).read()
    assert "debuglab" not in output.split("Traceback")[-1]  # the traceback shows none of the checker's frames


def test_segfault_is_an_error_with_the_line(tmp_path):
    code, verdict, _, script = verify_file(tmp_path, "import ctypes\nimport torch\n\nctypes.string_at(0)\n")
    assert code == 3 and verdict["status"] == "error"
    assert "segmentation fault" in verdict["message"] and f"{script.name}:4" in verdict["message"]


def test_out_of_memory_is_an_error(tmp_path):
    code, verdict, _, _ = verify_file(tmp_path, "import torch\n\nx = torch.empty(2**42)\n")
    assert code == 3 and "out of memory" in verdict["message"]


def test_the_memory_limit_is_set_inside_the_script_and_holds(tmp_path):
    """The profile's address-space limit (16 GiB on the CPU profile) is set by the child on itself
    (no preexec_fn), the script cannot lift it, and 20 GiB of address space is refused."""
    source = (
        "import resource\nimport torch\n\n"
        "print('limit', resource.getrlimit(resource.RLIMIT_AS))\n"
        "try:\n    resource.setrlimit(resource.RLIMIT_AS, (resource.RLIM_INFINITY, resource.RLIM_INFINITY))\n"
        "except ValueError:\n    print('cannot lift it')\n"
        "x = torch.empty(5 * 2**30)\n"
    )
    code, verdict, _, _ = verify_file(tmp_path, source)
    output = open(verdict["artifacts"]["output"]).read()
    limit = 16384 * 1024 * 1024
    assert f"limit ({limit}, {limit})" in output and "cannot lift it" in output
    assert code == 3 and "out of memory" in verdict["message"]


def test_time_limit_ends_the_run(tmp_path):
    code, verdict, elapsed, _ = verify_file(tmp_path, "import time\nimport torch\n\ntime.sleep(300)\n", "--profile", "quick")
    assert code == 3 and "time limit" in verdict["message"]
    assert elapsed < 40


def test_script_that_stops_training_early_cannot_pass(tmp_path):
    source = FIX.replace("    optimizer.step()\n", "    optimizer.step()\n    if step == 60:\n        raise SystemExit(0)\n")
    code, verdict, _, _ = verify_file(tmp_path, source)
    assert code == 1
    assert "trained_to_end" in [c["name"] for c in verdict["checks"] if c["status"] == "fail"]


def test_os_exit_mid_training_is_an_error(tmp_path):
    source = FIX.replace("    optimizer.step()\n", "    optimizer.step()\n    if step == 60:\n        import os; os._exit(0)\n")
    code, verdict, _, _ = verify_file(tmp_path, source)
    assert code == 3 and "exited before it finished" in verdict["message"]


def test_printing_a_verdict_changes_nothing(tmp_path):
    forged = json.dumps({"status": "pass", "message": "all checks pass", "checks": []})
    code, verdict, _, _ = verify_file(tmp_path, BROKEN + f"\nprint({forged!r})\n")
    assert code == 1 and verdict["status"] == "fail"


def test_removing_the_checkers_hooks_cannot_pass(tmp_path):
    tamper = "import torch.optim.optimizer as _o\n_o._global_optimizer_pre_hooks.clear()\n_o._global_optimizer_post_hooks.clear()\n"
    code, verdict, _, _ = verify_file(tmp_path, tamper + FIX)
    failed = [c["name"] for c in verdict["checks"] if c["status"] == "fail"]
    assert code == 1 and "harness_integrity" in failed and "trained_to_end" in failed


def test_patching_the_checker_in_process_cannot_pass(tmp_path):
    tamper = "import sys\nsys.modules['debuglab.probes.grad_flow'].GradFlowProbe.before_step = lambda *args: None\n"
    code, verdict, _, _ = verify_file(tmp_path, tamper + BROKEN)
    assert code == 1
    assert "harness_integrity" in [c["name"] for c in verdict["checks"] if c["status"] == "fail"]


def test_forged_channel_lines_are_rejected(tmp_path):
    forge = textwrap.dedent(
        """
        import json, os
        fake = json.dumps({"kind": "end", "how": "finished"}) + "\\n"
        for fd in map(int, os.listdir("/proc/self/fd")):
            if fd > 2:
                try:
                    os.write(fd, fake.encode())
                except OSError:
                    pass
        """
    )
    code, verdict, _, _ = verify_file(tmp_path, FIX + forge)
    assert code == 1
    assert "harness_integrity" in [c["name"] for c in verdict["checks"] if c["status"] == "fail"]


def test_verify_returns_promptly_when_the_script_leaves_a_process_behind(tmp_path):
    leave = "import os, time\nif os.fork() == 0:\n    time.sleep(120)\n    os._exit(0)\n"
    code, verdict, elapsed, script = verify_file(tmp_path, leave + FIX)
    assert code == 0, verdict["message"]
    assert elapsed < 60
    time.sleep(0.5)
    survivors = subprocess.run(["pgrep", "-f", str(script)], capture_output=True, text=True).stdout.split()
    assert survivors == []


def test_ctrl_c_ends_the_whole_process_tree(tmp_path):
    script = tmp_path / "slow.py"
    script.write_text("import time\nimport torch\n\ntime.sleep(300)\n")
    env = {**os.environ, "DEBUGLAB_DATA": str(TEST_CATALOG)}
    proc = subprocess.Popen([sys.executable, "-m", "debuglab", "verify", "loop-01", "--file", str(script)], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and not subprocess.run(["pgrep", "-f", "debuglab.harness.child"], capture_output=True).stdout:
        time.sleep(0.2)
    assert subprocess.run(["pgrep", "-f", "debuglab.harness.child"], capture_output=True).stdout, "the child never started"
    time.sleep(1.0)
    proc.send_signal(signal.SIGINT)
    proc.wait(timeout=20)
    assert proc.returncode == 130, proc.stderr.read()  # interrupted: not a fail (1), nothing recorded
    assert "interrupted" in proc.stderr.read().decode()
    time.sleep(0.5)
    assert subprocess.run(["pgrep", "-f", str(script)], capture_output=True).stdout == b""


def test_ctrl_c_stops_selftest_and_the_scripts_its_threads_run(tmp_path):
    """selftest runs labs in worker threads, which never receive Ctrl-C themselves: the main
    thread ends their scripts, no case starts after it, and nothing is written."""
    import shutil

    catalog = tmp_path / "catalog"
    shutil.copytree(TEST_CATALOG, catalog)
    fix = catalog / "fixtures" / "loop-01" / "fix.py"
    fix.write_text("import time\ntime.sleep(300)\n" + fix.read_text())  # the reference run hangs
    junit = tmp_path / "selftest.xml"
    env = {**os.environ, "DEBUGLAB_DATA": str(catalog), "DEBUGLAB_CACHE": str(tmp_path / "cache")}
    proc = subprocess.Popen([sys.executable, "-m", "debuglab", "selftest", "loop-01", "--jobs", "2", "--junit-xml", str(junit)],
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    ours = ["pgrep", "-f", f"debuglab.harness.child {tmp_path}"]  # the child's spec lies in this test's cache
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and not subprocess.run(ours, capture_output=True).stdout:
        time.sleep(0.2)
    assert subprocess.run(ours, capture_output=True).stdout, "the reference run never started"
    time.sleep(1.0)
    started = time.monotonic()
    proc.send_signal(signal.SIGINT)
    proc.wait(timeout=60)
    assert time.monotonic() - started < 10, "selftest went on after Ctrl-C"
    assert proc.returncode == 130 and "interrupted" in proc.stderr.read().decode()
    time.sleep(0.5)
    assert subprocess.run(ours, capture_output=True).stdout == b""
    assert not junit.exists() and not list((tmp_path / "cache").rglob("calibration.json"))


def test_a_reference_fix_that_fails_here_is_debuglabs_fault_exit_4(tmp_path):
    import shutil

    catalog = tmp_path / "catalog"
    shutil.copytree(TEST_CATALOG, catalog)
    fix = catalog / "fixtures" / "loop-01" / "fix.py"
    mine = tmp_path / "my_fix.py"
    mine.write_text(fix.read_text())  # the learner's file is a correct fix; the lab's own reference is broken
    fix.write_text("raise RuntimeError('the reference broke')\n" + fix.read_text())
    env = {**os.environ, "DEBUGLAB_DATA": str(catalog)}
    result = subprocess.run([sys.executable, "-m", "debuglab", "verify", "loop-01", "--file", str(mine)], env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 4, result.stderr
    assert "internal error" in result.stderr and "not of your fix" in result.stderr and "Traceback" not in result.stderr


def test_the_checkers_own_failure_in_a_run_is_a_checker_error_not_the_learners(tmp_path):
    from debuglab import profiles, verify
    from debuglab.harness.runner import RunSpec, run_script

    script = tmp_path / "fine.py"
    script.write_text("print('a correct script')\n")
    spec = RunSpec(script=script, run_dir=tmp_path / "run", steps=10, warmup_steps=2, probes=("grad_flow", "no_such_probe"))
    evidence = verify.evidence_of(run_script(spec), spec)
    v = verify.error_verdict(None, evidence, evidence.failure()[0], None, script, device="cpu", profile=profiles.choose(None, "cpu").name)
    assert v.status == "checker_error" and v.exit_code == 4
    assert "not your script" in v.message and (tmp_path / "run" / "checker-error.txt").read_text().strip()


@pytest.mark.parametrize(
    "fault",
    [
        "grad_flow:on_model",  # a phase, once
        "grad_flow:before_step",  # a phase inside the learner's optimizer.step()
        "numerics:after_step",
        "memory:on_backward",  # inside the learner's loss.backward()
        "memory:_count",  # a forward hook the probe registered, inside the learner's forward
        "outcome:finish",  # after the script ended
    ],
)
def test_a_probe_that_raises_is_debuglabs_fault_and_the_script_runs_on(fault, tmp_path, test_catalog):
    """A probe raising in any phase is exit 4, status checker_error; the learner's correct fix is
    not blamed, runs to its end, and the verdict names the probe that was dropped."""
    import json as json_

    fix = test_catalog / "fixtures" / "loop-01" / "fix.py"
    result = cli("verify", "loop-01", "--file", str(fix), "--json", env={"DEBUGLAB_TEST_PROBE_FAULT": fault})
    verdict = json_.loads(result.stdout)
    probe, phase = fault.split(":")
    assert result.returncode == 4 and verdict["status"] == "checker_error" and verdict["exit_code"] == 4, result.stdout
    assert f"probe {probe} raised in" in verdict["message"] and "dropped" in verdict["message"] and "not your script" in verdict["message"]
    assert "injected fault" in verdict["message"] and "Traceback" not in result.stderr
    run_dir = Path(verdict["artifacts"]["run_dir"])
    assert "injected fault" in (run_dir / "checker-error.txt").read_text()
    assert "step 100 |" in (run_dir / "output.log").read_text()  # the script ran on to its end
    progress = Path(os.environ["DEBUGLAB_WORKSPACE"]) / ".debuglab" / "progress.json"
    attempts = json_.loads(progress.read_text()).get("labs", {}).get("loop-01", {}).get("attempts") if progress.exists() else None
    assert not attempts, "debuglab's own failure was recorded as the learner's attempt"


def test_text_from_the_learners_run_prints_as_it_is_never_as_markup(tmp_path, capsys):
    """An exception message with brackets ("[/tmp] ...", "x[mask]") is escaped for rich: shown
    whole, and never a MarkupError."""
    from debuglab import render
    from debuglab.verdict import Check, Verdict

    v = Verdict("loop-01", "fail", "KeyError: '[/tmp]' in x[mask]", checks=[Check("zero_grad", "fail", "[/b]", "[red]0", "grads[bold] add up", 7)],
                artifacts={"run_dir": "/tmp/[dim]runs"})
    render.verdict(v, "train[1].py")
    out = capsys.readouterr().out
    for text in ("KeyError: '[/tmp]' in x[mask]", "grads[bold] add up (look at train[1].py:7)", "[/b]", "[red]0", "/tmp/[dim]runs"):
        assert text in out, (text, out)
    render.symptom({"steps": 3, "heldout_[acc]": 0.5}, {"step": 2, "check": "numerics", "message": "nan in [/layer]"})
    out = capsys.readouterr().out
    assert "heldout_[acc] (held-out)" in out and "nan in [/layer]" in out
