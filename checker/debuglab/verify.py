"""verify, run and doctor: run a script under the probes and turn the evidence into a verdict."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, replace
from pathlib import Path

from debuglab import calibration
from debuglab.catalog import SINGLE_PROCESS_PROBES, Lab
from debuglab.evidence import Evidence
from debuglab.harness.runner import RunSpec, run_script
from debuglab.probes.profiler import tensor_core_note, too_slow_ms
from debuglab.profiles import Profile
from debuglab.verdict import CHECKER_ERROR, ERROR, FAIL, SKIP, Check, Verdict, conclude

# Timings vary with the load on a shared machine: before one of these fails, both runs are repeated.
# Sync counts and peak memory do not vary with load, so they are judged from the one run.
TIMED_CHECKS = ("step_time", "dataloader_wait")
TIMING_METRICS = ("step_time_p20_ms", "step_time_median_ms", "dataloader_wait_per_step_ms", "dataloader_wait_fraction")
DOCTOR_STEPS = 10**9  # doctor does not know how many steps a script takes


@dataclass
class JudgeContext:
    lab: Lab | None
    targets: dict
    reference: dict | None
    evidence: Evidence

    def stop_for(self, check: str) -> dict | None:
        stop = self.evidence.stop
        return stop if stop and stop.get("check") == check else None


def merged_targets(profile: Profile, lab: Lab | None) -> dict:
    """The profile's targets with the lab's overrides for that profile on top."""
    return {**profile.targets, **(lab.targets_for(profile.name) if lab else {})}


def new_run_dir(root: Path, label: str) -> Path:
    stamp = time.strftime("%Y%m%d-%H%M%S")
    for n in range(1000):
        path = root / f"{stamp}-{label}" if n == 0 else root / f"{stamp}-{label}-{n}"
        if not path.exists():
            path.mkdir(parents=True)
            return path
    raise RuntimeError(f"cannot create a run folder under {root}")


def execute(
    script: Path,
    profile: Profile,
    device: str,
    run_dir: Path,
    lab: Lab | None = None,
    stream_output: bool = False,
    on_event=None,
    warmup_steps: int = 10,
    stop_early: bool = True,
    reference: dict | None = None,
    nproc: int = 1,
) -> Evidence:
    nproc = lab.nproc if lab else nproc
    # Ranks of a distributed job run to the end: one rank stopping early leaves the others waiting
    # in a collective.
    targets = {**merged_targets(profile, lab), "stop_early": stop_early and nproc == 1}
    if reference and reference.get("step_time_p20_ms"):
        targets["reference_step_ms"] = reference["step_time_p20_ms"]
    spec = RunSpec(
        script=script.resolve(),
        run_dir=run_dir,
        steps=lab.steps if lab else DOCTOR_STEPS,
        warmup_steps=lab.warmup_steps if lab else warmup_steps,
        probes=lab.probes if lab else SINGLE_PROCESS_PROBES + (("dist",) if nproc > 1 else ()),
        device=device,
        threads=profile.threads,
        time_limit_s=profile.time_limit_s,
        memory_limit_mb=profile.memory_limit_mb,
        checks_path=lab.checks_path if lab else None,
        stream_output=stream_output,
        options=targets,
        nproc=nproc,
    )
    return evidence_of(run_script(spec, on_event=on_event), spec)


def evidence_of(result, spec: RunSpec) -> Evidence:
    """A run's evidence: rank 0's in a distributed run, with every rank's as its peers."""
    if spec.nproc == 1:
        return Evidence(result, str(spec.script), spec.warmup_steps)
    peers = [Evidence(result.rank(r), str(spec.script), spec.warmup_steps) for r in range(spec.nproc)]
    for peer in peers:
        peer.peers = peers
    return peers[0]


def measure(evidence: Evidence, lab: Lab | None, names: tuple[str, ...] | None = None) -> tuple[dict, list]:
    """The probes' figures from a run (the lab's probes, or `names`), and the probe instances."""
    from debuglab import probes

    if names is None:
        names = lab.probes if lab else SINGLE_PROCESS_PROBES + (("dist",) if len(evidence.peers) > 1 else ())
    instances = [probes.create(name) for name in names]
    metrics = {"steps": evidence.steps_done, "wall_s": round(evidence.result.wall_s, 3)}
    for probe in instances:
        metrics.update(probe.summarise(evidence))
    return metrics, instances


