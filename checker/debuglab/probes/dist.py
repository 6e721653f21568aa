"""Distributed runs (torchrun, two or more ranks): what only a comparison across ranks shows.

- sampler_epoch: a shuffling DistributedSampler iterated again with the same epoch, so every
  epoch visits the data in the same order (set_epoch never called);
- checkpoint_writers: the same file written by more than one rank (every rank saving the
  checkpoint: a race that corrupts it or wastes I/O);
- rank_consistency: ranks end with different weights (a rank-local decision, such as a learning
  rate chosen from an unreduced metric, or parameters outside DistributedDataParallel).

Child side it records sampler iterations and torch.save calls and hashes the model's weights at
the end; parent side it compares every rank's record (Evidence.peers).
"""

from __future__ import annotations

import os

from debuglab.probes.base import Probe, passes_through
from debuglab.verdict import Check, SKIP

MAX_RECORDS = 200


class DistProbe(Probe):
    name = "dist"

    def install(self, run) -> None:
        import torch
        from torch.utils.data import distributed as data_distributed

        self.iterations: list[dict] = []
        self.saves: list[dict] = []
        sampler_iter = data_distributed.DistributedSampler.__iter__
        original_save = torch.save
        probe = self

        @passes_through
        def __iter__(sampler):
            indices = list(sampler_iter(sampler))
            if len(probe.iterations) < MAX_RECORDS:
                probe.iterations.append(
                    {"epoch": sampler.epoch, "shuffle": bool(sampler.shuffle), "order": hash(tuple(indices)), "step": run.step}
                )
            return iter(indices)

        @passes_through
        def save(obj, f, *args, **kwargs):
            if isinstance(f, (str, os.PathLike)) and len(probe.saves) < MAX_RECORDS:
                import sys

                probe.saves.append({"path": os.path.abspath(os.fspath(f)), "step": run.step, "line": run.script_line(sys._getframe(1))})
            return original_save(obj, f, *args, **kwargs)

        data_distributed.DistributedSampler.__iter__ = __iter__
        torch.save = save

    def finish(self, run) -> dict:
        import hashlib

        digest, sums = None, {}
        if run.model is not None:
            model = run.bare_model()
            h = hashlib.sha1()
            for name, p in model.named_parameters():
                data = p.detach().float().cpu().contiguous()
                h.update(name.encode())
                h.update(data.numpy().tobytes())
                sums[name] = float(data.double().abs().sum())
            digest = h.hexdigest()
        return {
            "rank": run.spec.get("rank", 0),
            "iterations": self.iterations,
            "saves": self.saves,
            "digest": digest,
            "sums": sums,
        }

    def summarise(self, evidence) -> dict:
        peers = evidence.peers or [evidence]
        summaries = [p.summary("dist") for p in peers]
        same_epoch = max(_repeated_epochs(s.get("iterations", [])) for s in summaries)
        return {
            "ranks": len(peers),
            "sampler_epochs_repeated": same_epoch,
            "checkpoint_files_by_many_ranks": len(_shared_writes(summaries)),
            "ranks_with_other_weights": _diverged(summaries)[0],
        }

    def judge(self, metrics: dict, context) -> list[Check]:
        peers = context.evidence.peers or [context.evidence]
        summaries = [p.summary("dist") for p in peers]
        if len(peers) < 2:
            return [Check(name, SKIP, None, "", "not judged: the script ran as one process") for name in ("sampler_epoch", "checkpoint_writers", "rank_consistency")]
        repeated = metrics["sampler_epochs_repeated"]
        shared = _shared_writes(summaries)
        count, differing = _diverged(summaries)
        first_save_line = next((s["line"] for path, writes in shared.items() for s in writes if s.get("line")), None)
        return [
            Check.judge(
                "sampler_epoch",
                repeated == 0,
                repeated,
                "0 repeated epochs",
                f"a shuffling DistributedSampler was iterated {repeated} more time(s) with the same epoch on a rank, so "
                f"every epoch visits the data in the same order: call sampler.set_epoch(epoch) at the start of each epoch",
            ),
            Check.judge(
                "checkpoint_writers",
                not shared,
                len(shared),
                "each file written by one rank",
                "; ".join(f"{os.path.basename(path)} was written by ranks {', '.join(str(s['rank']) for s in writes)}" for path, writes in list(shared.items())[:3])
                + ": concurrent writers race on the same file (a torn or corrupt checkpoint) and multiply the I/O; save on rank 0 only",
                first_save_line,
            ),
            Check.judge(
                "rank_consistency",
                count == 0,
                count,
                "identical weights on every rank",
                f"{count} rank(s) ended with weights that differ from rank 0's ({', '.join(differing[:4])}): something each rank decided "
                f"on its own (a metric or loss not reduced across ranks, a rank-local learning rate or branch, parameters "
                f"updated outside DistributedDataParallel) made the replicas drift apart",
            ),
        ]


def _repeated_epochs(iterations: list[dict]) -> int:
    """Iterations of a shuffling sampler that replay an order already seen: the same epoch (and
    seed) gives the same order. A new sampler per epoch with its own seed is a correct fix too,
    so the order, not the epoch number, decides."""
    seen, repeated = set(), 0
    for it in iterations:
        if not it.get("shuffle"):
            continue
        if it["order"] in seen:
            repeated += 1
        seen.add(it["order"])
    return repeated


def _shared_writes(summaries: list[dict]) -> dict[str, list[dict]]:
    by_path: dict[str, list[dict]] = {}
    for rank, summary in enumerate(summaries):
        for save in summary.get("saves", []):
            writes = by_path.setdefault(save["path"], [])
            if all(w["rank"] != rank for w in writes):
                writes.append({**save, "rank": rank})
    return {path: writes for path, writes in by_path.items() if len(writes) > 1}


def _diverged(summaries: list[dict]) -> tuple[int, list[str]]:
    base = summaries[0]
    count, names = 0, []
    for summary in summaries[1:]:
        if base.get("digest") is None or summary.get("digest") is None or summary["digest"] == base["digest"]:
            continue
        count += 1
        for name, value in summary.get("sums", {}).items():
            if base.get("sums", {}).get(name) != value and name not in names:
                names.append(name)
    return count, names
