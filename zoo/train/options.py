"""`TrainOptions`: everything a training run can be told besides its model and recipe, typed and
documented once — `zoo train`'s flags and `train(model, options=...)` are both this record. Free of
torch, so the command line can describe and build it without importing torch."""

from __future__ import annotations

import dataclasses
import math
import os
import re
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from typing import Any

from .._errors import ZooError
from .choices import FLIP_MODES, LOSSES, OPTIMIZERS, PADDING_MODES, PRECISIONS, SCHEDULERS, TTA_MODES

_UNITS = {"s": 1.0, "m": 60.0, "h": 3600.0}
_DURATION = re.compile(r"^\s*(\d+(?:\.\d*)?|\.\d+)\s*([smh]?)\s*$")
_STEPS = re.compile(r"^\s*(\d+)\s*$")


class TrainConfigError(ZooError, ValueError):
    """A training option with a value that cannot be used; the message names it."""


class DurationError(ZooError, ValueError):
    """A duration that is not a positive number of seconds, minutes or hours."""


def parse_duration(text: str | float, what: str = "time budget") -> float:
    """Seconds in '90', '90s', '45m', '1.5h' (or a number of seconds); `what` names it in errors."""
    if isinstance(text, (int, float)):
        seconds = float(text)
    else:
        match = _DURATION.match(text)
        if not match:
            raise DurationError(f"{what} {text!r} is not a duration; write e.g. 90s, 45m or 1.5h")
        seconds = float(match.group(1)) * _UNITS[match.group(2) or "s"]
    if not (0 < seconds < 1e7) or not math.isfinite(seconds):
        raise DurationError(f"{what} {text!r} must be a positive duration under 100 days")
    return seconds


@dataclass(frozen=True)
class CheckpointEvery:
    """How often a run also checkpoints inside its epochs: every `steps` optimizer steps (counted over
    the whole run, so the same steps on every rank and after a resume) or once `seconds` of wall clock
    have passed since the last checkpoint. Every epoch still ends with its own checkpoint."""

    steps: int | None = None
    seconds: float | None = None

    @classmethod
    def parse(cls, value: CheckpointEvery | str | int) -> CheckpointEvery:
        """500 or '500': steps; '90s', '10m', '1.5h': a duration (a unit is required)."""
        if isinstance(value, CheckpointEvery):
            return value
        hint = "give a step count (500) or a duration with its unit (90s, 10m, 1.5h)"
        neither = f"checkpoint interval {value!r} is neither a step count nor a duration; {hint}"
        if isinstance(value, bool) or not isinstance(value, (int, str)):
            raise DurationError(neither)
        if isinstance(value, int) or _STEPS.match(value):
            if int(value) < 1:
                raise DurationError(f"checkpoint interval {value!r} must be at least 1 step; {hint}")
            return cls(steps=int(value))
        match = _DURATION.match(value)
        if match is None or not match.group(2):
            raise DurationError(neither)
        return cls(seconds=parse_duration(value, "checkpoint interval"))

    def __str__(self) -> str:
        """The option's own spelling: '500' (steps) or '600s'."""
        return str(self.steps) if self.steps is not None else f"{self.seconds:g}s"

    def describe(self) -> str:
        return f"every {self.steps} steps" if self.steps is not None else f"every {self.seconds:g}s"


RECIPES_VALUE = "the recipe's value"


def flag(name: str, value: Any = None) -> list[str]:
    """The `zoo train` arguments that set field `name` to `value` (of `COMMAND_LINE`)."""
    option = "--" + name.replace("_", "-")
    if isinstance(value, bool):
        return [option] if value else ([f"--no-{name.replace('_', '-')}"] if name in NEGATABLE else [])
    return [option, str(value)]


def _option(doc: str, default: str = RECIPES_VALUE) -> Any:
    """A field of `TrainOptions`: None unless given; `doc` and `default` describe it (CLI help, docs)."""
    return field(default=None, metadata={"doc": doc, "default": default})


def _names(choices: tuple[str, ...]) -> str:
    return ", ".join(choices)