# What each rank of a distributed run is judged on by itself; the outcome (rank 0's model) and the
# comparison across ranks (the dist probe) are judged once.
PER_RANK_PROBES = ("grad_flow", "memory", "numerics", "profiler")


def judge(lab: Lab | None, evidence: Evidence, profile: Profile, metrics: dict, instances: list, reference: dict | None) -> list[Check]:
    checks = _judge_rank(lab, evidence, profile, metrics, instances, reference)
    for r, peer in enumerate(evidence.peers[1:], start=1):
        peer_metrics, peer_instances = measure(peer, lab)
        peer_instances = [p for p in peer_instances if p.name in PER_RANK_PROBES]
        theirs = {c.name: c for c in _judge_rank(lab, peer, profile, peer_metrics, peer_instances, reference)}
        for i, check in enumerate(checks):
            other = theirs.get(check.name)
            if other is not None and other.status == FAIL and check.status != FAIL:
                checks[i] = replace(other, message=f"rank {r}: {other.message}")
    return checks


def _judge_rank(lab: Lab | None, evidence: Evidence, profile: Profile, metrics: dict, instances: list, reference: dict | None) -> list[Check]:
    context = JudgeContext(lab, merged_targets(profile, lab), reference, evidence)
    stop = evidence.stop
    checks: list[Check] = []
    if lab is not None:
        done = evidence.steps_done
        checks.append(
            Check(
                "trained_to_end",
                SKIP if stop else ("pass" if done >= lab.steps else FAIL),
                done,
                f">= {lab.steps} optimizer steps",
                f"not judged: the run was stopped at step {stop['step']}"
                if stop
                else (
                    ""
                    if done >= lab.steps
                    else f"the script made {done} of {lab.steps} optimizer steps: the model was not trained to the end"
                ),
            )
        )
    tampered = list(evidence.tampered)
    if evidence.result.rejected_lines:
        tampered.append(f"{evidence.result.rejected_lines} forged lines were written to the checker's channel")
    checks.append(
        Check.judge(
            "harness_integrity",
            not tampered,
            len(tampered),
            "0 changes",
            "the script changed the checker inside its own process: " + "; ".join(tampered),
        )
    )
    gpu_only = lab is not None and lab.skips_on(profile.device)
    for probe in instances:
        for check in probe.judge(metrics, context):
            if gpu_only and check.name == lab.expect_broken and not (stop and stop["check"] == check.name):  # a bug that costs only a GPU
                check = replace(check, status=SKIP, message=lab.skip_note(profile.device), line=None)
            elif stop and check.name != stop["check"] and check.status == FAIL:
                check = replace(check, status=SKIP, message=f"not judged: the run was stopped at step {stop['step']}", line=None)
            elif stop and check.name == stop["check"] and check.status != FAIL:
                # A stopped run never passes, whatever the steps it made say.
                check = replace(check, status=FAIL, message=stop["message"], line=stop.get("line"))
            checks.append(check)
    if stop and not any(c.name == stop["check"] for c in checks):
        checks.append(Check(stop["check"], FAIL, f"step {stop['step']}", "", stop["message"], stop.get("line")))
    if stop:  # the check that stopped the run leads
        checks.sort(key=lambda c: c.name != stop["check"])
    return checks


def error_verdict(lab_id: str | None, evidence: Evidence, message: str, line: int | None, script: Path, **extra) -> Verdict:
    fault = checker_fault(evidence)
    if fault is not None:  # debuglab's own failure: status checker_error, exit 4, never the learner's
        return Verdict(lab_id, CHECKER_ERROR, fault, file=str(script), **extra)
    where = f" ({script.name}:{line})" if line else ""
    output = evidence.result.output_path
    tail = f"; full output in {output}" if output else ""
    return Verdict(lab_id, ERROR, f"{message}{where}{tail}", file=str(script), metrics={"line": line}, **extra)


