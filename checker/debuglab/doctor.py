"""doctor: the probes on a stranger's training script, reported as findings.

A lab has a reference fix to compare with; a stranger's script has none. So doctor does not reuse
the labs' checks and thresholds: each finding states what was measured against an expectation that
holds for any correct training loop, and why. A finding has a stable id, a severity (error: the
training is broken; warning: it works but costs; info: worth knowing on another device), the
evidence, the line, one way for the user to confirm it, and the labs that teach it.

FINDINGS is the catalogue (docs/findings.md is generated from it); DETECTORS turn a run's
evidence into findings, one small function each.
"""

from __future__ import annotations

import json
import math
import statistics
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

from debuglab.probes.profiler import sync_doing, tensor_core_note
from debuglab.verdict import strict

ERROR, WARNING, INFO = "error", "warning", "info"
SEVERITIES = (ERROR, WARNING, INFO)
FORMAT = "debuglab.doctor/1"  # name/version of the --json document
DOCTOR_PROBES = ("grad_flow", "memory", "numerics", "profiler", "loop_signals")

# Thresholds of doctor's own judgement (not the labs'): each is an expectation any correct loop meets.
GRAPHS_LEAKED = 20  # autograd graphs alive at once; a loop that frees each step's graph keeps one or two
HEAP_GROWTH_BYTES = 4096  # sustained heap growth per step after warm-up
TREND_MIN_STEPS = 50  # steps before the loss's trend is judged
CHANCE_MARGIN = 0.90  # the loss never went below this share of the chance level...
CHANCE_END = 0.95  # ...and ended above this share of it
NOT_FALLING = 0.98  # the last tenth of the losses averages at least this share of the first tenth
LR_COLLAPSE = 1e-4  # a learning rate below this share of its peak has stopped the training...
LR_COLLAPSE_REST = 1 / 3  # ...when at least this share of the steps seen remain after it
LR_EXPLOSION = 4.0  # times the rate the optimizer was built with, or a scheduler's declared maximum
DATALOADER_FRACTION = 0.5  # share of the step spent waiting for the next batch
GPU_IDLE = 0.5  # share of the traced steps' wall time in which the GPU ran no kernel
ADAPTIVE = {"Adam", "AdamW", "Adamax", "NAdam", "RAdam", "RMSprop", "Adagrad", "Adadelta", "SparseAdam", "Adafactor"}


@dataclass(frozen=True)
class FindingKind:
    id: str
    severity: str
    title: str
    meaning: str  # what it means, and why the expectation holds without a reference fix
    confirm: str  # one thing the user can do to see it themselves
    labs: tuple[str, ...] = ()


# Findings that describe what the training does rather than why: when another error-level finding
# is present, it is listed first, as the likelier cause.
SYMPTOMS = ("non-finite", "loss-at-chance", "loss-not-falling")


