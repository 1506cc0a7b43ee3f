"""`train`: the training engine behind `zoo train` (single process, or DDP under torchrun)."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from .config import resolve_config, resolve_resume
from .distributed import DistContext, context_from_env, pick_device
from .loop import TrainStep
from .options import TrainOptions
from .recipes import Recipe
from .record import TrainResult
from .run import RESULT_FILE, TrainingRun
from .rundir import check_fresh_out, claim_run_dir, interrupt_as_error, saved_config, write_failures_as_error

__all__ = ["RESULT_FILE", "train"]


def train(
    model: str,
    *,
    recipe: str | Recipe | None = None,
    out: str | Path,
    data_dir: str | Path | None = None,
    resume: bool = False,
    options: TrainOptions | None = None,
    on_step: Callable[[TrainStep], None] | None = None,
    **overrides: Any,
) -> TrainResult:
    """Train a registered model on its data set, from scratch or from `init_from`, checkpointing into `out`.

    Args:
        model: registered model name; its spec picks the data set (CIFAR-10 or MNIST).
        recipe: a recipe name (`list_recipes()`), a `Recipe`, or None for the model's default.
        out: run directory; must be empty or absent unless `resume`.
        data_dir: where the data set lives (default: `zoo.data.default_data_dir()`); the same as
            ``options.data_dir``.
        resume: continue the run in `out` from its last checkpoint (its saved config is used; runtime
            settings such as device may change, other options must match it).
        options: the run's `TrainOptions`: hyper-parameters replacing the recipe's, run settings.
        **overrides: the same options as keywords (``lr=0.01, epochs=5``), replacing those of
            `options`; None values are ignored, an unknown name is a `TrainConfigError`.
        on_step: called with a `TrainStep` after every training step's backward pass, before the
            optimizer step (what `zoo study` probes measure with).

    Under torchrun (RANK/WORLD_SIZE/LOCAL_RANK set) every process calls this; they train with
    DistributedDataParallel and rank 0 alone writes files.
    """
    started = time.perf_counter()
    options = TrainOptions.build(options, data_dir=data_dir, **overrides)
    out = Path(out)
    ctx = context_from_env()
    # One run per --out, claimed before anything loads; Ctrl-C and a file that cannot be written (a full
    # disk) say what was saved and how to resume.
    with (
        claim_run_dir(out, enabled=ctx.is_main),
        interrupt_as_error(out, model, enabled=ctx.is_main),
        write_failures_as_error(out, model),
    ):
        return _train(model, recipe, out, resume, options, ctx, started, on_step)


def _train(
    model: str,
    recipe: str | Recipe | None,
    out: Path,
    resume: bool,
    options: TrainOptions,
    ctx: DistContext,
    started: float,
    on_step: Callable[[TrainStep], None] | None,
) -> TrainResult:
    if resume:
        config = resolve_resume(saved_config(out), model, recipe, options)
    else:
        check_fresh_out(out)
        config = resolve_config(model, recipe, options)
    device = pick_device(config.device, ctx)
    ctx.start(device)
    try:
        ctx.barrier()  # every rank has looked at --out before rank 0 writes into it
        run = TrainingRun(config, out, ctx, resume, started, options.epochs, on_step)
        result = run.fit()
        # Rank 0 finishes later (plots): tearing gloo down while a peer still runs can abort a rank.
        ctx.barrier()
        return result
    finally:
        ctx.stop()
