"""`zoo train`: train a registered model, from scratch or from --init-from (also under torchrun for DDP)."""

from __future__ import annotations

import logging
import os
from pathlib import Path

import typer

from ..train.options import TrainOptions
from ._app import ClickException, CliUsageError, app


def _option(name: str, *flags: str, **kwargs) -> typer.Option:
    """The flag of `TrainOptions` field `name`, with its help and default from that field."""
    return typer.Option(None, *flags, help=TrainOptions.describe(name), **kwargs)


@app.command("train")
def train_command(
    model: str = typer.Argument(
        ..., help="Registered model to train (its spec picks the data set); from scratch unless --init-from."
    ),
    out: Path = typer.Option(..., "--out", "-o", help="Run directory: checkpoint/, best/, metrics, plots."),
    recipe: str = typer.Option(
        None,
        "--recipe",
        help="Named recipe, `zoo recipes` lists them (default: the model's, `zoo info MODEL`).",
    ),
    resume: bool = typer.Option(
        False, "--resume", help="Continue the run in --out from its last checkpoint (default: off)."
    ),
    data_dir: Path = _option("data_dir", "--data-dir"),
    download: bool = typer.Option(False, "--download", help=TrainOptions.describe("download")),
    epochs: int = _option("epochs", "--epochs"),
    batch_size: int = _option("batch_size", "--batch-size"),
    lr: float = _option("lr", "--lr"),
    momentum: float = _option("momentum", "--momentum"),
    weight_decay: float = _option("weight_decay", "--weight-decay"),
    optimizer: str = _option("optimizer", "--optimizer"),
    scheduler: str = _option("scheduler", "--scheduler"),
    loss: str = _option("loss", "--loss"),
    label_smoothing: float = _option("label_smoothing", "--label-smoothing"),
    act: str = _option("act", "--act"),
    tta: bool = _option("tta", "--tta/--no-tta"),
    val_size: float = _option("val_size", "--val-size"),
    seed: int = _option("seed", "--seed"),
    device: str = _option("device", "--device"),
    precision: str = _option("precision", "--precision"),
    channels_last: bool = _option("channels_last", "--channels-last/--no-channels-last"),
    time_budget: str = _option("time_budget", "--time-budget", metavar="DURATION"),
    checkpoint_every: str = _option("checkpoint_every", "--checkpoint-every", metavar="STEPS|DURATION"),
    eval_every: int = _option("eval_every", "--eval-every"),
    limit_test: int = _option("limit_test", "--limit-test"),
    use_compile: bool = _option("compile", "--compile/--no-compile"),
    limit_train: int = _option("limit_train", "--limit-train"),
    init_from: str = _option("init_from", "--init-from", metavar="MODEL[.TAG]|PATH"),
) -> None:
    """Train MODEL: recipe defaults, overridden by the options given; a checkpoint every epoch.

    Hyper-parameters left unset take the recipe's value: `zoo recipes NAME` shows them.
    """
    from ..checkpoint import CheckpointError
    from ..data import DatasetError
    from ..train import OutputDirError, TrainConfigError, TrainingFailedError, train
    from ..train.rundir import RunWriteError

    if _rank() != 0:  # under torchrun, rank 0 speaks for the job
        logging.getLogger("zoo").setLevel(logging.ERROR)

    options = TrainOptions(
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
        data_dir=data_dir,
        download=download or None,
        device=device,
        precision=precision,
        channels_last=channels_last,
        time_budget=time_budget,
        checkpoint_every=checkpoint_every,
        eval_every=eval_every,
        limit_test=limit_test,
        compile=use_compile,
        limit_train=limit_train,
        init_from=init_from,
    )
    try:
        result = train(model, recipe=recipe, out=out, resume=resume, options=options)
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


def _rank() -> int:
    return int(os.environ.get("RANK", "0"))
