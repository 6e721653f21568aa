"""The child side of the harness: installs the probes, then runs the learner's script.

Started as `python -m debuglab.harness.child SPEC`; SPEC is a JSON file the parent wrote and this
process deletes on reading. Events go to the parent over the channel (see channel.py).
"""

from __future__ import annotations

import faulthandler
import json
import os
import runpy
import sys
import time
import traceback
import warnings
import weakref
from pathlib import Path

HARNESS_DIR = str(Path(__file__).resolve().parent.parent)  # the debuglab package folder
FLUSH_EVERY = 25
SYMPTOM_GRACE = 20  # steps a symptom-only stop waits for a probe to name a cause


class StopRun(BaseException):
    """Raised from the optimizer hook to end a run whose failure is already certain.

    A BaseException, so the script's own `except Exception` blocks do not swallow it."""


class _quiet(warnings.catch_warnings):
    """Around the checker's own work in the learner's process: a warning it trips (a deprecated
    object met while scanning live objects, a probe's torch call) is not the learner's output.
    The learner's own warnings, raised outside these blocks, print as usual."""

    def __enter__(self):
        super().__enter__()
        warnings.simplefilter("ignore")


class ChildRun:
    """What the probes share inside the child: the spec, the step counter, the model, the channel."""

    def __init__(self, spec: dict, channel):
        self.spec = spec
        self.channel = channel
        self.script = str(Path(spec["script"]).resolve())
        self.run_dir = Path(spec["run_dir"])
        self.warmup_steps: int = spec["warmup_steps"]
        self.probes = []
        self.step = 0  # optimizer steps completed
        self.optimizers: list = []
        self.lead = None  # the optimizer whose steps are counted: the first, or one built after training began
        self.model = None
        self.param_names: dict[int, str] = {}  # id(parameter) -> qualified name in the model
        self.module_param_ids: set[int] = set()  # every parameter of every root module seen
        self.root_modules: list = []
        self.in_training = False
        self.step_losses: list = []
        self.records: list[dict] = []
        self.stop_reason: dict | None = None
        self._last_step_end: float | None = None
        self._depth = 0
        self._discovery_handles: list = []
        self.summaries: dict | None = None
        self.first_sign: dict | None = None
        self.pending_symptom: dict | None = None
        self._norms_key: tuple | None = None
        self._norms: dict[int, float] = {}
        self.optimizers_built = 0
        self.manual = None  # the stand-in optimizer when parameters are updated by hand
        self.dropped: list[dict] = []  # probes that raised, and were taken out so the script runs on
        self.max_steps: int | None = spec["options"].get("max_steps")
        self._after_quiet: list = []

    # -- used by probes ------------------------------------------------------------------------
    def send(self, kind: str, **payload) -> None:
        self.channel.send(kind, **payload)

    def stop(self, check: str, message: str, line: int | None = None, symptom: bool = False) -> None:
        """Ask to end the run after this step: `check` has failed beyond doubt. Under `run` (no
        early stop) the sign is only recorded, and the script goes on to its end.

        A symptom (slow steps) may have a cause another probe is about to name (a leak slows
        every step too), so it ends the run only after SYMPTOM_GRACE more steps without a cause."""
        sign = {"check": check, "message": message, "line": line, "step": self.step}
        if not self.spec["options"].get("stop_early", True):
            self.first_sign = self.first_sign or sign
        elif symptom:
            self.pending_symptom = self.pending_symptom or sign
        elif self.stop_reason is None:
            self.stop_reason = sign

    def gradient_norms(self, optimizer) -> dict[int, float]:
        """id(parameter) -> norm of its .grad, for the parameters with one, read to the host once
        per step however many probes ask (one host sync on a GPU)."""
        key = (self.step, id(optimizer))
        if self._norms_key != key:
            import torch

            params = [p for group in optimizer.param_groups for p in group["params"] if p.grad is not None]
            norms = torch.stack(torch._foreach_norm([p.grad for p in params])).float().cpu().tolist() if params else []
            self._norms_key, self._norms = key, {id(p): n for p, n in zip(params, norms)}
        return self._norms

    def bare_model(self):
        """The trained model, unwrapped from DistributedDataParallel in a distributed run."""
        from torch.nn.parallel import DistributedDataParallel

        return self.model.module if isinstance(self.model, DistributedDataParallel) else self.model

    def optimizer_params(self):
        for optimizer in self.optimizers:
            for group in optimizer.param_groups:
                yield from group["params"]

    def name_of(self, tensor) -> str:
        return self.param_names.get(id(tensor), f"<tensor {tuple(tensor.shape)}>")

    def module_line(self, qualified_name: str) -> tuple[str, int | None]:
        """The module owning a parameter or named submodule, and the line of the learner's file
        where the nearest enclosing module's forward is defined."""
        import inspect

        parts = qualified_name.split(".")
        for depth in range(len(parts), -1, -1):
            path = ".".join(parts[:depth])
            try:
                module = self.model.get_submodule(path) if self.model is not None else None
            except AttributeError:
                continue
            if module is None:
                break
            forward = type(module).forward
            if getattr(forward, "__code__", None) is not None and forward.__code__.co_filename == self.script:
                return f"{type(module).__name__}.forward", inspect.getsourcelines(forward)[1]
        return "", None

    def outside_quiet(self, fn) -> None:
        """Call fn once the quiet block around the current phase has ended. A probe that changes
        the learner's warning filters or warnings.showwarning needs it: a block's end restores both."""
        self._after_quiet.append(fn)

    def _run_after_quiet(self) -> None:
        pending, self._after_quiet = self._after_quiet, []
        for fn in pending:
            fn()

    def script_line(self, frame) -> int | None:
        """The innermost line of the learner's script in a frame's stack."""
        while frame is not None:
            if frame.f_code.co_filename == self.script:
                return frame.f_lineno
            frame = frame.f_back
        return None

    # -- core hooks ------------------------------------------------------------------------------
    def install(self) -> None:
        import torch
        from torch.nn.modules import module as module_hooks
        from torch.optim import optimizer as optimizer_hooks

        # Root-module discovery: global forward hooks only until the first optimizer step.
        def pre(module, args):
            if self._depth == 0 and module not in self.root_modules:
                self.root_modules.append(module)
            self._depth += 1

        def post(module, args, output):
            self._depth -= 1

        self._discovery_handles = [
            module_hooks.register_module_forward_pre_hook(pre),
            module_hooks.register_module_forward_hook(post, always_call=True),
        ]
        self.pre_handle = optimizer_hooks.register_optimizer_step_pre_hook(self._before_step)
        self.post_handle = optimizer_hooks.register_optimizer_step_post_hook(self._after_step)

        # Under a GradScaler, backward runs on scaler.scale(loss): the loss figures use the loss.
        self._unscaled = (lambda: None, None)  # (weak reference to the scaled loss, the loss itself)
        original_scale = torch.amp.GradScaler.scale

        def scale(scaler, outputs):
            scaled = original_scale(scaler, outputs)
            if isinstance(outputs, torch.Tensor) and isinstance(scaled, torch.Tensor) and outputs.numel() == 1:
                self._unscaled = (weakref.ref(scaled), _own_copy(outputs))
            return scaled

        torch.amp.GradScaler.scale = scale
        original_backward = torch.autograd.backward

        def backward(tensors, *args, **kwargs):
            root = tensors[0] if isinstance(tensors, (tuple, list)) else tensors
            if isinstance(root, torch.Tensor):
                if root.numel() == 1:
                    scaled, unscaled = self._unscaled
                    self.step_losses.append(unscaled if scaled() is root else _own_copy(root))
                self.each_probe("on_backward", root)
                if self.manual is None and self.optimizers_built == 0 and self.spec["options"].get("manual_steps"):
                    self.manual = _ManualOptimizer(_trainable_leaves(root))
            result = original_backward(tensors, *args, **kwargs)
            if self.manual is not None and self.lead in (None, self.manual):
                # No optimizer: parameters are updated by hand, and each backward call is a step.
                self._before_step(self.manual, (), {})
                self._after_step(self.manual, (), {})
            return result

        self.backward_wrapper = backward
        torch.autograd.backward = backward

        original_init = torch.optim.Optimizer.__init__

        def optimizer_init(optimizer, *args, **kwargs):
            self.optimizers_built += 1
            return original_init(optimizer, *args, **kwargs)

        torch.optim.Optimizer.__init__ = optimizer_init

    # -- probes that fail ------------------------------------------------------------------------
    def each_probe(self, phase: str, *args) -> None:
        with _quiet():
            for probe in list(self.probes):
                self.call_probe(probe, phase, *args)
        if self._after_quiet:  # rarely: only when a probe asked in this phase
            self._run_after_quiet()

    def call_probe(self, probe, phase: str, *args):
        """A probe's phase, guarded: a probe that raises is debuglab's fault, never the learner's.
        It is dropped (its hooks go inert) and the script runs on; the verdict is checker_error."""
        if probe not in self.probes:
            return None
        try:
            return getattr(probe, phase)(self, *args)
        except Exception as exc:
            self.drop(probe, phase, exc)
            return None

    def guarded(self, probe, where: str, fn):
        """A hook a probe registers (a tensor or module hook, a wrapper around a torch function),
        guarded like its phases: once the probe is dropped the hook does nothing and returns None,
        which leaves the gradient or output as it was."""

        def hook(*args, **kwargs):
            if probe not in self.probes:
                return None
            try:
                return fn(*args, **kwargs)
            except Exception as exc:
                self.drop(probe, where, exc)
                return None

        return hook

    def drop(self, probe, where: str, exc: BaseException) -> None:
        import traceback

        if probe in self.probes:
            self.probes.remove(probe)
        entry = {"probe": probe.name, "phase": where, "step": self.step, "message": f"{type(exc).__name__}: {exc}"}
        self.dropped.append(entry)
        self.channel.send(
            "checker_error",
            message=f"probe {probe.name} raised in {where} at step {self.step} ({entry['message']}); it was dropped and your script ran on without it",
            traceback="".join(traceback.format_exception(exc)),
            dropped=entry,
        )

    def _discover_model(self, optimizer) -> None:
        """At the first step: the model is the root module (one whose forward was called from
        outside any module) that holds the optimizer's parameters. Every root module's
        parameters count as module parameters (a leaf outside them all is unregistered)."""
        for handle in self._discovery_handles:
            handle.remove()
        for module in self.root_modules:
            self.module_param_ids.update(id(p) for p in module.parameters())
        self._adopt(self._trained_by(optimizer, self.root_modules))

    def _take_over(self, optimizer) -> None:
        """An optimizer built after training began (a resume from a checkpoint, a rebuilt model):
        from now on its steps are counted and the module it trains is the model. The module is
        found among live objects, once, so no hook has to watch every forward for the whole run."""
        import gc

        import torch

        self.lead = optimizer
        with _quiet():  # isinstance on every live object trips deprecated proxies (torch.distributed.reduce_op)
            best = self._trained_by(optimizer, [o for o in gc.get_objects() if isinstance(o, torch.nn.Module)])
        if best is not None:
            self.module_param_ids.update(id(p) for p in best.parameters())
            self._adopt(best)

    @staticmethod
    def _trained_by(optimizer, modules):
        """The module holding the most of the optimizer's parameters (the larger one on a tie: a
        wrapper rather than its submodule), or None."""
        owned = {id(p) for group in optimizer.param_groups for p in group["params"]}
        best, best_key = None, (0, 0)
        for module in modules:
            params = list(module.parameters())
            key = (sum(id(p) in owned for p in params), len(params))
            if key[0] and key > best_key:
                best, best_key = module, key
        return best

    def _adopt(self, model) -> None:
        self.model = model
        if model is not None:
            self.param_names = {id(p): name for name, p in model.named_parameters()}
        self.each_probe("on_model")

    def _before_step(self, optimizer, args, kwargs):
        if optimizer is not self.manual and self.manual is not None and self.lead is self.manual:
            self._end_manual()
        if optimizer not in self.optimizers:
            self.optimizers.append(optimizer)
            if self.lead is None:
                self.lead = optimizer
            elif self.in_training:
                self._take_over(optimizer)
        if not self.in_training:
            self.in_training = True
            self._discover_model(optimizer)
            self._last_step_end = time.perf_counter()
        self.each_probe("before_step", optimizer)

    def _after_step(self, optimizer, args, kwargs):
        if optimizer is not self.lead:
            return  # one step per iteration of the loop, counted on one optimizer
        self.step += 1
        now = time.perf_counter()
        record = {"i": self.step, "t": now, "dt": now - self._last_step_end}
        record["losses"], self.step_losses = self.step_losses, []
        self.each_probe("after_step", record)
        self.records.append(record)
        if self.stop_reason is None and self.pending_symptom and self.step >= self.pending_symptom["step"] + SYMPTOM_GRACE:
            self.stop_reason = {**self.pending_symptom, "step": self.step}
        if self.max_steps is not None and self.step >= self.max_steps and self.stop_reason is None:
            self.stop_reason = {"check": "steps_limit", "message": f"stopped after {self.step} steps, as asked (--steps)", "line": None, "step": self.step}
        if len(self.records) >= FLUSH_EVERY or self.stop_reason is not None:
            self.flush()
        if self.stop_reason is not None:
            self.finish_probes()  # now, while the script's tensors are still alive to be measured
            raise StopRun()
        self._last_step_end = time.perf_counter()  # probe work is not charged to the next step

    def _end_manual(self) -> None:
        """An optimizer stepped after backward calls without one (a gradient check before
        training, say): from now on its steps are the steps."""
        self.manual = None
        self.optimizers, self.lead, self.in_training = [], None, False
        self.step, self.records = 0, []

    def finish_probes(self) -> dict:
        if self.summaries is None:
            self.flush()
            summaries = {}
            with _quiet():
                for probe in list(self.probes):
                    summary = self.call_probe(probe, "finish")
                    if probe in self.probes:
                        summaries[probe.name] = summary
            if self._after_quiet:  # rarely: only when a probe asked in this phase
                self._run_after_quiet()
            self.summaries = summaries
        return self.summaries

    def flush(self) -> None:
        if not self.records:
            return
        import torch

        losses = [r.pop("losses") for r in self.records]
        present = [torch.stack(ls).float().mean() for ls in losses if ls]
        with _quiet():  # the checker's own read of the losses: a sync the profiler must not count as the learner's
            values = iter(torch.stack(present).cpu().tolist() if present else [])
        for record, ls in zip(self.records, losses):
            record["loss"] = next(values) if ls else None
        self.send("steps", records=self.records)
        self.records = []