def checker_fault(evidence: Evidence) -> str | None:
    """debuglab's own failure inside a run, if any: its traceback is kept in the run folder, and
    the message asks for a report."""
    event = next((peer.result.first("checker_error") for peer in (evidence.peers or [evidence]) if peer.result.first("checker_error")), None)
    if event is None:
        return None
    path = evidence.result.run_dir / "checker-error.txt"
    path.write_text(event.get("traceback") or event.get("message", ""))
    return (
        f"debuglab itself failed during the run, not your script: {event.get('message', '')}; please report it "
        f"with {path}"
    )


def _steps_to(progress, phase: str, total: int | None, also=None):
    """An on_event callback that tells progress(phase, step, total) how far a run has got."""
    if progress is None:
        return also
    progress(phase, 0, total)

    def on_event(event: dict) -> None:
        if event.get("kind") == "steps" and event.get("records"):
            progress(phase, event["records"][-1]["i"], total)
        if also is not None:
            also(event)

    return on_event


def calibrate(lab: Lab, profile: Profile, device: str, runs_root: Path, on_event=None) -> dict:
    """Run the reference fix under the same probes; cache its figures for this machine."""
    evidence = execute(lab.fix_path, profile, device, new_run_dir(runs_root, "reference"), lab, on_event=on_event)
    failure = evidence.failure()
    if failure:
        raise RuntimeError(f"the reference fix of {lab.id} failed on this device: {failure[0]}")
    metrics, _ = measure(evidence, lab)
    calibration.store(lab, profile, metrics)
    return {k: metrics[k] for k in calibration.PERF_METRICS if metrics.get(k) is not None}


def verify(
    lab: Lab | None,
    script: Path,
    profile: Profile,
    device: str,
    runs_root: Path,
    label: str = "verify",
    on_event=None,
    reference: dict | None = None,
    warmup_steps: int = 10,
    nproc: int = 1,
    progress=None,
) -> Verdict:
    """Judge a script: a lab's copy (lab given) or any script (doctor: warmup_steps and nproc,
    the number of torchrun ranks, say how to run it). progress(phase, step, total) hears each
    batch of steps of every run this takes."""
    run_dir = new_run_dir(runs_root, label)
    if lab is not None and reference is None:
        reference = calibration.load(lab, profile)
    total = lab.steps if lab else None

    def run_again(phase: str) -> Evidence:  # the script once more, beside the reference of the moment
        return execute(script, profile, device, new_run_dir(runs_root, f"{label}-again"), lab, reference=reference, on_event=_steps_to(progress, phase, total))

    def reference_now(phase: str) -> dict:
        return calibrate(lab, profile, device, runs_root, _steps_to(progress, phase, total))

    def error_if_failed(evidence: Evidence, run_dir: Path) -> Verdict | None:
        failure = evidence.failure()
        if failure is None:
            return None
        verdict = error_verdict(lab.id if lab else None, evidence, failure[0], failure[1], script, **extra)
        _save(verdict, run_dir)
        return verdict

    evidence = execute(
        script, profile, device, run_dir, lab, on_event=_steps_to(progress, "your script", total, on_event),
        reference=reference, warmup_steps=warmup_steps, nproc=nproc,
    )
    extra = {"device": device, "profile": profile.name, "artifacts": artifacts_of(evidence)}
    if (error := error_if_failed(evidence, run_dir)) is not None:
        return error
    metrics, instances = measure(evidence, lab)
    fresh = False
    if lab is not None and reference is None:  # nothing cached for this machine yet
        reference, fresh = reference_now("reference fix (once per machine)"), True
    if lab is not None and (evidence.stop or {}).get("check") in TIMED_CHECKS:
        # The run was stopped as slow beyond doubt against a reference measured at another moment.
        # Measure the reference now: if the script is not that slow beside it, the machine was
        # busy, not the script slow, and the script runs again to its end.
        if not fresh:
            reference, fresh = reference_now("reference fix, side by side"), True
        limit = too_slow_ms(merged_targets(profile, lab), reference.get("step_time_p20_ms"))
        if limit is not None and metrics.get("step_time_p20_ms", float("inf")) <= limit:
            evidence = run_again("your script again (the machine was busy)")
            run_dir, extra["artifacts"] = evidence.result.run_dir, artifacts_of(evidence)
            if (error := error_if_failed(evidence, run_dir)) is not None:
                return error
            metrics, instances = measure(evidence, lab)
    checks = judge(lab, evidence, profile, metrics, instances, reference)
    if lab is not None and evidence.stop is None and any(c.name in TIMED_CHECKS and c.status == FAIL for c in checks):
        # Shared machines have noisy moments. Before a performance check may fail, measure again
        # side by side: the script once more (its better timings count) and the reference afresh.
        again = run_again("timing again, side by side")
        if again.failure() is None:
            repeat, _ = measure(again, lab)
            for key in TIMING_METRICS:
                if key in metrics and key in repeat:
                    metrics[key] = min(metrics[key], repeat[key])
        if not fresh:
            reference = reference_now("reference fix, side by side")
        checks = judge(lab, evidence, profile, metrics, instances, reference)
    if reference:
        metrics["reference"] = reference
    notes = [note for note in (tensor_core_note(metrics),) if note]  # worth knowing, never a failure
    verdict = conclude(lab.id if lab else None, checks, str(script), metrics=metrics, notes=notes, **extra)
    if lab is not None and lab.skips_on(profile.device) and verdict.status != FAIL:
        verdict.message += f"; {lab.skip_note(profile.device)}"  # a pass here never hides what a GPU would judge
    verdict.artifacts["series"] = str(write_series(evidence, metrics, run_dir, verdict.status, verdict.message))
    _save(verdict, run_dir)
    return verdict


