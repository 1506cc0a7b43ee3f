"""The `zoo train` and `zoo grow` command lines a campaign step runs, built from the CLI's own options.

A step runs `zoo train` as a subprocess (a crash or a kill of one run cannot take the campaign
down), so the command line is the contract: plan options are checked against, and turned into
flags by, the click parameters of the installed `zoo train`, and features other branches add
(`zoo grow`, `--checkpoint-every`) are used when, and only when, this zoo has them.
"""

from __future__ import annotations

import sys
from functools import lru_cache
from pathlib import Path
from typing import Any

from .plan import Step

GROW_MISSING = "needs zoo grow (branch grow)"  # not in this zoo yet


@lru_cache(maxsize=1)
def _cli() -> Any:
    import typer

    from ..cli import app

    return typer.main.get_command(app)


def has_command(name: str) -> bool:
    """Whether `zoo NAME` exists in this zoo."""
    return name in _cli().commands


def train_params() -> dict[str, Any]:
    """The click parameters of `zoo train`, by Python name (``batch_size``, ``tta``, ...)."""
    return {p.name: p for p in _cli().commands["train"].params}


def check_train_option(name: str, value: Any) -> str | None:
    """What is wrong with ``options.NAME = value`` for `zoo train` (what is expected), or None."""
    params = train_params()
    param = params.get(name)
    if param is None or param.param_type_name != "option":
        options = sorted(k for k, p in params.items() if p.param_type_name == "option")
        return f"a `zoo train` option: {', '.join(options)}"
    if param.is_flag:
        return None if isinstance(value, bool) else "true or false"
    descriptor = getattr(param, "type_descriptor", None)  # typer >= 0.25; click's type before
    kind = descriptor.annotation.__name__ if descriptor else param.type.name
    if isinstance(value, (bool, list, dict)):
        return f"a {kind} value"
    try:
        param.process_value(None, str(value))  # what the command line will hand it
    except Exception as error:  # click's BadParameter, whose class newer typer vendors
        return f"a {kind} value ({getattr(error, 'message', error)})"
    if name == "time_budget":
        from ..train.budget import DurationError, parse_duration

        try:
            parse_duration(value)
        except DurationError as error:
            return str(error)
    return None


def _flags(options: dict[str, Any]) -> list[str]:
    params, argv = train_params(), []
    for name, value in options.items():
        param = params[name]
        if param.is_flag:
            argv += [param.opts[0]] if value else param.secondary_opts[:1]
        else:
            argv += [param.opts[0], str(value)]
    return argv


def zoo_command(*args: Any) -> list[str]:
    """`python -m zoo ARGS...` with this interpreter (and so this zoo)."""
    return [sys.executable, "-m", "zoo", *map(str, args)]


def train_command(step: Step, out: Path, *, resume: bool, init_from: Path | None = None) -> list[str]:
    """`zoo train` for `step` into `out`: a fresh start, or `--resume` of the run there.

    A resume passes the plan's options again, so that `zoo train` refuses a run the plan no
    longer describes; `--init-from` is left out then (the checkpoint holds the weights).
    """
    argv = zoo_command("train", step.model, "--out", out)
    if step.recipe:
        argv += ["--recipe", step.recipe]
    if step.data_dir is not None:
        argv += ["--data-dir", str(step.data_dir)]
    argv += _flags(step.options)
    if step.checkpoint_every and "checkpoint_every" in train_params():
        argv += ["--checkpoint-every", step.checkpoint_every]
    if resume:
        argv.append("--resume")
    elif init_from is not None:
        argv += ["--init-from", str(init_from)]
    return argv


def grow_command(step: Step, source: str | Path, out: Path) -> list[str]:
    """`zoo grow SOURCE MODEL --out OUT`: the step's model grown from a finished run or MODEL.TAG."""
    argv = zoo_command("grow", source, step.model, "--out", out)
    if step.grow_noise is not None:
        argv += ["--noise", str(step.grow_noise)]
    return argv