class _ManualOptimizer:
    """Stands in for an optimizer when a script updates its parameters by hand (no torch.optim):
    the leaves that need a gradient in the first backward's graph are its parameters."""

    def __init__(self, params: list):
        self.param_groups = [{"params": params}]
        self.manual = True


def _trainable_leaves(root) -> list:
    seen, stack, leaves = set(), [root.grad_fn], []
    while stack:
        node = stack.pop()
        if node is None or node in seen:
            continue
        seen.add(node)
        variable = getattr(node, "variable", None)
        if variable is not None and variable.requires_grad:
            leaves.append(variable)
        stack.extend(n for n, _ in node.next_functions)
    return leaves


def _own_copy(loss):
    """The loss kept until the next flush: detached, so it never keeps a graph alive, and copied,
    because a 0-d loss can view a buffer as large as the batch (mse_loss on the CPU: 32 KB for a
    128 x 64 batch) that a detached view would keep alive, which reads as a leak. The copy is a
    device op, not a host sync."""
    return loss.detach().clone()


def _learner_traceback(exc: BaseException, script: str) -> tuple[str, int | None]:
    """The traceback without the checker's own frames, and the last line in the learner's file."""
    frames = [
        f
        for f in traceback.extract_tb(exc.__traceback__)
        if not f.filename.startswith(HARNESS_DIR) and not f.filename.endswith(("runpy.py", "<frozen runpy>"))
    ]
    text = "Traceback (most recent call last):\n" + "".join(traceback.format_list(frames))
    text += "".join(traceback.format_exception_only(type(exc), exc))
    line = next((f.lineno for f in reversed(frames) if f.filename == script), None)
    if isinstance(exc, SyntaxError) and exc.filename and Path(exc.filename).resolve() == Path(script):
        line = exc.lineno
    return text, line


