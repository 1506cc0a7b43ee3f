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

from ._choices import FLIP_MODES, LOSSES, OPTIMIZERS, PADDING_MODES, SCHEDULERS, TTA_MODES
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

    ``onecycle_start``/``onecycle_end`` are the first and the last learning rate of ``onecycle`` as
    fractions of the peak ``lr``, and the last ``onecycle_hold`` of the steps stay at the last one
    (Page's lr floor under the weight average). ``tta_mode`` is what ``tta`` averages over.
    ``padding_mode`` is how the random crop pads, ``flip_mode`` whether flips alternate by epoch.

    Tricks of Page's and Jordan's fast CIFAR-10 training, each off by default: ``bn_lr_scale``
    multiplies the learning rate of the BatchNorm parameters and divides their weight decay (so
    their decay per step, lr x wd, stays that of the other weights); ``bn_weight_frozen`` keeps
    every BatchNorm scale at its initial 1; ``ema_momentum`` > 0 keeps an exponential moving average
    of the weights (and of the float buffers: BatchNorm statistics), updated every ``ema_every``
    steps with momentum ``ema_momentum ** ema_every`` times ``(step / steps) ** ema_ramp``, started
    after ``ema_start`` epochs, and evaluated and saved in place of the trained weights;
    ``lookahead`` copies the average back into the trained weights at every update and epoch end.

    ``progressive_resize`` trains the first epochs on smaller images (FixRes-style low-resolution
    early epochs, cheaper per step): ``"SIZE:FRACTION,..."``, e.g. ``"16:0.4,24:0.3"`` is the first
    40 % of the epochs at 16x16, the next 30 % at 24x24 and the rest at full size ("": off); an
    epoch trains at the stage its start falls in, and the last one always at full size.
    ``freeze_after`` stops training named parameters after some epochs: ``"NAME:EPOCHS,..."``, a
    parameter's name or a module's (all its parameters), e.g. ``"whiten.bias:3"`` (airbench94's
    whitening bias trains for 3 epochs, then stays as it is: no gradient step, no weight decay).
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
    onecycle_start: float = 1 / 25
    onecycle_end: float = 1 / 25e4
    onecycle_hold: float = 0.0
    loss: str = "ce"
    label_smoothing: float = 0.0
    crop_padding: int = 4
    flip: bool = True
    padding_mode: str = "zeros"
    flip_mode: str = "random"
    cutout: int = 0
    tta: bool = False
    tta_mode: str = "flip"
    val_size: float = 0.0
    bn_lr_scale: float = 1.0
    bn_weight_frozen: bool = False
    ema_momentum: float = 0.0
    ema_every: int = 1
    ema_start: int = 0
    ema_ramp: float = 0.0
    lookahead: bool = False
    progressive_resize: str = ""
    freeze_after: str = ""

    def to_dict(self) -> dict:
        return {f.name: getattr(self, f.name) for f in fields(self)}


DESCRIPTIVE_FIELDS = ("name", "source", "claim")
HYPER_PARAMETERS = tuple(f.name for f in fields(Recipe) if f.name not in DESCRIPTIVE_FIELDS)
_NAME_RE = re.compile(r"^[a-z][a-z0-9_-]*$")


def recipe_changes(used: dict[str, Any], recipe: Recipe) -> dict[str, Any]:
    """The hyper-parameters of `used` (a run's recipe as its config.json records it) that differ from
    `recipe`'s: what a release says it changed of its named recipe. Epochs aside: a release states
    them on their own (the best epoch, or a time budget's fit)."""
    defaults = recipe.to_dict()
    return {
        key: used[key]
        for key in HYPER_PARAMETERS
        if key != "epochs" and key in used and used[key] != defaults[key]
    }


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
    _check_onecycle(error, r)
    _choice(error, "tta_mode", r.tta_mode, TTA_MODES[1:])
    _choice(error, "padding_mode", r.padding_mode, PADDING_MODES)
    _choice(error, "flip_mode", r.flip_mode, FLIP_MODES)
    _check_tricks(error, r)
    resize_stages(r.progressive_resize, error)
    freeze_stages(r.freeze_after, error)


def resize_stages(text: str, error: type[ZooError] = RecipeError) -> tuple[tuple[int, float], ...]:
    """The (side, fraction of the epochs) stages of a ``progressive_resize`` value, checked."""
    if not isinstance(text, str):
        raise error(f"progressive_resize = {text!r} must be text such as '16:0.4,24:0.3'")
    stages = []
    for part in filter(None, (p.strip() for p in text.split(","))):
        side, _, fraction = part.partition(":")
        try:
            stage = int(side), float(fraction)
        except ValueError:
            stage = None
        if stage is None or stage[0] < 8 or not 0 < stage[1] < 1:
            raise error(
                f"progressive_resize = {text!r}: stage {part!r} must be SIDE:FRACTION, a side of at "
                "least 8 pixels and a fraction of the epochs in (0, 1), e.g. '16:0.4,24:0.3'"
            )
        stages.append(stage)
    if sum(f for _, f in stages) >= 1:
        raise error(
            f"progressive_resize = {text!r}: the fractions must add up to < 1 (the rest is full size)"
        )
    return tuple(stages)


def freeze_stages(text: str, error: type[ZooError] = RecipeError) -> tuple[tuple[str, int], ...]:
    """The (parameter or module name, epochs it trains) pairs of a ``freeze_after`` value, checked."""
    if not isinstance(text, str):
        raise error(f"freeze_after = {text!r} must be text such as 'whiten.bias:3'")
    stages = []
    for part in filter(None, (p.strip() for p in text.split(","))):
        name, _, epochs = part.rpartition(":")
        if not name or not epochs.isdigit() or int(epochs) < 1:
            raise error(
                f"freeze_after = {text!r}: {part!r} must be NAME:EPOCHS, a parameter or module name and "
                "the whole number of epochs (>= 1) it trains, e.g. 'whiten.bias:3'"
            )
        stages.append((name, int(epochs)))
    return tuple(stages)


def image_side(recipe: Recipe, epoch: int) -> int | None:
    """The side epoch `epoch` (1-based) trains at under ``progressive_resize``; None: full size.

    An epoch trains at the stage its start falls in (6 epochs of "16:0.4,24:0.3": 3 at 16 px, 2 at
    24, 1 full size), and the last epoch always at full size: the resolution it is tested at."""
    return resized_side(recipe.progressive_resize, recipe.epochs, epoch)


def resized_side(progressive_resize: str, epochs: int, epoch: int) -> int | None:
    """`image_side` from the two recipe fields it reads (a run record holds them as plain values)."""
    if epoch >= epochs:
        return None
    position, reached = (epoch - 1) / epochs, 0.0
    for side, fraction in resize_stages(progressive_resize):
        reached += fraction
        if position < reached - 1e-9:
            return side
    return None


def pixel_shares(progressive_resize: str, epochs: int, full_side: int) -> list[float]:
    """Each epoch's pixels per image against full size (1.0 there) under ``progressive_resize``: about
    the share of a full-size epoch's compute it costs (a resnet18 step at 16 px ran 3.3x the 32 px
    rate on the AVX2 dev CPU, where pixels alone say 4x)."""
    sides = (resized_side(progressive_resize, epochs, epoch) or full_side for epoch in range(1, epochs + 1))
    return [(side / full_side) ** 2 for side in sides]


def _check_onecycle(error: type[ZooError], r: Recipe) -> None:
    check_range(error, "onecycle_start", r.onecycle_start, 0 <= r.onecycle_start <= 1, "in [0, 1]")
    check_range(error, "onecycle_end", r.onecycle_end, 0 <= r.onecycle_end <= 1, "in [0, 1]")
    check_range(error, "onecycle_hold", r.onecycle_hold, 0 <= r.onecycle_hold < 1, "in [0, 1)")
    if r.scheduler == "onecycle" and r.warmup + r.onecycle_hold >= 1:
        raise error(
            f"warmup + onecycle_hold = {r.warmup!r} + {r.onecycle_hold!r} leaves no steps for the "
            f"one-cycle decay: their sum must be < 1"
        )


def _check_tricks(error: type[ZooError], r: Recipe) -> None:
    """The fast-training tricks: BatchNorm learning-rate scale, frozen scales, weight average."""
    check_range(error, "bn_lr_scale", r.bn_lr_scale, r.bn_lr_scale > 0, "> 0 (1: as the other weights)")
    check_range(error, "ema_momentum", r.ema_momentum, 0 <= r.ema_momentum < 1, "in [0, 1) (0: no average)")
    whole = isinstance(r.ema_every, int) and not isinstance(r.ema_every, bool) and r.ema_every >= 1
    check_range(error, "ema_every", r.ema_every, whole, "an int >= 1 (steps between updates)")
    start = isinstance(r.ema_start, int) and not isinstance(r.ema_start, bool) and r.ema_start >= 0
    check_range(error, "ema_start", r.ema_start, start, "an int >= 0 (epochs before the average starts)")
    check_range(error, "ema_ramp", r.ema_ramp, r.ema_ramp >= 0, ">= 0 (0: a constant momentum)")
    for name in ("bn_weight_frozen", "lookahead"):
        value = getattr(r, name)
        check_range(error, name, value, isinstance(value, bool), "True or False")
    if r.lookahead and not r.ema_momentum:
        raise error("lookahead = True copies a weight average back: it needs ema_momentum > 0")


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
        "onecycle": _describe_onecycle(r),
        "cosine": f"cosine (min {r.min_lr:g})",
    }.get(r.scheduler, r.scheduler)
    tta = {"flip": "flip TTA", "flip_translate": "flip-translate TTA"}.get(r.tta_mode, r.tta_mode)
    crop = f"crop {r.crop_padding}" + (f" ({r.padding_mode} padding)" if r.padding_mode != "zeros" else "")
    flip = "alternating flip" if r.flip_mode == "alternate" else "flip"
    augment = [crop if r.crop_padding else "", flip if r.flip else ""]
    augment += [f"cutout {r.cutout}" if r.cutout else "", tta if r.tta else ""]
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
    parts += _describe_tricks(r)
    return ", ".join(parts)


