"""`zoo train`: train a registered model, from scratch or from --init-from (also under torchrun for DDP)."""

from __future__ import annotations

import inspect
import logging
import os
import typing
from pathlib import Path

import typer

from ..train.options import COMMAND_LINE, NEGATABLE, TrainOptions
from ._app import ClickException, CliUsageError, app

_FLAG_TYPES = {"time_budget": str, "checkpoint_every": str, "init_from": str, "data_dir": Path}
_METAVARS = {"time_budget": "DURATION", "checkpoint_every": "STEPS|DURATION", "init_from": "MODEL[.TAG]|PATH"}


def _with_option_flags(command):
    """`command` with one keyword flag per `COMMAND_LINE` field of `TrainOptions`, each with that
    field's help and default: one table, so a new recipe field is a flag the day it exists."""
    hints = typing.get_type_hints(TrainOptions)
    own = [p for p in inspect.signature(command).parameters.values() if p.kind is not p.VAR_KEYWORD]
    flags = []
    for name in COMMAND_LINE:
        kind = _FLAG_TYPES.get(name) or next(t for t in typing.get_args(hints[name]) if t is not type(None))
        option = "--" + name.replace("_", "-")
        if name in NEGATABLE:
            option += "/--no-" + name.replace("_", "-")
        info = typer.Option(
            False if kind is bool and name not in NEGATABLE else None,
            option, help=TrainOptions.describe(name), metavar=_METAVARS.get(name),
        )  # fmt: skip
        flags.append(inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, default=info, annotation=kind))
    command.__signature__ = inspect.Signature([*own, *flags])
    return command


@app.command("train")
@_with_option_flags
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
    **flags,
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

    options = TrainOptions(**{**flags, "download": flags.get("download") or None})
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
