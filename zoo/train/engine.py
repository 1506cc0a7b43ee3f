"""`train`: the training engine behind `zoo train` (single process, or DDP under torchrun)."""

from __future__ import annotations

import dataclasses
import logging
import random
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch

from zoo._builder import create, model_info
from zoo._device import device_description
from zoo.checkpoint import MODEL_FILE, load_state, read_metadata, save_model

from .budget import fit_run_to_budget
from .config import TrainConfig, TrainConfigError, resolve_config, resolve_resume
from .distributed import DistContext, context_from_env, pick_device
from .loaders import build_data
from .loop import DivergenceGuard, TrainingFailedError, TrainStep, evaluate, train_one_epoch
from .optim import build_loss, build_optimizer, build_schedule
from .recipes import Recipe
from .record import TrainResult, banner, config_record
from .report import EpochProgress, MetricsLog, plot_history, summary_line
from .rundir import claim_run_dir, interrupt_as_error
from .runtime import choose_channels_last, choose_precision
from .state import (
    BEST_DIR,
    CHECKPOINT_DIR,
    CONFIG_FILE,
    OutputDirError,
    capture_rng,
    check_fresh_out,
    load_checkpoint,
    load_optimizer_state,
    optimizer_state,
    recover,
    restore_rng,
    save_best,
    save_checkpoint,
    saved_config,
    write_json_atomic,
)

logger = logging.getLogger("zoo")

RESULT_FILE = "result.json"


def train(
    model: str,
    *,
    recipe: str | Recipe | None = None,
    out: str | Path,
    data_dir: str | Path | None = None,
    resume: bool = False,
    on_step: Callable[[TrainStep], None] | None = None,
    **overrides: Any,
) -> TrainResult:
    """Train a registered model from scratch on its data set, checkpointing into `out` every epoch.

    Args:
        model: registered model name; its spec picks the data set (CIFAR-10 or MNIST).
        recipe: a recipe name (`list_recipes()`), a `Recipe`, or None for the model's default.
        out: run directory; must be empty or absent unless `resume`.
        data_dir: where the data set lives (default: `zoo.data.default_data_dir()`).
        resume: continue the run in `out` from its last checkpoint (its saved config is used; runtime
            settings such as device may change, other options must match it).
        **overrides: recipe fields (lr, epochs, optimizer, ...) and run settings (seed, device,
            precision, channels_last, compile, limit_train, limit_test, eval_every, time_budget in
            seconds, act); None values are ignored. With `time_budget` the epoch count is measured
            to fit it (`epochs`, when given too, caps it).
        on_step: called with a `TrainStep` after every training step's backward pass, before the
            optimizer step (what `zoo study` probes measure with).

    Under torchrun (RANK/WORLD_SIZE/LOCAL_RANK set) every process calls this; they train with
    DistributedDataParallel and rank 0 alone writes files.
    """
    started = time.perf_counter()
    out = Path(out)
    ctx = context_from_env()
    # One run per --out, claimed before anything loads; Ctrl-C says what was saved.
    with claim_run_dir(out, enabled=ctx.is_main), interrupt_as_error(out, model, enabled=ctx.is_main):
        return _train(model, recipe, out, data_dir, resume, ctx, started, overrides, on_step)


def _train(model, recipe, out, data_dir, resume, ctx, started, overrides, on_step=None) -> TrainResult:
    if resume:
        config = resolve_resume(saved_config(out), model, recipe, data_dir, overrides)
    else:
        check_fresh_out(out)
        config = resolve_config(model, recipe, data_dir, overrides)
    device = pick_device(config.device, ctx)
    ctx.start(device)
    try:
        ctx.barrier()  # every rank has looked at --out before rank 0 writes into it
        run = _Run(config, out, ctx, resume, started, max_epochs=overrides.get("epochs"))
        run.on_step = on_step
        result = run.fit()
        # Rank 0 finishes later (plots): tearing gloo down while a peer still runs can abort a rank.
        ctx.barrier()
        return result
    finally:
        ctx.stop()