FINDINGS = {
    kind.id: kind
    for kind in (
        FindingKind(
            "leaked-graph", ERROR, "autograd graphs outlive their training step",
            "Each step's autograd graph (every activation saved for backward) is freed once its loss has been "
            "backpropagated and dropped. Here the graphs of many steps were alive at once: something keeps a tensor "
            "that still carries its graph across steps (a running loss total, outputs kept in a list, a recurrent "
            "state carried into the next batch). Memory and step time then grow until the run dies.",
            "print the process's memory (or torch.cuda.memory_allocated()) every 50 steps: it climbs. Store "
            "`loss.item()` or `tensor.detach()` where the script keeps it, and it stays flat.",
            ("leak-01", "leak-03"),
        ),
        FindingKind(
            "dead-gradient", ERROR, "a trained parameter gets no gradient",
            "A parameter the optimizer trains received no gradient (.grad None) or an all-zero one for several steps in "
            "a row, so it never changes. A correct model's trained parameters all get non-zero gradients from the "
            "first batches; a path cut by .detach(), .data, torch.no_grad(), argmax/round or zero_grad placed "
            "between backward and step gives exactly this.",
            "after loss.backward(), print `{n: None if p.grad is None else p.grad.abs().sum().item() for n, p in "
            "model.named_parameters()}`: the named parameters show None or 0.",
            ("grad-01",),
        ),
        FindingKind(
            "non-finite", ERROR, "NaN or inf in the loss, activations or gradients",
            "A non-finite value never comes back out of a network: one NaN in a gradient spreads to the weights and "
            "every later loss. The first place it appeared (the loss, a module's output, or a gradient) is named.",
            "wrap a few steps in `torch.autograd.set_detect_anomaly(True)`: it names the operation whose backward made "
            "the first NaN; or `assert torch.isfinite(loss)` each step to catch the batch.",
            ("nan-01", "nan-02", "nan-03", "nan-04"),
        ),
        FindingKind(
            "stale-gradient", ERROR, "gradients add up across optimizer steps",
            ".grad still held the previous step's gradient when the next backward began, so each update mixes every "
            "earlier batch in (PyTorch accumulates into .grad; only zero_grad() clears it). Legitimate accumulation "
            "clears .grad after each optimizer step; this run did not.",
            "print `p.grad.abs().sum()` for one parameter just before loss.backward(): from the second step on it is "
            "not zero.",
            ("loop-05",),
        ),
        FindingKind(
            "param-not-in-optimizer", ERROR, "a tensor gets gradients but no optimizer updates it",
            "A tensor that requires grad takes part in the loss and receives a gradient, but no optimizer's param "
            "groups hold it, so it keeps its initial value. (Frozen parts, requires_grad=False and left out of the "
            "optimizer, are not this.) Typical causes: a module added after the optimizer was built, an optimizer "
            "built from one submodule, or a plain tensor attribute that model.parameters() does not list.",
            "compare `{id(p) for g in optimizer.param_groups for p in g['params']}` with the named tensor's id, or "
            "print the tensor before and after training: it has not changed.",
            ("grad-02",),
        ),
        FindingKind(
            "loss-at-chance", ERROR, "the loss stays at the chance level",
            "The chance level is the loss of the best prediction that ignores the inputs: the entropy of the label "
            "frequencies for cross-entropy (ln K for K balanced classes), the variance of the targets for MSE, the "
            "mean label entropy for binary cross-entropy, all measured on the targets this run saw. A model that "
            "uses its inputs goes below it within a few hundred steps; this one never did, so its inputs do not "
            "reach the prediction in a usable form (labels misaligned with inputs, a scrambled reshape, a saturated "
            "output layer).",
            "train on one fixed batch of 32 examples for 200 steps: a working model drives the loss towards 0 on it; "
            "this one stays at the chance level.",
            ("dims-04", "data-03"),
        ),
        FindingKind(
            "loss-not-falling", ERROR, "the loss does not fall",
            "Over the run, the last tenth of the losses averages about as much as the first tenth. A training loop "
            "that updates the parameters it computes the loss with lowers the training loss; one that does not is "
            "not training.",
            "train on one fixed batch of 32 examples for 200 steps: the loss of a working loop falls towards 0.",
            ("loop-06",),
        ),
        FindingKind(
            "lr-collapse", ERROR, "the learning rate collapses while training goes on",
            "The learning rate fell below 1e-4 of its peak and stayed there for a large part of the run: the steps "
            "after that change nothing. Schedules that decay to zero (cosine, one-cycle) do so in the last steps "
            "only; reaching it early usually means a per-epoch scheduler stepped every batch, or a decay rate meant "
            "for another length of training.",
            "print `optimizer.param_groups[0]['lr']` once per epoch: it reaches ~0 long before the end.",
            ("loop-06",),
        ),
        FindingKind(
            "lr-explosion", ERROR, "the learning rate grows far above its configured value",
            "The learning rate rose above several times the value the optimizer was built with (or the maximum a "
            "one-cycle or cyclic scheduler declares). Warm-up schedules approach the configured rate from below; a "
            "multiplier that keeps growing (an uncapped warm-up lambda, a gamma above 1) does not stop.",
            "print `scheduler.get_last_lr()` every few hundred steps: it keeps climbing.",
            ("loop-06",),
        ),
        FindingKind(
            "batch-axis-normalisation", ERROR, "softmax or normalisation over the batch axis",
            "A softmax, log_softmax or normalize was taken over dim 0 of a batched tensor whose first dimension is the "
            "batch: each example's output then depends on the other examples in its batch, probabilities sum to 1 "
            "across examples instead of across classes, and evaluation with another batch size gives other answers.",
            "print `probs.sum(dim=-1)` for a batch: it is not all ones; or run the same example in two batches of "
            "different sizes: its output changes.",
            ("dims-03",),
        ),
        FindingKind(
            "loss-broadcast", ERROR, "predictions and targets of different shapes broadcast in the loss",
            "A (B, 1) prediction combined with a (B,) target (or the reverse) broadcasts to (B, B): every prediction "
            "is compared with every target, and the loss's minimum is the mean of the targets, not the right answer "
            "per example. torch warns about it for its own losses; a loss written by hand gets no warning.",
            "print `pred.shape, target.shape` right before the loss: they differ by a trailing 1.",
            ("dims-01",),
        ),
        FindingKind(
            "accumulation-not-averaged", ERROR, "accumulated micro-batch losses are summed, not averaged",
            "Several backward calls from the same line add their gradients into .grad before each optimizer step, "
            "and the loss behind each was not divided by the number of micro-batches: the gradient is k times the "
            "mean gradient, which multiplies SGD's step (and shifts clipping thresholds) by k. Under an adaptive "
            "optimizer (Adam, RMSprop), which divides by the gradient's scale, it costs less and is a warning.",
            "print the value `torch.nn.utils.clip_grad_norm_(model.parameters(), float('inf'))` returns before "
            "each step with accumulation 1 and with k: it grows with k.",
            ("loop-05",),
        ),
        FindingKind(
            "eval-in-train-mode", ERROR, "evaluation runs with the model in train mode",
            "The model was run under no_grad (an evaluation or inference pass) while it, or Dropout or BatchNorm "
            "inside it, was in train mode: Dropout drops units at random, so the metrics are noisy and pessimistic, "
            "and BatchNorm updates its running statistics from the evaluation data, which changes the trained model.",
            "print `model.training` inside the evaluation loop (True), or evaluate twice in a row: the figures differ.",
            ("loop-01",),
        ),
        FindingKind(
            "training-in-eval-mode", ERROR, "optimizer steps while the model is in eval mode",
            "The optimizer stepped while the whole model, or the Dropout in it, was in eval mode: something called "
            "model.eval() and nothing called model.train() again. Dropout is then off and normalisation statistics "
            "are frozen while it trains. (Freezing BatchNorm alone while fine-tuning is a deliberate choice and is "
            "not this.)",
            "print `model.training` right before `optimizer.step()`: it is False.",
            ("loop-01",),
        ),
        FindingKind(
            "sampler-same-order", ERROR, "every epoch visits the data in the same order",
            "A shuffling DistributedSampler was iterated again with the same epoch number: it seeds its shuffle with "
            "the epoch, so without sampler.set_epoch(epoch) every epoch repeats the first one's order.",
            "print the first few indices `list(iter(sampler))[:5]` at the start of two epochs: they are equal.",
            ("dist-01",),
        ),
        FindingKind(
            "ranks-diverge", ERROR, "the ranks end with different weights",
            "Data-parallel replicas must hold the same weights after every step; these differ at the end, so a "
            "rank made a local decision (a learning rate from an unreduced metric, parameters outside "
            "DistributedDataParallel) and the checkpoint depends on which rank saved it.",
            "save `sum(p.double().sum() for p in model.parameters())` on each rank at the end: the numbers differ.",
            ("dist-03",),
        ),
        FindingKind(
            "memory-growth", WARNING, "memory grows every step",
            "After warm-up the heap grew steadily from step to step without leaked autograd graphs: something kept "
            "per step (a history of tensors, predictions collected for a metric, a cache) is never freed. It is "
            "fine when it is bounded by an epoch; a list of detached tensors kept for the whole run is not.",
            "print the process's memory every 100 steps (or run `python3 -m memray run` on the script): it climbs "
            "by about the figure given per step.",
            ("leak-02", "leak-04"),
        ),
        FindingKind(
            "eval-without-no-grad", WARNING, "evaluation builds autograd graphs no backward uses",
            "The model ran in eval mode with gradients enabled and no backward followed: every evaluation forward "
            "kept its activations for a backward pass that never came, several times the memory inference needs.",
            "wrap the evaluation in `with torch.no_grad():` (or `torch.inference_mode()`): peak memory falls and "
            "nothing else changes.",
            ("loop-02",),
        ),
        FindingKind(
            "dataloader-bound", WARNING, "the loop waits for its data",
            "More than half of each step was spent waiting for the DataLoader's next batch: the model sits idle "
            "while batches are prepared. Precompute, vectorise or cache the per-item work, or add workers where "
            "cores are free.",
            "time `next(iter(loader))` against one training step on the same batch.",
            ("data-01",),
        ),
        FindingKind(
            "gpu-idle", WARNING, "the GPU sits idle for most of each step",
            "Over the traced steps the GPU ran kernels for less than half of the steps' wall time: the rest of the time "
            "it waited for the host. A training step that keeps the device fed leaves it idle only briefly between "
            "kernels; long gaps mean the host is the bottleneck: it waits for values read back (syncs), for the next "
            "batch, or spends longer in Python launching many tiny kernels than the device spends running them.",
            "open the trace (the artifacts' trace, in ui.perfetto.dev) and look at the GPU rows: gaps between kernels, "
            "with cudaStreamSynchronize, DataLoader __next__ or Python code on the host row at the same time.",
            ("perf-01",),
        ),
        FindingKind(
            "raw-tensor-parameter", WARNING, "a plain tensor with requires_grad acts as a parameter",
            "A tensor created with requires_grad=True (not an nn.Parameter of a module) is trained by the optimizer. "
            "It trains, but model.parameters(), state_dict(), .to(device) and zero_grad(set_to_none) on the model "
            "miss it: a checkpoint reloads without it and a move to the GPU leaves it behind.",
            "check `'name' in dict(model.named_parameters())` and in `model.state_dict()`: it is in neither.",
            ("grad-02", "loop-07"),
        ),
        FindingKind(
            "scheduler-before-optimizer", WARNING, "the LR scheduler stepped before the optimizer",
            "torch warned that lr_scheduler.step() ran before optimizer.step(): the first value of the schedule is "
            "skipped, and if it keeps happening the schedule runs ahead of the updates.",
            "put `scheduler.step()` after `optimizer.step()` and compare the learning rates printed at each step.",
            ("loop-06",),
        ),
        FindingKind(
            "implicit-softmax-dim", WARNING, "softmax without a dim",
            "torch warned that softmax chose its dimension implicitly: for a 3-D input it normalises over dim 0, "
            "usually the batch.",
            "pass `dim=-1` (or the class axis) explicitly and compare the outputs.",
            ("dims-03",),
        ),
        FindingKind(
            "checkpoint-every-rank", WARNING, "every rank writes the same checkpoint",
            "More than one rank wrote the same file: the writes race, and the file can end up truncated or mixed.",
            "list the file's modification times per rank, or guard the save with `if dist.get_rank() == 0:`.",
            ("dist-02",),
        ),
        FindingKind(
            "host-syncs", INFO, "the host reads values back from the device every step",
            "The script makes the host wait for the device about once or more per step. On a CPU, doctor counts calls "
            "to .item(), .tolist(), float() or .cpu() on training tensors, which cost nothing there; on a GPU, the "
            "device reports every synchronising operation (torch.cuda.set_sync_debug_mode), also those no method "
            "shows: printing a tensor, a boolean mask, nonzero(), a copy to the GPU without non_blocking=True from "
            "pinned memory. Each makes the host wait until the device has finished all queued work, which leaves the "
            "GPU idle between steps.",
            "on a GPU, profile a few steps (torch.profiler) and look for cudaStreamSynchronize / "
            "cudaMemcpy D2H at that line; or log every N steps instead and compare step times.",
            ("perf-01",),
        ),
        FindingKind(
            "tensor-cores-unused", INFO, "matrix products run in float32 on a card with tensor cores",
            "Matrix products and convolutions took a large share of the traced steps, and most of them ran in float32 "
            "with TF32 off (float32 matmul precision 'highest', no autocast). Cards of compute capability 8.0 and newer "
            "run them several times faster on their tensor cores in TF32 (10 bits of mantissa for the products, "
            "accumulated in float32) or in bfloat16 under autocast, which training tolerates in almost all models.",
            "add `torch.set_float32_matmul_precision('high')` at the top of the script (or run forward and loss under "
            "`torch.autocast(device_type='cuda', dtype=torch.bfloat16)`) and compare step times.",
        ),
        FindingKind(
            "torch-warning", INFO, "torch printed a warning during the run",
            "torch warned about something in this script. Warnings are how torch reports misuse it can see but "
            "will not stop; read it once.",
            "run the script with `python -W error::UserWarning` to turn the warning into a traceback at its line.",
        ),
    )
}