def _integrity(run: ChildRun, wrappers: dict) -> list[str]:
    """What the script changed in the checker's hooks; empty when nothing."""
    import torch
    from torch.optim import optimizer as optimizer_hooks

    problems = []
    if run.pre_handle.id not in optimizer_hooks._global_optimizer_pre_hooks:
        problems.append("the optimizer step pre-hook was removed")
    if run.post_handle.id not in optimizer_hooks._global_optimizer_post_hooks:
        problems.append("the optimizer step post-hook was removed")
    if torch.autograd.backward is not run.backward_wrapper:
        problems.append("torch.autograd.backward was replaced")
    for label, (owner, name, function, code) in wrappers.items():
        if getattr(owner, name, None) is not function or function.__code__ is not code:
            problems.append(f"debuglab's {label} was replaced")
    return problems


def _set_up(spec: dict, channel) -> ChildRun:
    import torch
    import torch._dynamo  # noqa: F401  every optimizer imports it; here it happens before memray tracks allocations

    torch.set_num_threads(spec["threads"])
    from debuglab import probes as probe_registry

    run = ChildRun(spec, channel)
    run.probes = [probe_registry.create(name) for name in spec["probes"]]
    if os.environ.get(FAULT_VARIABLE):
        _inject_fault(run.probes, os.environ[FAULT_VARIABLE])
    run.install()
    for probe in run.probes:
        probe.install(run)
    return run


