"""What a run says about itself: its first log line, OUT/config.json, and the result `train` returns."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch

from .._version import __version__
from .rundir import checkpoint_position

if TYPE_CHECKING:
    from .resume import RunState
    from .run import TrainingRun


@dataclass(frozen=True)
class TrainResult:
    """What a run produced. `final`/`best` are metric rows (with test metrics when a validation split
    chose the best epoch); `best` is None without a validation split."""

    out: Path
    model_path: Path  # OUT/checkpoint/model.safetensors: the last epoch
    best_path: Path | None  # OUT/best/model.safetensors: the best-on-validation epoch
    final: dict[str, Any]
    best: dict[str, Any] | None
    history: list[dict[str, Any]]
    config: dict[str, Any]
    epochs_run: int  # epochs trained by this call (fewer than the recipe's after a resume)

    @property
    def metrics_path(self) -> Path:
        """OUT/metrics.jsonl (OUT/metrics.csv beside it)."""
        return self.out / "metrics.jsonl"


def plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


def banner(run: TrainingRun, state: RunState) -> str:
    """The first log line: data, recipe, the epochs (and the budget that set them), device, precision."""
    r, d = run.recipe, run.data
    sizes = f"{d.sizes['train']} train / {d.sizes['val'] or d.sizes['test']} {d.eval_split}"
    where = f"{run.device}" + (f" x{run.ctx.world_size} processes" if run.ctx.enabled else "")
    position = checkpoint_position(run.out) if state.epoch or state.partial else None
    resumed = f", resuming at {position[1]}" if position else ""
    every = run.config.checkpoint_every
    mid = f", a checkpoint {every.describe()}" if every else ""
    layout = ", channels_last" if run.config.channels_last else ""
    budget = ""
    if run.budget is not None:
        b = run.budget
        budget = (
            f" (fit to the {b.budget_s:.0f}s budget at {b.step_s * 1000:.0f} ms/step and "
            f"{b.eval_s:.1f}s/evaluation)"
        )
    return (
        f"training {run.config.model} on {d.identity} ({sizes}) with recipe {r.name}: "
        f"{plural(r.epochs, 'epoch')}{budget}, batch {r.batch_size}, {r.optimizer} lr {r.lr:g}, "
        f"{r.scheduler}, {r.loss} on {where} in {run.precision.name}{layout}{mid}{resumed} -> {run.out}"
    )


def config_record(run: TrainingRun) -> dict[str, Any]:
    """OUT/config.json: the resolved config plus what it ran on and how (precision, layout, budget)."""
    r, d = run.recipe, run.data
    return {
        "config": run.config.to_dict(),
        "recipe_source": r.source,
        "recipe_claim": r.claim,
        "dataset": {
            "name": run.spec.dataset,
            "identity": d.identity,
            "eval_split": d.eval_split,
            **d.sizes,
        },
        "device": str(run.device),
        "precision": run.precision.name,
        "channels_last": run.config.channels_last,
        "cpu_malloc": run.cpu_malloc,  # "kept", or why the system's malloc decides (zoo._memory)
        "time_budget_fit": run.budget.to_dict() if run.budget is not None else None,
        "grown_from": run.grown_from,  # the --init-from file's, for a release made from this run
        "world_size": run.ctx.world_size,
        "steps_per_epoch": len(d.train),
        "versions": {"zoo": __version__, "torch": torch.__version__},
    }
