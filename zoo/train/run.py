"""`TrainingRun`: one call of `zoo.train.train` — build, restore, train the epochs, report."""

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

from .._builder import model_info
from .._device import device_description
from .._memory import keep_freed_memory
from .._recipe import image_side
from ..checkpoint import (
    BEST_DIR,
    CHECKPOINT_DIR,
    MODEL_FILE,
    STATE_JSON,
    load_state,
    recover,
    save_model,
    write_json,
)
from .budget import BudgetFit, fit_run_to_budget
from .config import TrainConfig, TrainConfigError
from .distributed import DistContext
from .ema import WeightAverage
from .init_from import init_model
from .loaders import RunData, build_data
from .loop import (
    DivergenceGuard,
    EpochStats,
    EpochTally,
    MidEpochCheckpoints,
    TrainingFailedError,
    TrainStep,
    evaluate,
    recipe_tta,
    sigterm_stops,
    train_one_epoch,
)
from .optim import build_loss, build_optimizer, build_schedule, freeze_bn_weights
from .record import TrainResult, banner, config_record
from .report import FEW_EPOCHS, EpochProgress, MetricsLog, plot_history, summary_line
from .resume import RunState, restore_checkpoint, save_best_model, save_run_checkpoint
from .rundir import CONFIG_FILE, kept_checkpoint
from .runtime import check_resize, choose_channels_last, choose_precision, frozen_after

logger = logging.getLogger("zoo")

RESULT_FILE = "result.json"


def _seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