@dataclass(frozen=True)
class TrainOptions:
    """The options of a training run besides model, recipe and output folder, as `zoo train`'s flags
    give them. Every field is None unless given, and None means: a hyper-parameter keeps the recipe's
    value (`zoo recipes NAME`), a run setting its default. `train` checks every value once, when it
    resolves the options against the recipe (a `TrainConfigError` names the first bad one);
    `TrainOptions.describe(name)` says what a field means and what its default is.
    """

    # Hyper-parameters: each replaces the recipe's field of the same name (zoo.train.Recipe).
    epochs: int | None = _option("Training epochs; with a time budget, at most this many.")
    batch_size: int | None = _option("Global batch size (split over DDP processes).")
    optimizer: str | None = _option(f"Optimizer: {_names(OPTIMIZERS)}.")
    lr: float | None = _option("(Peak) learning rate.")
    momentum: float | None = _option("SGD momentum, or beta1 of the Adam family.")
    nesterov: bool | None = _option("Nesterov momentum (SGD).")
    weight_decay: float | None = _option("L2 weight decay.")
    scheduler: str | None = _option(f"Learning-rate schedule: {_names(SCHEDULERS)}.")
    plateau_factor: float | None = _option("plateau: the factor a drop multiplies the lr by.")
    plateau_patience: int | None = _option("plateau: evaluations without improvement before a drop.")
    plateau_cooldown: int | None = _option("plateau: evaluations to wait after a drop.")
    min_lr: float | None = _option("plateau: the lowest lr; cosine: the last lr.")
    step_size: int | None = _option("step: epochs between drops; cyclic: epochs per half-cycle.")
    gamma: float | None = _option("step: the factor of each drop; exponential: the factor per epoch.")
    warmup: float | None = _option("onecycle: the fraction of the steps that warms up.")
    onecycle_start: float | None = _option("onecycle: the first lr, a fraction of the peak lr.")
    onecycle_end: float | None = _option("onecycle: the lr the decay ends at, a fraction of the peak lr.")
    onecycle_hold: float | None = _option("onecycle: the fraction of the steps, at the end, held at that lr.")
    loss: str | None = _option(f"Loss: {_names(LOSSES)} (all but ce take one-hot targets).")
    label_smoothing: float | None = _option("Label smoothing in [0, 1).")
    crop_padding: int | None = _option("Random-crop padding in pixels (0: no crop).")
    flip: bool | None = _option("Random horizontal flips.")
    padding_mode: str | None = _option(f"How the random crop pads: {_names(PADDING_MODES)}.")
    flip_mode: str | None = _option(f"Flips drawn anew each epoch, or alternating: {_names(FLIP_MODES)}.")
    cutout: int | None = _option("Side of the cutout square in pixels (0: none).")
    tta: bool | None = _option("Flip test-time augmentation in each evaluation.")
    tta_mode: str | None = _option(f"What tta averages over: {_names(TTA_MODES[1:])}.")
    val_size: float | None = _option("Hold out a fraction (< 1) or count of training images for validation.")
    bn_lr_scale: float | None = _option(
        "Learning-rate factor of the BatchNorm parameters; their weight decay is divided by it."
    )
    bn_weight_frozen: bool | None = _option("Keep every BatchNorm scale at its initial 1.")
    ema_momentum: float | None = _option(
        "Momentum per step of an average of the weights, evaluated and saved in their place (0: none)."
    )
    ema_every: int | None = _option("Optimizer steps between updates of the weight average.")
    ema_start: int | None = _option("Epochs trained before the weight average starts.")
    ema_ramp: float | None = _option("The average's momentum is ema_momentum x (step / steps) ** ema_ramp.")
    lookahead: bool | None = _option("Copy the weight average back into the trained weights at each update.")
    progressive_resize: str | None = _option(
        "Smaller images first: SIDE:FRACTION of the epochs, e.g. 16:0.4,24:0.3 (the rest at full size)."
    )
    freeze_after: str | None = _option(
        "Stop training parameters after some epochs: NAME:EPOCHS, e.g. whiten.bias:3 (a parameter or module)."
    )
    # Run settings.
    act: str | None = _option("Activation, for models with an `act` option.", "the model's")
    model_kwargs: Mapping[str, Any] | None = _option(
        "More builder options (a study's stem, init, ...).", "none"
    )
    seed: int | None = _option("Seed of initialisation, data order and augmentation.", "0")
    data_dir: str | os.PathLike | None = _option("Data set directory.", "zoo's data cache, $ZOO_DATA_DIR")
    download: bool | None = _option(
        "Download the official data set into the data directory if it is absent.", "off"
    )
    limit_train: int | None = _option("Train on a random N-image subset (smoke runs).", "every image")
    limit_test: int | None = _option("Evaluate on a random N-image subset of the test split.", "every image")
    eval_every: int | None = _option("Evaluate every K epochs (and after the last).", "1")
    device: str | None = _option("auto, cpu, cuda, cuda:N or mps.", "auto: CUDA when there is a GPU")
    precision: str | None = _option(
        f"{_names(PRECISIONS)}; auto: bf16 autocast where the device has it natively.", "auto"
    )
    channels_last: bool | None = _option("NHWC memory format.", "on for convolutional models")
    compile: bool | None = _option("torch.compile the model.", "off")
    time_budget: float | str | None = _option(
        "Wall clock for training and evaluation, in seconds or as 90s, 45m, 1.5h: the first steps are "
        "timed and the epochs set to fit it.",
        "none",
    )
    checkpoint_every: CheckpointEvery | int | str | None = _option(
        "Also checkpoint inside epochs: every N steps (500) or every duration (90s, 10m, 1.5h); "
        "SIGTERM then checkpoints at the next step and stops (--resume continues).",
        "at each epoch's end only",
    )
    init_from: str | os.PathLike | None = _option(
        "Start from published weights, MODEL[.TAG] (the default tag if none; a new classifier if the "
        "class counts differ), or from a zoo model file or a folder holding model.safetensors.",
        "a fresh initialisation",
    )

    @classmethod
    def describe(cls, name: str) -> str:
        """What field `name` sets, and its default (the help of its `zoo train` flag)."""
        meta = cls.__dataclass_fields__[name].metadata
        return f"{meta['doc'].rstrip('.')} (default: {meta['default']})."

    @classmethod
    def build(cls, options: TrainOptions | None = None, **overrides: Any) -> TrainOptions:
        """`options` (default: none given) with the keyword options that are not None replacing its
        fields; an unknown keyword is a `TrainConfigError` listing the known ones."""
        unknown = sorted(set(overrides) - set(OPTION_NAMES))
        if unknown:
            raise TrainConfigError(
                f"unknown training option(s) {', '.join(unknown)}; options: {', '.join(OPTION_NAMES)}"
            )
        return dataclasses.replace(options or cls(), **{k: v for k, v in overrides.items() if v is not None})

    def given(self) -> dict[str, Any]:
        """The fields that are set, by name."""
        return {f.name: getattr(self, f.name) for f in fields(self) if getattr(self, f.name) is not None}

    def check_types(self) -> None:
        """Raise TrainConfigError for the first given value of a type its field does not take."""
        hints = typing.get_type_hints(type(self))
        for name, value in self.given().items():
            kinds = [k for k in typing.get_args(hints[name]) if k is not type(None)]
            if not any(_is_a(value, kind) for kind in kinds):
                wanted = " or ".join(_KIND_NAMES[typing.get_origin(k) or k] for k in kinds)
                raise TrainConfigError(f"{name} = {value!r} is of type {type(value).__name__}: give {wanted}")


