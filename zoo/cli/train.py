"""`zoo train`: train a registered model from scratch (also under torchrun for DDP)."""

from __future__ import annotations

import logging
import os
from pathlib import Path

import typer

from ..train.choices import LOSSES, OPTIMIZERS, PRECISIONS, SCHEDULERS
from . import ClickException, CliUsageError, app


def _names(names) -> str:
    return ", ".join(names)


@app.command("train")
def train_command(
    model: str = typer.Argument(
        ..., help="Registered model to train from scratch (its spec picks the data set)."
    ),
    out: Path = typer.Option(..., "--out", "-o", help="Run directory: checkpoint/, best/, metrics, plots."),
    recipe: str = typer.Option(
        None,
        "--recipe",
        help="Named recipe (`zoo recipes` lists them); default: the model's (`zoo info MODEL`).",
    ),
    resume: bool = typer.Option(
        False, "--resume", help="Continue the run in --out from its last checkpoint."
    ),
    data_dir: Path = typer.Option(None, "--data-dir", help="Data set directory (default: zoo's data cache)."),
    download: bool = typer.Option(
        False, "--download", help="Download the data set into --data-dir if absent (only with this flag)."
    ),
    epochs: int = typer.Option(None, "--epochs", help="Training epochs."),
    batch_size: int = typer.Option(
        None, "--batch-size", help="Global batch size (split over DDP processes)."
    ),
    lr: float = typer.Option(None, "--lr", help="(Peak) learning rate."),
    momentum: float = typer.Option(None, "--momentum", help="SGD momentum, or beta1 of the Adam family."),
    weight_decay: float = typer.Option(None, "--weight-decay", help="L2 weight decay."),
    optimizer: str = typer.Option(None, "--optimizer", help=_names(OPTIMIZERS) + "."),
    scheduler: str = typer.Option(None, "--scheduler", help=_names(SCHEDULERS) + "."),
    loss: str = typer.Option(None, "--loss", help=_names(LOSSES) + " (all but ce take one-hot targets)."),
    label_smoothing: float = typer.Option(None, "--label-smoothing", help="Label smoothing in [0, 1)."),
    act: str = typer.Option(None, "--act", help="Activation, for models with an `act` option."),
    tta: bool = typer.Option(None, "--tta/--no-tta", help="Flip test-time augmentation in each evaluation."),
    val_size: float = typer.Option(
        None, "--val-size", help="Hold out a fraction (< 1) or count of training images for validation."
    ),
    seed: int = typer.Option(None, "--seed", help="Seed of initialisation, data order and augmentation."),
    device: str = typer.Option(None, "--device", help="auto, cpu, cuda, cuda:N or mps (default: auto)."),
    precision: str = typer.Option(
        None,
        "--precision",
        help=f"{_names(PRECISIONS)}; auto (default): bf16 autocast where the device has it natively.",
    ),
    channels_last: bool = typer.Option(
        None, "--channels-last/--no-channels-last", help="NHWC memory format (default: on for image models)."
    ),
    time_budget: str = typer.Option(
        None,
        "--time-budget",
        help="Wall-clock budget (90s, 45m, 1.5h): the first steps are timed and the epochs set to fit it.",
    ),
    checkpoint_every: str = typer.Option(
        None,
        "--checkpoint-every",
        metavar="STEPS|DURATION",
        help="Also checkpoint inside epochs: every N steps (500) or every duration (90s, 10m, 1.5h).",
    ),
    eval_every: int = typer.Option(
        None, "--eval-every", help="Evaluate every K epochs (and after the last)."
    ),
    limit_test: int = typer.Option(
        None, "--limit-test", help="Evaluate on a random N-image subset of the test split (short runs)."
    ),
    use_compile: bool = typer.Option(None, "--compile/--no-compile", help="torch.compile the model."),
    limit_train: int = typer.Option(
        None, "--limit-train", help="Train on a random N-image subset (smoke runs)."
    ),
    init_from: str = typer.Option(
        None,
        "--init-from",
        metavar="MODEL[.TAG]|PATH",
        help="Start from published weights (default tag if none; a new classifier if classes differ) or "
        "from a zoo model file / a folder holding model.safetensors (e.g. `zoo grow ... --out`).",
    ),
) -> None:
    """Train MODEL: recipe defaults, overridden by the options given; a checkpoint every epoch.

    Options left unset take the recipe's value: `zoo recipes NAME` shows them.
    """
    from ..checkpoint import CheckpointError
    from ..data import DatasetError
    from ..train import OutputDirError, TrainConfigError, TrainingFailedError, train
    from ..train.state import RunWriteError

    if _rank() != 0:  # under torchrun, rank 0 speaks for the job
        logging.getLogger("zoo").setLevel(logging.ERROR)

    overrides = dict(
        epochs=epochs,
        batch_size=batch_size,
        lr=lr,
        momentum=momentum,
        weight_decay=weight_decay,
        optimizer=optimizer,
        scheduler=scheduler,
        loss=loss,
        label_smoothing=label_smoothing,
        act=act,
        tta=tta,
        val_size=val_size,
        seed=seed,
        device=device,
        precision=precision,
        channels_last=channels_last,
        time_budget=_seconds(time_budget),
        checkpoint_every=_interval(checkpoint_every),
        eval_every=eval_every,
        limit_test=limit_test,
        compile=use_compile,
        limit_train=limit_train,
        download=download or None,
        init_from=init_from,
    )
    try:
        result = train(model, recipe=recipe, out=out, data_dir=data_dir, resume=resume, **overrides)
    except (TrainConfigError, OutputDirError, DatasetError, CheckpointError) as error:
        raise CliUsageError(str(error)) from None
    except (TrainingFailedError, RunWriteError) as error:
        raise ClickException(str(error)) from None
    if _rank() != 0:
        return
    final = result.final
    split = "test" if final.get("test_acc") is not None else "val"
    if final:
        typer.echo(
            f"{model}: {split} accuracy {final[f'{split}_acc']:.2%} after epoch {final['epoch']}; "
            f"model in {result.model_path}"
        )
    if result.best is not None:
        best = result.best
        typer.echo(f"best epoch {best['epoch']} (val accuracy {best['val_acc']:.2%}): {result.best_path}")


def _seconds(duration: str | None) -> float | None:
    from ..train.options import DurationError, parse_duration

    if duration is None:
        return None
    try:
        return parse_duration(duration)
    except DurationError as error:
        raise CliUsageError(f"--time-budget: {error}") from None


def _interval(text: str | None):
    from ..train.options import CheckpointEvery, DurationError

    if text is None:
        return None
    try:
        return CheckpointEvery.parse(text)
    except DurationError as error:
        raise CliUsageError(f"--checkpoint-every: {error}") from None


def _rank() -> int:
    return int(os.environ.get("RANK", "0"))
