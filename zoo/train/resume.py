"""What a run's checkpoint holds and how --resume puts it back: model (the weight average when the
recipe keeps one, the trained weights then among the tensors), optimizer, schedule, scaler,
divergence guard, RNG states, the metrics so far and, for a mid-epoch checkpoint, the epoch's
position and running totals (so the resumed run replays the uninterrupted one bit for bit on CPU)."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import torch

from zoo.checkpoint import (
    CHECKPOINT_DIR,
    MODEL_FILE,
    load_checkpoint,
    load_state,
    read_metadata,
    save_best,
    save_checkpoint,
)

from .init_from import GROWN_FROM
from .loop import EpochStats, EpochTally
from .rundir import OutputDirError
from .state import capture_rng, load_optimizer_state, optimizer_state, restore_rng

if TYPE_CHECKING:
    from .run import TrainingRun

logger = logging.getLogger("zoo")


@dataclass
class RunState:
    """How far a run has come: what its checkpoint records besides the tensors."""

    epoch: int = 0  # completed epochs
    step: int = 0  # optimizer steps of the completed epochs
    history: list[dict[str, Any]] = field(default_factory=list)  # one metrics row per completed epoch
    best: dict[str, Any] | None = None  # the best-on-validation epoch
    loss_curve: list[list[float]] = field(default_factory=list)  # [epoch (fractional), mean train loss]
    partial: EpochTally | None = None  # the epoch in progress, restored from a mid-epoch checkpoint

    def finish_epoch(self, row: dict[str, Any], stats: EpochStats, batches: int, curve: bool) -> None:
        """Record a completed epoch: its metrics row and, with `curve`, its points of the loss curve
        (only plots of few epochs draw it: a long run would rewrite thousands at every checkpoint)."""
        start = self.epoch
        for b, loss in enumerate(stats.loss_curve if curve else []):  # each at the middle of its steps
            first, end = b * stats.curve_block, min((b + 1) * stats.curve_block, batches)
            self.loss_curve.append([start + (first + end) / 2 / batches, loss])
        self.epoch, self.step, self.partial = row["epoch"], stats.global_step, None
        self.history.append(row)


def save_run_checkpoint(run: TrainingRun, state: RunState, partial: EpochTally | None = None) -> None:
    """Write OUT/checkpoint for `state` (and the epoch in progress, `partial`). A collective: every
    rank takes part (RNG states and running totals are gathered), rank 0 writes."""
    ctx = run.ctx
    opt_tensors, opt_info = optimizer_state(run.optimizer)
    rng_tensors, rng_info = capture_rng(ctx.all_gather, run.device)
    in_epoch = None
    if partial is not None:
        seen = torch.tensor([partial.seen], dtype=torch.float64, device=partial.totals.device)
        ranks = [t.tolist() for t in ctx.all_gather(torch.cat([partial.totals, seen]))]
        in_epoch = {
            "epoch": state.epoch + 1,
            "batches_done": partial.batches_done,
            "batches": len(run.data.train),
            "seconds": partial.seconds,
            "lr": partial.lr,
            "totals": [r[:-1] for r in ranks],  # per rank: see EpochTally
            "seen": [int(r[-1]) for r in ranks],
        }
    if not ctx.is_main:
        return
    step = state.step + (partial.batches_done if partial is not None else 0)
    info = {
        "epoch": state.epoch,
        "global_step": step,
        "partial_epoch": in_epoch,
        "optimizer": opt_info,
        "scheduler": run.schedule.state_dict(),
        "scaler": run.scaler.state_dict() if run.scaler is not None else None,
        "rng": rng_info,
        "best": state.best,
        "history": state.history,
        "loss_curve": state.loss_curve,
        "world_size": ctx.world_size,
        "config": run.config.to_dict(),
        "divergence_guard": run.guard.state_dict(),
        "weight_average": run.average.checkpoint_info() if run.average is not None else None,
    }
    tensors = {**opt_tensors, **rng_tensors}
    if run.average is not None:  # the model file holds the average: the trained weights go here
        tensors.update(run.average.checkpoint_tensors())
    save_checkpoint(run.out, lambda d: run.save_model(d, state.epoch, step), tensors, info)


def save_best_model(run: TrainingRun, state: RunState) -> None:
    """Write OUT/best for the epoch `state.best` names (rank 0 only)."""
    if run.ctx.is_main:
        epoch, val_acc = state.best["epoch"], state.best["val_acc"]
        record = {"epoch": epoch, "val_acc": val_acc, "model": run.config.model}
        save_best(run.out, lambda d: run.save_model(d, epoch, state.step, val_acc=val_acc), record)


def restore_checkpoint(run: TrainingRun) -> RunState:
    """Load OUT/checkpoint into `run`'s model, optimizer, schedule, ...; the state it records (a fresh
    one when nothing was saved yet)."""
    ctx, out = run.ctx, run.out
    loaded = load_checkpoint(out)
    if loaded is None:
        if ctx.is_main:
            logger.info("no checkpoint in %s yet: starting from epoch 1", out)
        return RunState()
    tensors, info = loaded
    model_file = out / CHECKPOINT_DIR / MODEL_FILE
    metadata = read_metadata(model_file)
    if metadata.get("zoo.model") != run.config.model:
        raise OutputDirError(f"{model_file} holds {metadata.get('zoo.model')!r}, not {run.config.model!r}")
    if ctx.is_main and metadata.get("zoo.dataset") != run.data.identity:
        trained_on = metadata.get("zoo.dataset")
        logger.warning("resuming on %s, but the checkpoint was trained on %s", run.data.identity, trained_on)
    weights = load_state(model_file)
    if run.average is not None:
        run.average.restore(weights, tensors, info.get("weight_average"))
    else:
        run.model.load_state_dict(weights)
    run.grown_from = metadata.get(GROWN_FROM)
    load_optimizer_state(run.optimizer, tensors, info["optimizer"])
    run.schedule.load_state_dict(info["scheduler"])
    if info.get("divergence_guard"):
        run.guard.load_state_dict(info["divergence_guard"])
    if run.scaler is not None and info.get("scaler"):
        run.scaler.load_state_dict(info["scaler"])
    # Restored last: everything built above may have drawn random numbers.
    restored = restore_rng(tensors, info["rng"], ctx.rank, run.device)
    if not restored or info["world_size"] != ctx.world_size:
        logger.warning(
            "resuming with %d processes where the checkpoint had %d: data order and random "
            "draws will not replay the uninterrupted run exactly",
            ctx.world_size,
            info["world_size"],
        )
    partial = info.get("partial_epoch")
    step = info["global_step"] - (partial["batches_done"] if partial else 0)
    return RunState(
        info["epoch"],
        step,
        info["history"],
        info["best"],
        info.get("loss_curve", []),
        _tally(partial, ctx.rank, len(run.data.train), run.device) if partial else None,
    )


def _tally(partial: dict[str, Any], rank: int, batches: int, device: torch.device) -> EpochTally:
    """This rank's running totals of the epoch in progress. Saved by another number of processes,
    rank 0 takes them all (so the epoch's metrics still count every image once)."""
    totals, seen = partial["totals"], partial["seen"]
    if rank < len(totals) and len(totals) == len(seen):
        mine, images = totals[rank], seen[rank]
    else:
        mine, images = [sum(column) * (rank == 0) for column in zip(*totals)], sum(seen) * (rank == 0)
    fresh = EpochTally.start(batches, device, partial["lr"])
    values = torch.tensor(mine, dtype=torch.float64)[: len(fresh.totals)]
    fresh.totals[: len(values)] = values.to(device)
    return EpochTally(partial["batches_done"], images, partial["seconds"], partial["lr"], fresh.totals)