def _describe_onecycle(r: Recipe) -> str:
    shape = f"warm-up {r.warmup:g}"
    default = Recipe("-", "-", "-")
    if (r.onecycle_start, r.onecycle_end) != (default.onecycle_start, default.onecycle_end):
        shape += f", lr x {r.onecycle_start:g} -> 1 -> {r.onecycle_end:g}"
    if r.onecycle_hold:
        shape += f", the last {r.onecycle_hold:.0%} of the steps held there"
    return f"one-cycle ({shape})"


def _describe_tricks(r: Recipe) -> list[str]:
    parts = []
    if r.bn_lr_scale != 1:
        parts.append(f"BatchNorm lr x {r.bn_lr_scale:g} (wd / {r.bn_lr_scale:g})")
    if r.bn_weight_frozen:
        parts.append("BatchNorm scales frozen at 1")
    if r.ema_momentum:
        when = f", from epoch {r.ema_start + 1}" if r.ema_start else ""
        ramp = f", ramp ^{r.ema_ramp:g}" if r.ema_ramp else ""
        kind = "Lookahead EMA" if r.lookahead else "EMA"
        parts.append(f"{kind} {r.ema_momentum:g} every {r.ema_every} steps{when}{ramp} (evaluated)")
    if r.progressive_resize:
        stages = " -> ".join(
            f"{side} px ({fraction:.0%})" for side, fraction in resize_stages(r.progressive_resize)
        )
        parts.append(f"progressive resize {stages} -> full size")
    for name, epochs in freeze_stages(r.freeze_after):
        parts.append(f"{name} frozen after epoch {epochs}")
    return parts