# The figures a report draws beside the per-step series (see write_series).
SERIES_METRICS = (
    "steps", "growth_bytes_per_step", "graphs_alive_max", "peak_bytes", "step_time_p20_ms", "step_time_median_ms",
    "dataloader_wait_fraction", "syncs_per_step", "loss_first", "loss_last", "first_nonfinite_step", "reference",
)


def write_series(evidence: Evidence, metrics: dict, run_dir: Path, status: str, message: str) -> Path:
    """Per-step figures of one run, for the report's pictures: loss, memory, step time split into
    DataLoader wait, host syncs and the rest, and the gradient norm per layer. Written next to
    verdict.json as series.json."""
    steps = []
    for r in evidence.steps:
        row = {"i": r["i"], "dt_ms": round(r["dt"] * 1000, 4), "wait_ms": round(r.get("wait", 0.0) * 1000, 4)}
        row["sync_ms"] = round(r.get("sync_wait", 0.0) * 1000, 4)
        row["syncs"] = r.get("syncs", 0)
        if r.get("loss") is not None:
            row["loss"] = r["loss"]
        if r.get("grad_norms"):
            row["grad_norms"] = r["grad_norms"]
        steps.append(row)
    document = {
        "format": 1,
        "status": status,
        "message": message,
        "warmup_steps": evidence.warmup_steps,
        "stopped": evidence.stop,
        "steps": steps,
        "heap": [[step, heap] for step, heap in evidence.heap_points],
        "metrics": {k: metrics[k] for k in SERIES_METRICS if metrics.get(k) is not None},
    }
    path = run_dir / "series.json"
    path.write_text(json.dumps(document))
    return path


def artifacts_of(evidence: Evidence) -> dict:
    artifacts = {"run_dir": str(evidence.result.run_dir)}
    if evidence.result.output_path:
        artifacts["output"] = str(evidence.result.output_path)
    trace = evidence.summary("profiler").get("trace")
    if trace:
        artifacts["trace"] = trace
    elif evidence.summary("profiler").get("trace_error"):
        artifacts["trace_error"] = evidence.summary("profiler")["trace_error"]  # why there is no trace: shown, not hidden
    memory = evidence.summary("memory").get("memray")
    if memory:
        artifacts["memory_profile"] = memory
    snapshot = evidence.summary("memory").get("cuda_snapshot")
    if snapshot:
        artifacts["cuda_memory_snapshot"] = snapshot  # drag into https://pytorch.org/memory_viz
    return artifacts


def _save(verdict: Verdict, run_dir: Path) -> None:
    verdict.artifacts["verdict"] = str(run_dir / "verdict.json")
    (run_dir / "verdict.json").write_text(verdict.to_json())

