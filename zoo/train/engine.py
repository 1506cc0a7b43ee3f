"""`train`: the training engine behind `zoo train` (single process, or DDP under torchrun)."""

from __future__ import annotations

import json
import logging
import random
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors.torch import load_file

import zoo
from zoo._device import device_description
from zoo.checkpoint import MODEL_FILE, read_metadata, save_model

from .config import TrainConfig, TrainConfigError, resolve_config, resolve_resume
from .distributed import DistContext, context_from_env, pick_device
from .loaders import build_data
from .loop import NonFiniteLossError, choose_precision, evaluate, train_one_epoch
from .optim import build_loss, build_optimizer, build_schedule
from .recipes import Recipe
from .report import EpochProgress, MetricsLog, plot_history, summary_line
from .state import (
    BEST_DIR,
    CHECKPOINT_DIR,
    OutputDirError,
    capture_rng,
    check_fresh_out,
    load_checkpoint,
    load_optimizer_state,
    optimizer_state,
    recover,
    restore_rng,
    save_checkpoint,
    write_json_atomic,
)

logger = logging.getLogger("zoo")

CONFIG_FILE = "config.json"
RESULT_FILE = "result.json"


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


def train(
    model: str,
    *,
    recipe: str | Recipe | None = None,
    out: str | Path,
    data_dir: str | Path | None = None,
    resume: bool = False,
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
        **overrides: recipe fields (lr, epochs, optimizer, ...) and run settings (seed, device, amp,
            channels_last, compile, limit_train, act); None values are ignored.

    Under torchrun (RANK/WORLD_SIZE/LOCAL_RANK set) every process calls this; they train with
    DistributedDataParallel and rank 0 alone writes files.
    """
    out = Path(out)
    ctx = context_from_env()
    if resume:
        config = resolve_resume(_saved_config(out), model, recipe, data_dir, overrides)
    else:
        check_fresh_out(out)
        config = resolve_config(model, recipe, data_dir, overrides)
    device = pick_device(config.device, ctx)
    ctx.start(device)
    try:
        ctx.barrier()  # every rank has looked at --out before rank 0 writes into it
        result = _Run(config, out, ctx, resume).fit()
        # Rank 0 finishes later (plots): tearing gloo down while a peer still runs can abort a rank.
        ctx.barrier()
        return result
    finally:
        ctx.stop()


def _saved_config(out: Path) -> dict[str, Any]:
    path = out / CONFIG_FILE
    if not path.is_file():
        raise OutputDirError(f"--resume: nothing to resume in {out} (no {CONFIG_FILE}); run without --resume")
    try:
        return json.loads(path.read_text())["config"]
    except (json.JSONDecodeError, KeyError) as error:
        raise OutputDirError(f"--resume: {path} is not a zoo run config ({error})") from None


def _seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


class _Run:
    """One call of `train`: builds everything, restores a checkpoint if resuming, runs the epochs."""

    def __init__(self, config: TrainConfig, out: Path, ctx: DistContext, resume: bool) -> None:
        self.config, self.recipe, self.out, self.ctx, self.resume = config, config.recipe, out, ctx, resume
        self.device = ctx.device
        self.spec = zoo.model_info(config.model)

    def fit(self) -> TrainResult:
        recipe, ctx = self.recipe, self.ctx
        # Built before seeding: importing rich draws from Python's `random`, which would make the saved
        # RNG states depend on what this process had imported before.
        progress = EpochProgress(ctx.is_main)
        self._build()
        start, step, history, best = self._restore() if self.resume else (0, 0, [], None)
        self.record = self._config_record()
        metrics = MetricsLog(self.out)
        if ctx.is_main:
            self.out.mkdir(parents=True, exist_ok=True)
            write_json_atomic(self.out / CONFIG_FILE, self.record)
            metrics.rewrite(history)
            logger.info(self._banner(start))
        for epoch in range(start + 1, recipe.epochs + 1):
            row, step = self._epoch(epoch, step, progress)
            history.append(row)
            if self.data.has_val and (best is None or row["val_acc"] > best["val_acc"]):
                best = {"epoch": epoch, "val_loss": row["val_loss"], "val_acc": row["val_acc"]}
                if ctx.is_main:
                    self._save_model(self.out / BEST_DIR, epoch, val_acc=row["val_acc"])
            self._checkpoint(epoch, step, history, best)
            if ctx.is_main:
                metrics.append(row)
                logger.info(summary_line(row, recipe.epochs))
        return self._finish(history, best, epochs_run=recipe.epochs - start)

    def _build(self) -> None:
        config, recipe, ctx = self.config, self.recipe, self.ctx
        _seed_everything(config.seed)
        try:
            model = zoo.create(config.model, num_classes=self.spec.num_classes, **config.model_options())
        except ValueError as error:  # the builder refusing an option value, e.g. an unknown --act
            raise TrainConfigError(
                f"cannot build {config.model} with {config.model_options()}: {error}"
            ) from None
        memory_format = torch.channels_last if config.channels_last else torch.preserve_format
        self.model = model = model.to(self.device, memory_format=memory_format)
        if ctx.rank:  # DDP copies rank 0's weights; other draws (dropout) should differ between ranks
            torch.manual_seed(config.seed + ctx.rank)
        self.data = build_data(config, self.spec.dataset, self.spec.num_classes, ctx, self.device)
        self.optimizer = build_optimizer(model.parameters(), recipe)
        self.schedule = build_schedule(self.optimizer, recipe, len(self.data.train))
        self.loss_fn = build_loss(recipe, self.spec.num_classes)
        self.precision = choose_precision(self.device, config.amp)
        self.scaler = self.precision.make_scaler()
        net = ctx.wrap(model)
        self.net = torch.compile(net) if config.compile else net
        self.eval_net = torch.compile(model) if config.compile else model

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
            )
        except NonFiniteLossError as error:
            raise NonFiniteLossError(f"{error}; training stopped. {self._kept(epoch - 1)}") from None
        finally:
            progress.stop()
        self.ctx.broadcast_buffers(self.model)
        eval_loss, eval_acc = evaluate(
            self.eval_net, data.eval, self.loss_fn, self.precision, tta=recipe.tta, ctx=self.ctx
        )
        self.schedule.after_epoch(eval_loss)
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

    def _banner(self, start: int) -> str:
        r, d = self.recipe, self.data
        sizes = f"{d.sizes['train']} train / {d.sizes['val'] or d.sizes['test']} {d.eval_split}"
        where = f"{self.device}" + (f" x{self.ctx.world_size} processes" if self.ctx.enabled else "")
        resumed = f", resuming after epoch {start}" if start else ""
        return (
            f"training {self.config.model} on {d.identity} ({sizes}) with recipe {r.name}: {r.epochs} "
            f"epochs, batch {r.batch_size}, {r.optimizer} lr {r.lr:g}, {r.scheduler}, {r.loss} on "
            f"{where}{resumed} -> {self.out}"
        )

    def _kept(self, epoch: int) -> str:
        advice = "a lower --lr (in a new run: another --out) usually helps"
        if epoch == 0:
            return f"No checkpoint was written (the first epoch failed); {advice}"
        return f"{self.out / CHECKPOINT_DIR} still holds epoch {epoch}; {advice}"

    def _config_record(self) -> dict[str, Any]:
        r, d = self.recipe, self.data
        return {
            "config": self.config.to_dict(),
            "recipe_source": r.source,
            "recipe_claim": r.claim,
            "dataset": {
                "name": self.spec.dataset,
                "identity": d.identity,
                "eval_split": d.eval_split,
                **d.sizes,
            },
            "device": str(self.device),
            "precision": str(self.precision.dtype or torch.float32),
            "world_size": self.ctx.world_size,
            "steps_per_epoch": len(d.train),
            "versions": {"zoo": zoo.__version__, "torch": torch.__version__},
        }

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
        self.model.load_state_dict(load_file(str(model_file)))
        load_optimizer_state(self.optimizer, tensors, info["optimizer"])
        self.schedule.load_state_dict(info["scheduler"])
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
                self.model.load_state_dict(load_file(str(best_path)))
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