_KIND_NAMES = {
    int: "an int",
    float: "a number",
    bool: "True or False",
    str: "a string",
    os.PathLike: "a path",
}
_KIND_NAMES.update({Mapping: "a mapping of builder options", CheckpointEvery: "a CheckpointEvery"})


def _is_a(value: Any, kind: Any) -> bool:
    kind = typing.get_origin(kind) or kind
    if isinstance(value, bool):  # a bool is an int to Python, never a count or a rate here
        return kind is bool
    if kind is float:
        return isinstance(value, (int, float))
    return isinstance(value, kind)


OPTION_NAMES = tuple(sorted(f.name for f in fields(TrainOptions)))
# The fields `zoo train` has a flag for (``--batch-size`` for batch_size; ``--x/--no-x`` for the yes/no
# ones): every field but model_kwargs (a study's builder options). zoo/cli/train.py builds the command's
# flags from this list, and `zoo campaign` builds command lines from it.
COMMAND_LINE = tuple(f.name for f in fields(TrainOptions) if f.name != "model_kwargs")
# The yes/no flags with a --no- form: every bool field but download (off unless asked for).
NEGATABLE = tuple(f.name for f in fields(TrainOptions) if f.type == "bool | None" and f.name != "download")
TrainOptions.__doc__ += "\n    Fields:\n\n" + "\n".join(
    f"    - ``{f.name}``: {TrainOptions.describe(f.name)}" for f in fields(TrainOptions)
)