class TrainingRun:
    """One call of `train`: builds everything, restores a checkpoint if resuming, runs the epochs.

    What it builds (model, data, optimizer, schedule, precision, ...) are attributes that the budget
    fit (zoo.train.budget), the checkpoint contents (zoo.train.resume) and the run record
    (zoo.train.record) read.
    """

    def __init__(
        self,
        config: TrainConfig,
        out: Path,
        ctx: DistContext,
        resume: bool,
        started: float,
        max_epochs: int | None = None,
        on_step: Callable[[TrainStep], None] | None = None,
    ) -> None:
        self.config, self.recipe, self.out, self.ctx, self.resume = config, config.recipe, out, ctx, resume
        self.device = ctx.device
        self.spec = model_info(config.model)
        self.started, self.max_epochs = started, max_epochs
        self.budget: BudgetFit | None = None
        self.guard = DivergenceGuard()
        self.on_step = on_step
        self.grown_from: str | None = None  # the --init-from file's zoo.grown_from, kept in model files
        self.from_checkpoint = False  # resuming from a checkpoint (whose weights replace --init-from's)
        self.average: WeightAverage | None = None  # the recipe's weight average (ema_momentum > 0)
        self.freezes: list[tuple[int, list[torch.nn.Parameter]]] = []  # freeze_after: (epochs, params)
        self._compiled: dict[int, torch.nn.Module] = {}  # torch.compile'd evaluated modules, by id
        self.model: torch.nn.Module
        self.data: RunData

    def fit(self) -> TrainResult:
        ctx = self.ctx
        # Built before seeding: importing rich draws from Python's `random`, which would make the saved
        # RNG states depend on what this process had imported before.
        progress = EpochProgress(ctx.is_main)
        if self.resume:
            if ctx.is_main:
                recover(self.out)  # what a kill mid-write left: the newest complete checkpoint
            ctx.barrier()
        self.from_checkpoint = self.resume and (self.out / CHECKPOINT_DIR / STATE_JSON).is_file()
        self._build()
        recipe = self.recipe  # the budget, if any, has set its epochs now
        state = restore_checkpoint(self) if self.resume else RunState()
        started_at = state.epoch
        self.record = config_record(self)
        metrics = MetricsLog(self.out)
        if ctx.is_main:
            self.out.mkdir(parents=True, exist_ok=True)
            write_json(self.out / CONFIG_FILE, self.record)
            metrics.rewrite(state.history)
            logger.info(banner(self, state))
        every, mid = self.config.checkpoint_every, None
        if every is not None:
            mid = MidEpochCheckpoints(every, lambda tally: save_run_checkpoint(self, state, tally))
        with sigterm_stops(mid, enabled=not ctx.enabled):
            for epoch in range(state.epoch + 1, recipe.epochs + 1):
                row, stats = self._epoch(epoch, state, progress, mid)
                state.finish_epoch(row, stats, len(self.data.train), curve=recipe.epochs <= FEW_EPOCHS)
                evaluated = row["val_acc"] is not None
                best = state.best
                if self.data.has_val and evaluated and (best is None or row["val_acc"] > best["val_acc"]):
                    state.best = {"epoch": epoch, "val_loss": row["val_loss"], "val_acc": row["val_acc"]}
                    save_best_model(self, state)
                save_run_checkpoint(self, state)
                if mid is not None:
                    mid.restart()
                if ctx.is_main:
                    metrics.append(row)
                    logger.info(summary_line(row, recipe.epochs))
                if mid is not None:
                    mid.stop_if_asked()  # SIGTERM during the epoch's end: stop on the checkpoint just saved
        return self._finish(state, epochs_run=recipe.epochs - started_at)

    def _build(self) -> None:
        config, recipe, ctx = self.config, self.recipe, self.ctx
        # before the data and model allocate: a CPU step reuses its activations' pages (zoo._memory)
        self.cpu_malloc = keep_freed_memory(self.device)
        _seed_everything(config.seed)
        try:
            init = None if self.from_checkpoint else config.init_from  # a checkpoint's weights replace it
            model, self.grown_from = init_model(self.spec, init, config.model_options())
        except ValueError as error:  # the builder refusing an option value, e.g. an unknown --act
            if isinstance(error, TrainConfigError):
                raise
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
        check_resize(
            model, config.model, recipe.progressive_resize, self.data.train.images.shape[1], self.device
        )
        if hasattr(model, "init_whitening"):  # data-dependent init (fast_resnet9's stem; draws no RNG)
            # Also on resume: a run killed before its first checkpoint restarts from this init.
            model.init_whitening(self.data.train.images, *self.data.normalisation)
        if recipe.bn_weight_frozen:
            freeze_bn_weights(model)
        self.freezes = frozen_after(model, recipe.freeze_after)
        self.optimizer = build_optimizer(model, recipe)  # BatchNorm in its own group with bn_lr_scale
        self.loss_fn = build_loss(recipe, self.spec.num_classes)
        try:
            self.precision = choose_precision(self.device, config.precision)
        except ValueError as error:
            raise TrainConfigError(str(error)) from None
        self.scaler = self.precision.make_scaler()
        net = ctx.wrap(model)
        self.net = torch.compile(net) if config.compile else net
        if config.time_budget is not None and not self.resume:
            self.budget = fit_run_to_budget(self)
            self.recipe = dataclasses.replace(self.recipe, epochs=self.budget.epochs)
            self.config = dataclasses.replace(self.config, recipe=self.recipe)
        steps = len(self.data.train)
        self.schedule = build_schedule(self.optimizer, self.recipe, steps)
        if self.recipe.ema_momentum:  # after the budget fit: it sets the steps the average ramps over
            self.average = WeightAverage(model, self.recipe, self.recipe.epochs * steps, steps)

    def evaluated_model(self) -> torch.nn.Module:
        """The module evaluated and saved: the weight average once it has started, else the model."""
        return self.average.evaluated() if self.average is not None else self.model

    @property
    def eval_net(self) -> torch.nn.Module:
        """`evaluated_model()`, torch.compile'd with --compile."""
        model = self.evaluated_model()
        if not self.config.compile:
            return model
        if id(model) not in self._compiled:
            self._compiled[id(model)] = torch.compile(model)
        return self._compiled[id(model)]

    @property
    def tta(self) -> str:
        """The TTA mode of every evaluation of the run (zoo.evaluate's TTA_MODES)."""
        return recipe_tta(self.recipe)

    def _epoch(
        self, epoch: int, state: RunState, progress: EpochProgress, mid: MidEpochCheckpoints | None
    ) -> tuple[dict[str, Any], EpochStats]:
        """Train one epoch (the rest of it, after a mid-epoch checkpoint), evaluate, step the schedule:
        the epoch's metrics row and its training statistics."""
        recipe, data = self.recipe, self.data
        data.train.set_epoch(epoch - 1)
        data.train.image_side = image_side(recipe, epoch)
        tally: EpochTally | None = state.partial
        progress.start(epoch, recipe.epochs, len(data.train))
        try:
            stats = train_one_epoch(
                self.net, data.train, self.loss_fn, self.optimizer, self.schedule, self.precision,
                self.scaler, epoch=epoch, global_step=state.step, ctx=self.ctx, progress=progress,
                guard=self.guard, on_step=self.on_step, tally=tally, checkpoints=mid, average=self.average,
                frozen=[p for epochs, params in self.freezes if epoch > epochs for p in params],
            )  # fmt: skip
        except TrainingFailedError as error:
            raise type(error)(f"{error}; training stopped. {kept_checkpoint(self.out)}") from None
        finally:
            progress.stop()
        self.ctx.broadcast_buffers(self.model)
        if self.average is not None:
            self.average.after_epoch()  # Lookahead: the average back into the trained weights
        evaluating = time.perf_counter()
        eval_loss = eval_acc = None
        if epoch % self.config.eval_every == 0 or epoch == recipe.epochs:
            progress.start_eval(epoch, recipe.epochs, len(data.eval), data.eval_split)
            try:
                eval_loss, eval_acc = evaluate(
                    self.eval_net, data.eval, self.loss_fn, self.precision, tta=self.tta, ctx=self.ctx,
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
            "seconds": stats.seconds + time.perf_counter() - evaluating,
        }
        return row, stats

    def save_model(self, path: Path, epoch: int, step: int, **extra: Any) -> Path:
        """The model file of a checkpoint: the evaluated model (the weight average, if the recipe keeps
        one) with its provenance (epoch, step, data, recipe)."""
        return save_model(
            self.evaluated_model(),
            path,
            name=self.config.model,
            options=self.config.model_options(),
            extra={
                "epoch": epoch,
                "step": step,
                "dataset": self.data.identity,
                "recipe": self.recipe.name,
                "seed": self.config.seed,
                "mean": list(self.data.normalisation[0]),
                "std": list(self.data.normalisation[1]),
                "device": device_description(self.device)
                + (f" x {self.ctx.world_size} processes" if self.ctx.enabled else ""),
                **({"grown_from": self.grown_from} if self.grown_from is not None else {}),
                **extra,
            },
        )

    def _finish(self, state: RunState, epochs_run: int) -> TrainResult:
        history, best = state.history, state.best
        final = dict(history[-1]) if history else {}
        best_path = self.out / BEST_DIR / MODEL_FILE if best is not None else None
        if self.data.has_val and history:
            # The validation split chose; the test split reports, for the last and the best epoch.
            final["test_loss"], final["test_acc"] = self._test()
            if best is not None:
                self.ctx.barrier()  # rank 0 wrote best/ before every rank reads it
                self.evaluated_model().load_state_dict(load_state(best_path))
                best = dict(best)
                best["test_loss"], best["test_acc"] = self._test()
        model_path = self.out / CHECKPOINT_DIR / MODEL_FILE
        result = TrainResult(self.out, model_path, best_path, final, best, history, self.record, epochs_run)
        if self.ctx.is_main and history:
            plot_history(history, self.out, state.loss_curve)
            write_json(
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
            self.eval_net, self.data.test, self.loss_fn, self.precision, tta=self.tta, ctx=self.ctx
        )