@dataclass(frozen=True)
class Finding:
    id: str
    severity: str
    title: str
    evidence: str
    why: str
    confirm: str
    line: int | None = None
    labs: tuple[str, ...] = ()


def finding(kind_id: str, evidence: str, line: int | None = None, severity: str | None = None) -> Finding:
    kind = FINDINGS[kind_id]
    return Finding(kind.id, severity or kind.severity, kind.title, evidence, kind.meaning, kind.confirm, line, kind.labs)


@dataclass
class Diagnosis:
    script: str
    status: str  # pass (no error-level finding) | fail | error (the script itself failed) | checker_error (debuglab did)
    message: str
    steps: int = 0
    step_unit: str = "optimizer step"
    findings: list[Finding] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    metrics: dict = field(default_factory=dict)
    device: str = ""
    profile: str = ""
    artifacts: dict = field(default_factory=dict)
    line: int | None = None

    @property
    def exit_code(self) -> int:
        return {"pass": 0, "fail": 1, "error": 3, "checker_error": 4}[self.status]

    def to_dict(self) -> dict:
        return strict({"format": FORMAT, **asdict(self), "exit_code": self.exit_code})

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, default=str, allow_nan=False)


# -- detectors: (evidence, metrics, context) -> findings ----------------------------------------------


@dataclass
class Context:
    evidence: object
    metrics: dict
    manual: bool  # no optimizer: each backward call was a step
    stopped: dict | None  # a probe ended the run early: trends are not judged

    def summary(self, probe: str) -> dict:
        return self.evidence.summary(probe)