def _seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


class _Run:
    """One call of `train`: builds everything, restores a checkpoint if resuming, runs the epochs."""

    def __init__(
        self,
        config: TrainConfig,
        out: Path,
        ctx: DistContext,
        resume: bool,
        started: float,
        max_epochs: int | None = None,
    ) -> None:
        self.config, self.recipe, self.out, self.ctx, self.resume = config, config.recipe, out, ctx, resume
        self.device = ctx.device
        self.spec = model_info(config.model)
        self.started, self.max_epochs, self.budget = started, max_epochs, None
        self.guard = DivergenceGuard()
        self.on_step: Callable[[TrainStep], None] | None = None

    def fit(self) -> TrainResult:
        ctx = self.ctx
        # Built before seeding: importing rich draws from Python's `random`, which would make the saved
        # RNG states depend on what this process had imported before.
        progress = EpochProgress(ctx.is_main)
        self._build()
        recipe = self.recipe  # the budget, if any, has set its epochs now
        start, step, history, best = self._restore() if self.resume else (0, 0, [], None)
        self.record = config_record(self)
        metrics = MetricsLog(self.out)
        if ctx.is_main:
            self.out.mkdir(parents=True, exist_ok=True)
            write_json_atomic(self.out / CONFIG_FILE, self.record)
            metrics.rewrite(history)
            logger.info(banner(self, start))
        for epoch in range(start + 1, recipe.epochs + 1):
            row, step = self._epoch(epoch, step, progress)
            history.append(row)
            evaluated = row["val_acc"] is not None
            if self.data.has_val and evaluated and (best is None or row["val_acc"] > best["val_acc"]):
                best = {"epoch": epoch, "val_loss": row["val_loss"], "val_acc": row["val_acc"]}
                if ctx.is_main:
                    record = {"epoch": epoch, "val_acc": row["val_acc"], "model": self.config.model}
                    save_best(self.out, lambda d: self._save_model(d, epoch, val_acc=row["val_acc"]), record)
            self._checkpoint(epoch, step, history, best)
            if ctx.is_main:
                metrics.append(row)
                logger.info(summary_line(row, recipe.epochs))
        return self._finish(history, best, epochs_run=recipe.epochs - start)

    def _build(self) -> None:
        config, recipe, ctx = self.config, self.recipe, self.ctx
        _seed_everything(config.seed)
        try:
            # With --init-from "MODEL.TAG", create loads those weights (a new classifier if the sizes differ).
            model = create(
                config.init_from or config.model, num_classes=self.spec.num_classes, **config.model_options()
            )
        except ValueError as error:  # the builder refusing an option value, e.g. an unknown --act
            raise TrainConfigError(
                f"cannot build {config.model} with {config.model_options()}: {error}"
            ) from None
        channels_last = choose_channels_last(self.device, model, config.channels_last)
        self.config = config = dataclasses.replace(config, channels_last=channels_last)
        memory_format = torch.channels_last if channels_last else torch.preserve_format
        self.model = model = model.to(self.device, memory_format=memory_format)
        if ctx.rank:  # DDP copies rank 0's weights; other draws (dropout) should differ between ranks
            torch.manual_seed(config.seed + ctx.rank)
        self.data = build_data(config, self.spec.dataset, self.spec.num_classes, ctx, self.device)
        if hasattr(model, "init_whitening"):  # data-dependent init (fast_resnet9's stem; draws no RNG)
            # Also on resume: a run killed before its first checkpoint restarts from this init.
            model.init_whitening(self.data.train.images, *self.data.normalisation)
        self.optimizer = build_optimizer(model.parameters(), recipe)
        self.loss_fn = build_loss(recipe, self.spec.num_classes)
        try:
            self.precision = choose_precision(self.device, config.precision)
        except ValueError as error:
            raise TrainConfigError(str(error)) from None
        self.scaler = self.precision.make_scaler()
        net = ctx.wrap(model)
        self.net = torch.compile(net) if config.compile else net
        self.eval_net = torch.compile(model) if config.compile else model
        if config.time_budget is not None and not self.resume:
            self.budget = fit_run_to_budget(self)
            self.recipe = dataclasses.replace(self.recipe, epochs=self.budget.epochs)
            self.config = dataclasses.replace(self.config, recipe=self.recipe)
        self.schedule = build_schedule(self.optimizer, self.recipe, len(self.data.train))

    def _epoch(self, epoch: int, step: int, progress: EpochProgress) -> tuple[dict[str, Any], int]:
        """Train one epoch, evaluate, step the schedule: the epoch's metrics row and the new global step."""
        recipe, data = self.recipe, self.data
        started = time.perf_counter()
        data.train.set_epoch(epoch - 1)
        progress.start(epoch, recipe.epochs, len(data.train))
        try:
            stats = train_one_epoch(
                self.net,
                data.train,
                self.loss_fn,
                self.optimizer,
                self.schedule,
                self.precision,
                self.scaler,
                epoch=epoch,
                global_step=step,
                ctx=self.ctx,
                progress=progress,
                guard=self.guard,
                on_step=self.on_step,
            )
        except TrainingFailedError as error:
            raise type(error)(f"{error}; training stopped. {self._kept(epoch - 1)}") from None
        finally:
            progress.stop()
        self.ctx.broadcast_buffers(self.model)
        eval_loss = eval_acc = None
        if epoch % self.config.eval_every == 0 or epoch == recipe.epochs:
            progress.start_eval(epoch, recipe.epochs, len(data.eval), data.eval_split)
            try:
                eval_loss, eval_acc = evaluate(
                    self.eval_net, data.eval, self.loss_fn, self.precision, tta=recipe.tta, ctx=self.ctx,
                    progress=progress,
                )  # fmt: skip
            finally:
                progress.stop()
            self.schedule.after_epoch(eval_loss)
        elif not self.schedule.needs_eval:
            self.schedule.after_epoch(None)
        row = {
            "epoch": epoch,
            "train_loss": stats.loss,
            "train_acc": stats.acc,
            "val_loss": None,
            "val_acc": None,
            "test_loss": None,
            "test_acc": None,
            f"{data.eval_split}_loss": eval_loss,
            f"{data.eval_split}_acc": eval_acc,
            "lr": stats.lr,
            "img_per_s": stats.samples / stats.seconds,
            "seconds": time.perf_counter() - started,
        }
        return row, stats.global_step

    def _kept(self, epoch: int) -> str:
        advice = "a lower --lr (in a new run: another --out) usually helps"
        if epoch == 0:
            return f"No checkpoint was written (the first epoch failed); {advice}"
        return f"{self.out / CHECKPOINT_DIR} still holds epoch {epoch}; {advice}"

    def _save_model(self, path: Path, epoch: int, **extra: Any) -> Path:
        return save_model(
            self.model,
            path,
            name=self.config.model,
            options=self.config.model_options(),
            extra={
                "epoch": epoch,
                "dataset": self.data.identity,
                "recipe": self.recipe.name,
                "seed": self.config.seed,
                "mean": list(self.data.normalisation[0]),
                "std": list(self.data.normalisation[1]),
                "device": device_description(self.device)
                + (f" x {self.ctx.world_size} processes" if self.ctx.enabled else ""),
                **extra,
            },
        )

    def _checkpoint(self, epoch: int, step: int, history: list[dict], best: dict | None) -> None:
        opt_tensors, opt_info = optimizer_state(self.optimizer)
        # A collective (per-rank RNG states are gathered): every rank takes part, rank 0 writes.
        rng_tensors, rng_info = capture_rng(self.ctx.all_gather, self.device)
        if not self.ctx.is_main:
            return
        info = {
            "epoch": epoch,
            "global_step": step,
            "optimizer": opt_info,
            "scheduler": self.schedule.state_dict(),
            "scaler": self.scaler.state_dict() if self.scaler is not None else None,
            "rng": rng_info,
            "best": best,
            "history": history,
            "world_size": self.ctx.world_size,
            "config": self.config.to_dict(),
            "divergence_guard": self.guard.state_dict(),
        }
        save_checkpoint(self.out, lambda d: self._save_model(d, epoch), {**opt_tensors, **rng_tensors}, info)

    def _restore(self) -> tuple[int, int, list[dict], dict | None]:
        if self.ctx.is_main:
            recover(self.out)
        self.ctx.barrier()
        loaded = load_checkpoint(self.out)
        if loaded is None:
            if self.ctx.is_main:
                logger.info("no checkpoint in %s yet: starting from epoch 1", self.out)
            return 0, 0, [], None
        tensors, info = loaded
        model_file = self.out / CHECKPOINT_DIR / MODEL_FILE
        metadata = read_metadata(model_file)
        if metadata.get("zoo.model") != self.config.model:
            raise OutputDirError(
                f"{model_file} holds {metadata.get('zoo.model')!r}, not {self.config.model!r}"
            )
        if self.ctx.is_main and metadata.get("zoo.dataset") != self.data.identity:
            logger.warning(
                "resuming on %s, but the checkpoint was trained on %s",
                self.data.identity,
                metadata.get("zoo.dataset"),
            )
        self.model.load_state_dict(load_state(model_file))
        load_optimizer_state(self.optimizer, tensors, info["optimizer"])
        self.schedule.load_state_dict(info["scheduler"])
        if info.get("divergence_guard"):
            self.guard.load_state_dict(info["divergence_guard"])
        if self.scaler is not None and info.get("scaler"):
            self.scaler.load_state_dict(info["scaler"])
        # Restored last: everything built above may have drawn random numbers.
        restored = restore_rng(tensors, info["rng"], self.ctx.rank, self.device)
        if not restored or info["world_size"] != self.ctx.world_size:
            logger.warning(
                "resuming with %d processes where the checkpoint had %d: data order and random "
                "draws will not replay the uninterrupted run exactly",
                self.ctx.world_size,
                info["world_size"],
            )
        return info["epoch"], info["global_step"], info["history"], info["best"]

    def _finish(self, history: list[dict], best: dict | None, epochs_run: int) -> TrainResult:
        final = dict(history[-1]) if history else {}
        best_path = self.out / BEST_DIR / MODEL_FILE if best is not None else None
        if self.data.has_val and history:
            # The validation split chose; the test split reports, for the last and the best epoch.
            final["test_loss"], final["test_acc"] = self._test()
            if best is not None:
                self.ctx.barrier()  # rank 0 wrote best/ before every rank reads it
                self.model.load_state_dict(load_state(best_path))
                best = dict(best)
                best["test_loss"], best["test_acc"] = self._test()
        result = TrainResult(
            self.out,
            self.out / CHECKPOINT_DIR / MODEL_FILE,
            best_path,
            final,
            best,
            history,
            self.record,
            epochs_run,
        )
        if self.ctx.is_main and history:
            plot_history(history, self.out)
            write_json_atomic(
                self.out / RESULT_FILE,
                {
                    "final": final,
                    "best": best,
                    "model": str(result.model_path),
                    "best_model": str(best_path) if best_path else None,
                },
            )
            if best is not None:
                logger.info(
                    "best epoch %d: val acc %.2f%%, test acc %.2f%% (last epoch: test acc %.2f%%)",
                    best["epoch"],
                    100 * best["val_acc"],
                    100 * best["test_acc"],
                    100 * final["test_acc"],
                )
        return result

    def _test(self) -> tuple[float, float]:
        return evaluate(
            self.eval_net, self.data.test, self.loss_fn, self.precision, tta=self.recipe.tta, ctx=self.ctx
        )
