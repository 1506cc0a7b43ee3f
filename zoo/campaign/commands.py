"""The `zoo train` and `zoo grow` command lines a campaign step runs.

A step runs `zoo train` as a subprocess (a crash or a kill of one run cannot take the campaign
down), so the command line is the contract: zoo.campaign.plan checks plan options against
`zoo.train.TrainOptions`, the typed record `zoo train` builds from its flags, and they are turned
into those flags here by the same table (`zoo.train.options.flag`).
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from ..train.options import flag
from .plan import Step


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
        argv += flag("data_dir", step.data_dir)
    for name, value in step.options.items():
        argv += flag(name, value)
    if step.checkpoint_every:
        argv += flag("checkpoint_every", step.checkpoint_every)
    if resume:
        argv.append("--resume")
    elif init_from is not None:
        argv += flag("init_from", init_from)
    return argv


def grow_command(step: Step, source: str | Path, out: Path) -> list[str]:
    """`zoo grow SOURCE MODEL --out OUT`: the step's model grown from a finished run or MODEL.TAG."""
    argv = zoo_command("grow", source, step.model, "--out", out)
    if step.grow_noise is not None:
        argv += ["--noise", str(step.grow_noise)]
    return argv