FAULT_VARIABLE = "DEBUGLAB_TEST_PROBE_FAULT"  # "probe:method": debuglab's own tests make that method raise


def _inject_fault(probes: list, fault: str) -> None:
    """Make one probe method raise, as a bug in debuglab would: the tests of the checker's own
    failures set this; nothing else does."""
    name, _, method = fault.partition(":")
    for probe in probes:
        if probe.name == name and callable(getattr(probe, method, None)):

            def broken(*args, _method=method, **kwargs):
                raise RuntimeError(f"injected fault in {name}.{_method}")

            setattr(probe, method, broken)


def _limit_memory(limit_mb: int | None) -> None:
    """The profile's address-space limit, set by the child on itself before torch is imported
    (each rank of a torchrun job sets its own); DataLoader workers inherit it."""
    if not limit_mb:
        return
    try:
        import resource
    except ImportError:  # no rlimits on this platform: the time limit still holds
        return
    limit = limit_mb * 1024 * 1024
    soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    if hard != resource.RLIM_INFINITY:
        limit = min(limit, hard)
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))  # the script cannot raise it again


def _headline(exc: BaseException) -> str:
    """The exception's message in one line: its first line, and the next one when the first only
    announces it ("Error(s) in loading state_dict for Net:" then "Missing key(s) ...")."""
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    if not lines:
        return ""
    if lines[0].endswith(":") and len(lines) > 1:
        return f"{lines[0]} {lines[1]}"
    return lines[0]


