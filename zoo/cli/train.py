"""`zoo train`: train a registered model from scratch (also under torchrun for DDP)."""

from __future__ import annotations

import logging
import os
from pathlib import Path

import typer

from ..train.choices import LOSSES, OPTIMIZERS, SCHEDULERS
from ..train.recipes import list_recipes
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
        None, "--recipe", help=f"Named recipe ({_names(list_recipes())}); default: by model family."
    ),
    resume: bool = typer.Option(
        False, "--resume", help="Continue the run in --out from its last checkpoint."
    ),
    data_dir: Path = typer.Option(None, "--data-dir", help="Data set directory (default: zoo's data cache)."),
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
    amp: bool = typer.Option(
        None, "--amp/--no-amp", help="Mixed precision: bf16 where supported, else fp16."
    ),
    channels_last: bool = typer.Option(
        None, "--channels-last/--no-channels-last", help="NHWC memory format."
    ),
    use_compile: bool = typer.Option(None, "--compile/--no-compile", help="torch.compile the model."),
    limit_train: int = typer.Option(
        None, "--limit-train", help="Train on a random N-image subset (smoke runs)."
    ),
) -> None:
    """Train MODEL: recipe defaults, overridden by the options given; a checkpoint every epoch."""
    from ..checkpoint import CheckpointError
    from ..data import DatasetError
    from ..train import NonFiniteLossError, OutputDirError, TrainConfigError, train

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
        amp=amp,
        channels_last=channels_last,
        compile=use_compile,
        limit_train=limit_train,
    )
    try:
        result = train(model, recipe=recipe, out=out, data_dir=data_dir, resume=resume, **overrides)
    except (TrainConfigError, OutputDirError, DatasetError, CheckpointError) as error:
        raise CliUsageError(str(error)) from None
    except NonFiniteLossError as error:
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


def _rank() -> int:
    return int(os.environ.get("RANK", "0"))