def detect_graphs_and_memory(c: Context):
    graphs = c.metrics.get("graphs_alive_max") or 0
    if graphs >= GRAPHS_LEAKED:
        step = (c.stopped or {}).get("step") if (c.stopped or {}).get("check") == "memory_growth" else c.metrics.get("steps")
        yield finding(
            "leaked-graph",
            f"{graphs} autograd graphs were alive at once by step {step} (a loop that frees each step's graph keeps 1 or 2), "
            "and the count rose step after step",
            _loss_line(c),
        )
        return
    kept = c.summary("memory").get("kept_graphs")
    if kept and kept["to"] - kept["from"] >= (kept["to_step"] - kept["from_step"]) // 2:
        yield finding(
            "leaked-graph",
            f"live tensors that carry an autograd graph went from {kept['from']} at step {kept['from_step']} to {kept['to']} at "
            f"step {kept['to_step']} while the heap grew: each step's graph is kept (outputs stored with their graph)",
            _loss_line(c),
        )
        return
    growth = c.metrics.get("growth_sustained_bytes_per_step") or 0.0
    per_step = c.metrics.get("growth_bytes_per_step") or 0.0
    if c.metrics.get("growth_points", 0) >= 20 and per_step > HEAP_GROWTH_BYTES and growth > HEAP_GROWTH_BYTES:
        yield finding(
            "memory-growth",
            f"the heap grew {per_step / 1024:.1f} KB per step after warm-up, in both halves of the run "
            f"(a steady loop stays within {HEAP_GROWTH_BYTES // 1024} KB/step), with {graphs} autograd graph(s) alive at most",
        )


def detect_gradients(c: Context):
    summary = c.summary("grad_flow")
    flagged = summary.get("flagged", {})
    dead = {n: f for n, f in flagged.items() if "gradient" in f["problem"] and "finite" not in f["problem"] and "overflow" not in f["problem"]}
    if dead:
        names = list(dead)
        first = dead[names[0]]
        where = f" (in {first['where']})" if first.get("where") else ""
        more = f" and {len(names) - 3} more" if len(names) > 3 else ""
        yield finding(
            "dead-gradient",
            f"{', '.join(names[:3])}{more} got {first['problem']} at every step from step {first['step']} on{where}, "
            "though the optimizer trains them",
            first.get("line"),
        )
    stale = summary.get("stale", {})
    if stale:
        names = list(stale)
        yield finding(
            "stale-gradient",
            f".grad of {', '.join(names[:3])}{' and more' if len(names) > 3 else ''} still held the previous step's gradient "
            f"when backward ran again at step {min(stale.values())}",
        )
    owned_raw = [u for u in summary.get("unregistered", []) if u.get("owned")]
    missing = [{"name": u["name"] or f"a tensor of shape {tuple(u['shape'])}", "line": u.get("line")} for u in summary.get("unregistered", []) if not u.get("owned")]
    missing += summary.get("uncovered", [])
    if missing and not c.manual:
        yield finding(
            "param-not-in-optimizer",
            f"{', '.join(m['name'] for m in missing[:4])}{' and more' if len(missing) > 4 else ''} received gradients "
            "but no optimizer's param groups hold them: they never change",
            next((m["line"] for m in missing if m.get("line")), None),
        )
    if owned_raw and not c.manual:
        names = [u["name"] or f"a tensor of shape {tuple(u['shape'])}" for u in owned_raw]
        yield finding(
            "raw-tensor-parameter",
            f"{', '.join(names[:3])} require grad and are trained, but are not nn.Parameters of any module",
            next((u["line"] for u in owned_raw if u.get("line")), None),
        )
    eval_steps = summary.get("eval_steps")
    if eval_steps:
        what = "the model was in eval mode" if eval_steps["root"] else "Dropout was in eval mode"
        yield finding(
            "training-in-eval-mode",
            f"{what} during {eval_steps['count']} optimizer steps from step {eval_steps['step']} "
            f"({', '.join(eval_steps['modules'])})",
        )


