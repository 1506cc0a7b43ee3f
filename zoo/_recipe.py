"""`Recipe`: every hyper-parameter of a training run, in one frozen record, and its checks.

A recipe names its source and the claim it reproduces. Plugins register recipes through the
``zoo_register_recipes`` hook (the built-in ones come from zoo/plugins/recipes.py); a model's spec
may name its default. Options given to `zoo.train.train` (or on the command line) override single
fields: recipe defaults < explicit options. Kept free of torch and of the rest of zoo.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, fields
from typing import Any

from ._choices import LOSSES, OPTIMIZERS, SCHEDULERS
from ._errors import ZooError


class RecipeError(ZooError, ValueError):
    """An unknown recipe name or a recipe field with a value training cannot use."""


@dataclass(frozen=True)
class Recipe:
    """All hyper-parameters of one training run (runtime settings such as device live elsewhere).

    Scheduler fields apply to the scheduler that reads them: ``plateau_*`` and ``min_lr`` to
    ``plateau`` (``min_lr`` also floors ``cosine``), ``step_size``/``gamma`` to ``step``,
    ``exponential`` and ``cyclic`` (half-cycle in epochs), ``warmup`` to ``onecycle``. ``None``
    means the scheduler's own default. ``val_size`` holds out a fraction (< 1) or a count of the
    training images for validation: the per-epoch evaluation and the plateau scheduler then use
    it, and ``best/`` keeps the epoch with the best validation accuracy. With ``val_size == 0``
    the test split is evaluated each epoch.
    """

    name: str
    source: str
    claim: str
    epochs: int = 200
    batch_size: int = 128
    optimizer: str = "sgd"
    lr: float = 0.1
    momentum: float | None = 0.9  # SGD momentum, or beta1 of the Adam family; None: the optimizer's default
    nesterov: bool = False
    weight_decay: float = 5e-4
    scheduler: str = "plateau"
    plateau_factor: float = 0.5
    plateau_patience: int = 5
    plateau_cooldown: int = 5
    min_lr: float = 1e-6
    step_size: int | None = None
    gamma: float | None = None
    warmup: float = 0.25
    loss: str = "ce"
    label_smoothing: float = 0.0
    crop_padding: int = 4
    flip: bool = True
    cutout: int = 0
    tta: bool = False
    val_size: float = 0.0

    def to_dict(self) -> dict:
        return {f.name: getattr(self, f.name) for f in fields(self)}


DESCRIPTIVE_FIELDS = ("name", "source", "claim")
HYPER_PARAMETERS = tuple(f.name for f in fields(Recipe) if f.name not in DESCRIPTIVE_FIELDS)
_NAME_RE = re.compile(r"^[a-z][a-z0-9_-]*$")


def _choice(error: type[ZooError], what: str, value: str, choices: tuple[str, ...]) -> None:
    if value not in choices:
        raise error(f"unknown {what} {value!r}; choose one of {', '.join(choices)}")


def check_range(error: type[ZooError], name: str, value: Any, ok: bool, expected: str) -> None:
    """Raise `error` saying `name` = `value` must be `expected`, unless `ok`."""
    if not ok:
        raise error(f"{name} = {value!r} is out of range: it must be {expected}")


def check_finite(error: type[ZooError], values: dict[str, Any]) -> None:
    """Raise `error` for the first float of `values` that is inf or nan (inf passes range checks)."""
    for name, value in values.items():
        if isinstance(value, float) and not math.isfinite(value):
            raise error(f"{name} = {value!r} is not a finite number: give a finite value")


def validate_hyper_parameters(recipe: Recipe, error: type[ZooError] = RecipeError) -> None:
    """Raise `error` for the first hyper-parameter of `recipe` that training cannot use."""
    r = recipe
    check_finite(error, r.to_dict())
    _choice(error, "optimizer", r.optimizer, OPTIMIZERS)
    _choice(error, "scheduler", r.scheduler, SCHEDULERS)
    _choice(error, "loss", r.loss, LOSSES)
    whole = "an int >= 1"
    check_range(error, "epochs", r.epochs, isinstance(r.epochs, int) and r.epochs >= 1, whole)
    check_range(error, "batch_size", r.batch_size, isinstance(r.batch_size, int) and r.batch_size >= 1, whole)
    check_range(error, "lr", r.lr, r.lr > 0, "> 0")
    check_range(error, "weight_decay", r.weight_decay, r.weight_decay >= 0, ">= 0")
    check_range(error, "label_smoothing", r.label_smoothing, 0 <= r.label_smoothing < 1, "in [0, 1)")
    check_range(error, "val_size", r.val_size, r.val_size >= 0, ">= 0 (a fraction below 1, or a count)")
    check_range(error, "warmup", r.warmup, 0 < r.warmup < 1, "in (0, 1)")
    check_range(error, "crop_padding", r.crop_padding, r.crop_padding >= 0, ">= 0")
    check_range(error, "cutout", r.cutout, r.cutout >= 0, ">= 0")
    if r.momentum is not None:
        check_range(error, "momentum", r.momentum, 0 <= r.momentum < 1, "in [0, 1)")


def check_recipe(recipe: Recipe) -> None:
    """Raise for a recipe the registry must refuse: not a `Recipe`, a bad name, an unusable value."""
    if not isinstance(recipe, Recipe):
        raise TypeError(f"register() takes a zoo.Recipe, got {type(recipe).__name__}")
    if not isinstance(recipe.name, str) or not _NAME_RE.match(recipe.name):
        raise RecipeError(f"recipe name {recipe.name!r} must be lower-case letters, digits, '_' or '-'")
    for field in DESCRIPTIVE_FIELDS[1:]:
        if not isinstance(getattr(recipe, field), str) or not getattr(recipe, field).strip():
            raise RecipeError(
                f"recipe {recipe.name!r}: field {field!r} must say where it comes from / what it reproduces"
            )
    try:
        validate_hyper_parameters(recipe)
    except RecipeError as error:
        raise RecipeError(f"recipe {recipe.name!r}: {error}") from None


def describe(recipe: Recipe) -> str:
    """What a recipe sets, in one line: optimizer, schedule, batch, epochs, loss, augmentation."""
    r = recipe
    optimizer = f"{r.optimizer}{'-nesterov' if r.nesterov else ''} lr {r.lr:g}"
    if r.momentum is not None:
        optimizer += f", momentum {r.momentum:g}"
    schedule = {
        "plateau": f"plateau ({r.plateau_factor:g}, patience {r.plateau_patience}, "
        f"cooldown {r.plateau_cooldown}, min {r.min_lr:g})",
        "onecycle": f"one-cycle (warm-up {r.warmup:g})",
        "cosine": f"cosine (min {r.min_lr:g})",
    }.get(r.scheduler, r.scheduler)
    augment = [f"crop {r.crop_padding}" if r.crop_padding else "", "flip" if r.flip else ""]
    augment += [f"cutout {r.cutout}" if r.cutout else "", "flip TTA" if r.tta else ""]
    parts = [
        optimizer,
        f"wd {r.weight_decay:g}",
        schedule,
        f"batch {r.batch_size}",
        f"{r.epochs} epoch{'' if r.epochs == 1 else 's'}",
        r.loss + (f" (label smoothing {r.label_smoothing:g})" if r.label_smoothing else ""),
        " + ".join(a for a in augment if a) or "no augmentation",
    ]
    if r.val_size:
        parts.append(f"validation {r.val_size:g}")
    return ", ".join(parts)