def main() -> None:
    spec_path = sys.argv[1]
    with open(spec_path) as f:
        spec = json.load(f)
    if spec.get("nproc", 1) > 1:
        # One of several ranks under torchrun: the parent removes the spec; each rank keeps a
        # folder of its own and writes to its own named pipe.
        rank = int(os.environ.get("RANK", "0"))
        spec["rank"] = rank
        spec["run_dir"] = str(Path(spec["run_dir"]) / f"rank{rank}")
        Path(spec["run_dir"]).mkdir(exist_ok=True)
        channel_fd = os.open(spec["channel_path"].format(rank=rank), os.O_WRONLY)
    else:
        os.unlink(spec_path)
        channel_fd = spec["channel_fd"]
    _limit_memory(spec.get("memory_limit_mb"))
    run_dir = Path(spec["run_dir"])
    fault_log = open(run_dir / "fault.log", "w")
    faulthandler.enable(file=fault_log)

    from debuglab.harness.channel import ChannelWriter

    channel = ChannelWriter(channel_fd, spec["token"])
    del spec["token"]

    try:
        run = _set_up(spec, channel)
    except BaseException as exc:  # the checker's own failure: never blamed on the learner's script
        channel.send("checker_error", message=f"{type(exc).__name__}: {exc}", traceback=traceback.format_exc())
        os._exit(1)
    # The checker's functions as installed, to notice a script that replaces or patches them.
    watched = [(ChildRun, name) for name in ("_before_step", "_after_step", "flush", "stop", "finish_probes")]
    watched += [(type(p), phase) for p in run.probes for phase in ("before_step", "after_step", "on_backward", "finish")]
    wrappers = {f"{owner.__qualname__}.{name}": (owner, name, getattr(owner, name), getattr(owner, name).__code__) for owner, name in watched}
    import torch

    channel.send("hello", torch=torch.__version__, python=sys.version.split()[0], pid=os.getpid())

    script = run.script
    sys.argv = [script, *spec.get("args", [])]
    sys.path.insert(0, str(Path(script).parent))
    ending = {"how": "finished"}
    try:
        runpy.run_path(script, run_name="__main__")
    except StopRun:
        ending = {"how": "stopped", **run.stop_reason}
    except SystemExit as exc:
        if exc.code not in (0, None):
            ending = {"how": "error", "type": "SystemExit", "message": f"the script called sys.exit({exc.code!r})", "line": None, "traceback": ""}
    except BaseException as exc:  # the learner's error, reported as theirs
        text, line = _learner_traceback(exc, script)
        sys.stderr.write(text)
        ending = {"how": "error", "type": type(exc).__name__, "message": _headline(exc), "line": line, "traceback": text}
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
    try:
        tampered = _integrity(run, wrappers)
        summaries = run.finish_probes() if ending["how"] != "error" else {}
        run.flush()
        channel.send("summary", probes=summaries, steps=run.step, tampered=tampered, first_sign=run.first_sign)
    except BaseException as exc:
        text = "".join(traceback.format_exception(exc))
        channel.send("checker_error", message=f"{type(exc).__name__}: {exc}", traceback=text)
    channel.send("end", at=time.time(), **ending)
    os._exit(0)  # do not wait for threads or atexit handlers the script left behind


if __name__ == "__main__":
    main()