def detect_numerics(c: Context):
    first = c.summary("numerics").get("first")
    flagged = c.summary("grad_flow").get("flagged", {})
    overflow = [n for n, f in flagged.items() if "finite" in f["problem"] or "overflow" in f["problem"]]
    if first:
        yield finding("non-finite", f"the first non-finite value appeared at step {first['step']}, in {first['where']}", first.get("line"))
    elif overflow:
        f = flagged[overflow[0]]
        yield finding("non-finite", f"{', '.join(overflow[:3])} got {f['problem']} from step {f['step']}", f.get("line"))
    elif c.metrics.get("nonfinite_losses"):
        yield finding("non-finite", f"{c.metrics['nonfinite_losses']} steps had a non-finite loss")


def detect_loss_trend(c: Context):
    signals = c.summary("loop_signals")
    if c.stopped or signals.get("optimizers_stepping", 1) > 1:
        return  # a stopped run is short; two optimizers (a GAN) pull their losses against each other
    task = signals.get("task_losses") or []
    points = task if len(task) >= TREND_MIN_STEPS else [[r["i"], r["loss"]] for r in c.evidence.steps if r.get("loss") is not None]
    values = [v for _, v in points if v is not None and math.isfinite(v)]
    if len(values) < TREND_MIN_STEPS or len(values) < len(points) * 0.9:
        return
    window = max(len(values) // 10, 5)
    means = [statistics.fmean(values[i : i + window]) for i in range(0, len(values) - window + 1)]
    first, last, lowest = means[0], means[-1], min(means)
    chance = signals.get("chance") if points is task else None
    kind = signals.get("loss_kind")
    if chance and chance > 1e-6 and lowest >= CHANCE_MARGIN * chance and last >= CHANCE_END * chance:
        level = {"cross_entropy": "the entropy of the label frequencies", "nll_loss": "the entropy of the label frequencies",
                 "mse_loss": "the variance of the targets"}.get(kind, "the mean entropy of the labels")
        yield finding(
            "loss-at-chance",
            f"over {len(values)} steps the {kind} loss never went below {lowest:.4g} and ended at {last:.4g}; the chance "
            f"level ({level}, from the targets this run saw) is {chance:.4g}",
            _loss_line(c),
        )
        return
    if first > 0 and last >= NOT_FALLING * first:
        yield finding(
            "loss-not-falling",
            f"the loss averaged {first:.4g} over the first {window} steps and {last:.4g} over the last {window} "
            f"({len(values)} steps in all)",
            _loss_line(c),
        )


def detect_learning_rate(c: Context):
    rates = [(r["i"], r["lr"]) for r in c.evidence.steps if r.get("lr") is not None]
    if len(rates) < 30:
        return
    signals = c.summary("loop_signals")
    values = [v for _, v in rates]
    peak_at = max(range(len(values)), key=values.__getitem__)
    peak = values[peak_at]
    if peak > 0:
        for i in range(peak_at, len(values)):
            if values[i] < LR_COLLAPSE * peak and max(values[i:]) < LR_COLLAPSE * peak:
                rest = len(values) - i
                if rest >= max(20, LR_COLLAPSE_REST * len(values)):
                    yield finding(
                        "lr-collapse",
                        f"the learning rate fell from its peak {peak:.3g} to {values[i]:.3g} at step {rates[i][0]} "
                        f"({values[-1]:.3g} at the end), and {rest} of the {len(values)} steps ran after that",
                    )
                break
    if signals.get("schedulers"):
        declared = [m for s in signals["schedulers"] for m in s.get("max_lrs", [])]
        ceiling = max([signals.get("ceiling") or 0.0, *declared])
        if ceiling > 0 and peak > LR_EXPLOSION * ceiling:
            types = ", ".join(sorted({s["type"] for s in signals["schedulers"]}))
            yield finding(
                "lr-explosion",
                f"the learning rate reached {peak:.3g} at step {rates[peak_at][0]}, {peak / ceiling:.1f} times the "
                f"{ceiling:.3g} the optimizer was built with (scheduler: {types})",
            )


def detect_shapes(c: Context):
    signals = c.summary("loop_signals")
    normalised = signals.get("normalised")
    if normalised:
        yield finding(
            "batch-axis-normalisation",
            f"{normalised['op']} over dim 0 of a {tuple(normalised['shape'])} tensor, whose first dimension is the batch "
            f"({signals.get('batch_size')} examples, as in the loss's input)",
            normalised.get("line"),
        )
    broadcast = signals.get("broadcast")
    size_warning = next((w for w in signals.get("warnings", []) if "target size" in w["message"]), None)
    if broadcast:
        yield finding(
            "loss-broadcast",
            f"a {tuple(broadcast['prediction'])} tensor that needs gradients and a {tuple(broadcast['target'])} one were "
            f"combined ({broadcast['op']}) into {tuple(broadcast['result'])}",
            broadcast.get("line"),
        )
    elif size_warning:
        yield finding("loss-broadcast", f"torch warned: {size_warning['message'].splitlines()[0]}", size_warning.get("line"))


def detect_accumulation(c: Context):
    signals = c.summary("loop_signals")
    steps = signals.get("accumulation") or []
    unscaled = [s for s in steps if not s["scaled"]]
    if len(steps) < 3 or len(unscaled) < len(steps) / 2:
        return
    calls = statistics.median(s["calls"] for s in unscaled)
    kinds = set(signals.get("optimizer_kinds") or [])
    adaptive = bool(kinds) and kinds <= ADAPTIVE
    yield finding(
        "accumulation-not-averaged",
        f"{len(unscaled)} optimizer steps each followed {calls:g} backward calls from line {unscaled[0]['line']}, on losses "
        f"not divided by {calls:g}" + (f"; the optimizer ({', '.join(sorted(kinds))}) is adaptive, which limits the damage" if adaptive else ""),
        unscaled[0]["line"],
        severity=WARNING if adaptive else ERROR,
    )


def detect_modes(c: Context):
    signals = c.summary("loop_signals")
    eval_train = signals.get("eval_train") or {}
    if eval_train.get("count", 0) >= 2:
        yield finding(
            "eval-in-train-mode",
            f"the model ran {eval_train['count']} times under no_grad while in train mode, with "
            f"{', '.join(eval_train.get('modules', []))} active",
            eval_train.get("line"),
        )
    eval_grad = signals.get("eval_grad") or {}
    if eval_grad.get("count", 0) >= 2 and not signals.get("backward_in_eval"):
        yield finding(
            "eval-without-no-grad",
            f"the model ran {eval_grad['count']} times in eval mode with gradients enabled, and no backward used those graphs",
            eval_grad.get("line"),
        )


def detect_speed(c: Context):
    fraction = c.metrics.get("dataloader_wait_fraction")
    if fraction is not None and fraction > DATALOADER_FRACTION:
        yield finding(
            "dataloader-bound",
            f"{100 * fraction:.0f}% of step time ({c.metrics['dataloader_wait_per_step_ms']:.2f} ms per step) went to waiting "
            "for the DataLoader's next batch",
            c.summary("profiler").get("dataset_line"),
        )
    syncs = c.metrics.get("syncs_per_step") or 0.0
    if syncs >= 1.0:
        lines = c.summary("profiler").get("sync_lines", {})
        busiest = max(lines.items(), key=lambda item: item[1][1], default=None)
        where = f"; the most from line {busiest[0]}, which {sync_doing(busiest[1][0])} {busiest[1][1]} times" if busiest else ""
        device = c.metrics.get("device", "cpu")
        by_device = c.metrics.get("syncs_counted_by") == "device"
        yield finding(
            "host-syncs",
            f"{syncs:.1f} {'synchronising operations, as the device reported them,' if by_device else 'reads of tensor values to the host'} "
            f"per step{where}" + (" (measured on the CPU, where they are free)" if device == "cpu" else ""),
            int(busiest[0]) if busiest else None,
        )


def detect_device(c: Context):
    idle = c.metrics.get("gpu_idle_fraction")
    if idle is not None and idle > GPU_IDLE:
        kernels = c.metrics.get("top_kernels") or []
        top = "; ".join(f"{k['name'][:60]} ({100 * k['share']:.0f}%)" for k in kernels[:2])
        yield finding(
            "gpu-idle",
            f"the GPU ran no kernel for {100 * idle:.0f}% of the traced steps' wall time (a fed device stays under "
            f"{100 * GPU_IDLE:.0f}%)" + (f"; most device time: {top}" if top else ""),
        )
    note = tensor_core_note(c.metrics)
    if note:
        yield finding("tensor-cores-unused", note)


KNOWN_WARNINGS = (
    ("target size", None),  # loss-broadcast, from detect_shapes
    ("lr_scheduler.step()` before `optimizer.step()", "scheduler-before-optimizer"),
    ("Implicit dimension choice", "implicit-softmax-dim"),
)


def detect_warnings(c: Context):
    shown = 0
    for w in c.summary("loop_signals").get("warnings", []):
        if not w.get("torch"):
            continue
        kind = next((k for text, k in KNOWN_WARNINGS if text in w["message"]), "torch-warning")
        if kind is None:
            continue
        if kind == "torch-warning":
            shown += 1
            if shown > 3:
                continue
        yield finding(kind, f"{w['category']}: {w['message'].strip().splitlines()[0][:300]}", w.get("line"))


def detect_ranks(c: Context):
    if len(getattr(c.evidence, "peers", [])) < 2:
        return
    from debuglab.probes.dist import DistProbe
    from debuglab.verify import JudgeContext

    names = {"sampler_epoch": "sampler-same-order", "rank_consistency": "ranks-diverge", "checkpoint_writers": "checkpoint-every-rank"}
    for check in DistProbe().judge(c.metrics, JudgeContext(None, {}, None, c.evidence)):
        if check.status == "fail" and check.name in names:
            yield finding(names[check.name], check.message, check.line)


DETECTORS = (
    detect_graphs_and_memory, detect_gradients, detect_numerics, detect_loss_trend, detect_learning_rate,
    detect_shapes, detect_accumulation, detect_modes, detect_speed, detect_device, detect_warnings, detect_ranks,
)


def _loss_line(c: Context) -> int | None:
    return c.summary("loop_signals").get("backward_line")


def diagnose(evidence, metrics: dict) -> tuple[list[Finding], list[str]]:
    stop = evidence.stop if evidence.stop and evidence.stop.get("check") != "steps_limit" else None
    manual = bool(evidence.summary("loop_signals").get("manual"))
    context = Context(evidence, metrics, manual, stop)
    findings: list[Finding] = []
    for detector in DETECTORS:
        for found in detector(context):
            if not any(f.id == found.id for f in findings):
                findings.append(found)
    order = {s: i for i, s in enumerate(SEVERITIES)}
    findings.sort(key=lambda f: (order[f.severity], f.id in SYMPTOMS))
    causes = [f.id for f in findings if f.severity == ERROR and f.id not in SYMPTOMS]
    if causes:
        findings = [
            replace(f, evidence=f"{f.evidence}; {', '.join(causes)} (above) may explain it") if f.severity == ERROR and f.id in SYMPTOMS else f
            for f in findings
        ]
    notes = []
    if manual:
        notes.append("no optimizer was used: each backward call counted as one step (parameters updated by hand)")
    if stop:
        notes.append(f"doctor stopped the script at step {stop['step']}: the evidence was conclusive")
    elif evidence.stop:
        notes.append(f"doctor stopped the script after {evidence.stop['step']} steps, as asked (--steps)")
    if context.summary("loop_signals").get("optimizers_stepping", 1) > 1 and not stop:
        notes.append("several optimizers step (adversarial or multi-part training): the loss trend and chance level were not judged")
    return findings, notes


# -- running a script ---------------------------------------------------------------------------------


NO_LIMIT_S = 30 * 24 * 3600.0  # doctor has no time limit of its own: a long training is what it watches


class NoTraining(Exception):
    """The script ran and doctor saw no training step: nothing to judge."""


class ScriptUnusable(Exception):
    """The script could not start: a missing package, arguments it needs, not Python at all."""


def check_script(script: Path) -> None:
    """Bad input, before anything runs: one line naming the file and the fix."""
    if not script.exists():
        raise ScriptUnusable(f"{script}: no such file")
    if not script.is_file():
        raise ScriptUnusable(f"{script}: not a file (doctor takes a training script, e.g. train.py)")
    data = script.read_bytes()
    if b"\0" in data[:4096]:
        raise ScriptUnusable(f"{script}: not a Python script (it is a binary file); doctor takes a training script, e.g. train.py")
    try:
        compile(data, str(script), "exec")
    except SyntaxError as exc:
        raise ScriptUnusable(f"{script}:{exc.lineno}: not valid Python ({exc.msg}); doctor takes a training script, e.g. train.py") from None
    except ValueError as exc:
        raise ScriptUnusable(f"{script}: not a Python script ({exc})") from None


def run(
    script: Path,
    profile,
    device: str,
    runs_root: Path,
    args: tuple[str, ...] = (),
    steps: int | None = None,
    warmup_steps: int = 10,
    nproc: int = 1,
    time_limit_s: float | None = None,
    on_event=None,
) -> Diagnosis:
    from debuglab.harness.runner import RunSpec, run_script
    from debuglab.verify import DOCTOR_STEPS, artifacts_of, checker_fault, evidence_of, measure, new_run_dir

    check_script(script)
    options = {
        **profile.targets,
        "stop_early": nproc == 1,
        "manual_steps": True,
        "memray": False,  # memray's tracker costs 30-45% of a small loop; mallinfo2 samples give the slope
        "stop_on_heap_growth": False,  # growth without leaked graphs is a warning: it never ends a run
        "scan_kept_graphs": True,  # when the heap grows, count the live tensors that carry a graph
        "max_steps": steps,
    }
    run_dir = new_run_dir(runs_root, "doctor")
    probes = DOCTOR_PROBES + (("dist",) if nproc > 1 else ())
    spec = RunSpec(
        script=script.resolve(), run_dir=run_dir, steps=DOCTOR_STEPS, warmup_steps=warmup_steps, probes=probes,
        device=device, threads=profile.threads, time_limit_s=time_limit_s or NO_LIMIT_S, memory_limit_mb=profile.memory_limit_mb,
        options=options, nproc=nproc, args=tuple(args),
    )
    result = run_script(spec, on_event=on_event)
    evidence = evidence_of(result, spec)
    artifacts = artifacts_of(evidence)
    failure = evidence.failure()
    steps_done = evidence.steps_done
    fault = checker_fault(evidence)
    if fault is not None:
        return Diagnosis(str(script), "checker_error", fault, steps_done, device=device, profile=profile.name, artifacts=artifacts)
    if failure is not None:
        unusable = _unusable(evidence, script, result.output_path, args)
        if unusable:
            raise ScriptUnusable(unusable)
        message, line = failure
        where = f" ({script.name}:{line})" if line else ""
        tail = f"; full output in {result.output_path}" if result.output_path else ""
        return Diagnosis(str(script), "error", f"{message}{where} after {steps_done} steps{tail}", steps_done, device=device,
                         profile=profile.name, artifacts=artifacts, line=line)
    if steps_done == 0:
        raise NoTraining(
            f"{script}: no training step seen: doctor watches training loops (an optimizer's step() or, without an "
            "optimizer, a backward() call), and this script ran to its end without one"
        )
    metrics, _ = measure(evidence, None, probes)
    if nproc > 1:
        metrics["ranks"] = nproc
    metrics["device"] = device
    findings, notes = diagnose(evidence, metrics)
    manual = bool(evidence.summary("loop_signals").get("manual"))
    errors = [f for f in findings if f.severity == ERROR]
    unit = "backward call" if manual else "optimizer step"
    if errors:
        message = f"{len(errors)} error-level finding{'s' if len(errors) > 1 else ''}: {', '.join(f.id for f in errors)}"
    else:
        others = len(findings)
        message = f"no error-level finding in {steps_done} {unit}s" + (f" ({others} warning or info finding{'s' if others > 1 else ''})" if others else "")
    return Diagnosis(
        str(script), "fail" if errors else "pass", message, steps_done, unit, findings, notes,
        {k: v for k, v in metrics.items() if not isinstance(v, (list, dict))}, device, profile.name, artifacts,
    )


def _unusable(evidence, script: Path, output_path, args) -> str | None:
    """A failure that is bad input, not a training bug: a package that is not installed, or
    arguments the script needs. Only when no training step ran."""
    if evidence.steps_done:
        return None
    ending = evidence.ending
    kind, message = ending.get("type"), ending.get("message", "")
    if kind in ("ModuleNotFoundError", "ImportError"):
        import re

        name = re.search(r"No module named '([^']+)'", message)
        package = name.group(1).split(".")[0] if name else None
        line = f":{ending['line']}" if ending.get("line") else ""
        fix = f" (pip install {package})" if package else ""
        return f"{script}{line} imports {package or 'a module'} that is not installed in this Python{fix}: {message}"
    if kind == "SystemExit" and "sys.exit(2)" in message:
        usage = ""
        if output_path and Path(output_path).is_file():
            lines = [ln.strip() for ln in Path(output_path).read_text(errors="replace").splitlines() if ln.strip()]
            usage = " | ".join(lines[-3:])
        given = " ".join(args) if args else "none"
        return (
            f"{script} exited with its usage message (arguments given: {given}): {usage}; pass the script's arguments "
            f"after --, e.g. debuglab doctor {script.name} -- --epochs 2"
        )
    return None


# -- rendering ----------------------------------------------------------------------------------------


def render(d: Diagnosis, script_label: str, color: bool = False) -> str:
    import click

    def style(text: str, **kw) -> str:
        return click.style(text, **kw) if color else text

    severity_colour = {ERROR: "red", WARNING: "yellow", INFO: "cyan"}
    counts = {s: sum(f.severity == s for f in d.findings) for s in SEVERITIES}
    head = "FAIL" if d.status == "fail" else "PASS" if d.status == "pass" else "ERROR"
    summary = ", ".join(f"{n} {s}{'s' if n != 1 else ''}" for s, n in counts.items() if n) or "no findings"
    unit = f"{d.steps} {d.step_unit}{'s' if d.steps != 1 else ''} seen"
    lines = [f"{style(head, bold=True, fg='red' if d.status != 'pass' else 'green')} {script_label}: {summary} ({unit}, {d.metrics.get('wall_s', 0):.1f} s)"]
    if d.status in ("error", "checker_error"):
        lines[0] = f"{style('ERROR', bold=True, fg='magenta')} {script_label}: {d.message}"
    for f in d.findings:
        where = f"  {script_label}:{f.line}" if f.line else ""
        lines.append("")
        lines.append(f"{style(f.severity.upper(), bold=True, fg=severity_colour[f.severity])}  {style(f.id, bold=True)}: {f.title}{where}")
        lines.append(f"  evidence: {f.evidence}")
        lines.append(f"  why: {f.why}")
        lines.append(f"  confirm: {f.confirm}")
        if f.labs:
            lines.append(f"  practise: {' / '.join('debuglab run ' + lab for lab in f.labs[:2])}")
    if d.notes:
        lines.append("")
        lines.extend(f"note: {n}" for n in d.notes)
    if d.artifacts.get("output"):
        lines.append(f"the script's output: {d.artifacts['output']}")
    return "\n".join(lines)


def catalogue_markdown() -> str:
    """docs/findings.md: every finding doctor can report (generated from FINDINGS)."""
    out = [
        "# doctor's findings",
        "",
        "Generated from `checker/debuglab/doctor.py` by `python3 scripts/findings-doc.py`; do not edit by hand.",
        "",
        "`debuglab doctor SCRIPT` reports findings, each with a stable id and a severity: **error** (the training is",
        "broken; exit code 1), **warning** (it works but costs), **info** (worth knowing on another device). Each",
        "finding in a report also gives the evidence measured in that run and the line of the script to look at.",
        "",
        "| id | severity | what it means |",
        "|---|---|---|",
    ]
    for kind in FINDINGS.values():
        out.append(f"| [`{kind.id}`](#{kind.id}) | {kind.severity} | {kind.title} |")
    for kind in FINDINGS.values():
        out += ["", f"## {kind.id}", "", f"**{kind.severity}**: {kind.title}.", "", kind.meaning, "", f"How to confirm: {kind.confirm}"]
        if kind.labs:
            out += ["", "Practise it: " + ", ".join(f"`debuglab run {lab}`" for lab in kind.labs)]
    return "\n".join(out) + "\n"
