"""The resolved configuration of a training run: recipe defaults < `TrainOptions`, checked once,
before anything loads."""

from __future__ import annotations

import dataclasses
import inspect
from dataclasses import dataclass, fields
from typing import Any

from .._builder import list_models, model_info
from .._recipe import check_finite, check_range, validate_hyper_parameters
from .choices import MOMENTUM_FREE_OPTIMIZERS, OPTIMIZERS, PRECISIONS
from .init_from import resolve_init
from .options import CheckpointEvery, DurationError, TrainConfigError, TrainOptions, parse_duration
from .recipes import HYPER_PARAMETERS, Recipe, RecipeError, default_recipe_name, get_recipe

__all__ = ["TrainConfig", "TrainConfigError", "resolve_config", "resolve_resume", "validate"]

# Settings that change how a run executes but not what it computes (up to float rounding);
# a resumed run may change them, every other field must match the saved run.
RUNTIME_FIELDS = (
    "device",
    "precision",
    "channels_last",
    "compile",
    "data_dir",
    "eval_every",
    "limit_test",
    "time_budget",
    "download",
    "checkpoint_every",
)


@dataclass(frozen=True)
class TrainConfig:
    """Everything a run depends on: model, recipe (possibly overridden) and runtime settings."""

    model: str
    recipe: Recipe
    act: str | None = None
    seed: int = 0
    limit_train: int | None = None
    device: str | None = None  # None: CUDA when available, else CPU
    precision: str = "auto"  # auto: bf16 autocast where the device has it natively (zoo.train.runtime)
    channels_last: bool | None = None  # None: on for image models on CPU and CUDA
    compile: bool = False
    data_dir: str | None = None
    download: bool = False  # download the data set into an explicit data_dir too (see zoo.data.load_dataset)
    eval_every: int = 1  # evaluate every K epochs (and always after the last)
    limit_test: int | None = None  # evaluate on a seeded N-image subset of the test split
    time_budget: float | None = None  # seconds for training + evaluation: sets the epoch count
    init_from: str | None = None  # "MODEL.TAG" (published weights) or a model file's path: start from it
    model_kwargs: dict[str, Any] | None = None  # more builder options (a study's stem, init, ...)
    checkpoint_every: CheckpointEvery | None = None  # also checkpoint inside epochs (steps or seconds)

    def to_dict(self) -> dict[str, Any]:
        data = {f.name: getattr(self, f.name) for f in fields(self)}
        data["recipe"] = self.recipe.to_dict()
        if self.checkpoint_every is not None:
            data["checkpoint_every"] = str(self.checkpoint_every)
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TrainConfig:
        data = dict(data)
        if "amp" in data:  # configs written before --precision: amp meant bf16 (fp16 on older GPUs)
            data["precision"] = "auto" if data.pop("amp") else "fp32"
        if data.get("checkpoint_every") is not None:
            data["checkpoint_every"] = CheckpointEvery.parse(data["checkpoint_every"])
        return cls(**{**data, "recipe": Recipe(**data["recipe"])})

    def model_options(self) -> dict[str, Any]:
        """Options passed to `zoo.create` (only those given: the builder's defaults stay otherwise)."""
        return {**(self.model_kwargs or {}), **({"act": self.act} if self.act is not None else {})}


CONFIG_FIELDS = tuple(f.name for f in fields(TrainConfig) if f.name not in ("model", "recipe"))

# How a given option becomes its TrainConfig field (the rest are taken as given).
_PARSERS = {
    "data_dir": str,
    "init_from": str,
    "model_kwargs": dict,
    "time_budget": parse_duration,
    "checkpoint_every": CheckpointEvery.parse,
}


def _apply(config: TrainConfig, options: TrainOptions) -> TrainConfig:
    """`config` with the options given replacing its fields (and its recipe's)."""
    given = options.given()
    recipe_part = {k: v for k, v in given.items() if k in HYPER_PARAMETERS}
    config_part = {k: v for k, v in given.items() if k not in HYPER_PARAMETERS}
    try:
        config_part.update({k: _PARSERS[k](v) for k, v in config_part.items() if k in _PARSERS})
    except DurationError as error:
        raise TrainConfigError(str(error)) from None
    recipe = dataclasses.replace(config.recipe, **recipe_part)
    return dataclasses.replace(config, recipe=recipe, **config_part)


def _check_range(name: str, value: Any, ok: bool, expected: str) -> None:
    check_range(TrainConfigError, name, value, ok, expected)


def validate(config: TrainConfig, explicit: set[str] = frozenset()) -> None:
    """Raise TrainConfigError for the first unusable value. `explicit`: options the user gave."""
    check_finite(TrainConfigError, config.to_dict())  # inf passes range checks; nan fails them unclearly
    validate_hyper_parameters(config.recipe, TrainConfigError)  # the recipe record's own checks
    r = config.recipe
    for name in ("limit_train", "limit_test"):
        value = getattr(config, name)
        if value is not None:
            _check_range(name, value, isinstance(value, int) and value >= 1, "an int >= 1")
    _check_range("eval_every", config.eval_every, config.eval_every >= 1, "an int >= 1")
    if config.precision not in PRECISIONS:
        raise TrainConfigError(
            f"unknown precision {config.precision!r}; choose one of {', '.join(PRECISIONS)}"
        )
    if config.time_budget is not None:
        _check_range("time_budget", config.time_budget, 0 < config.time_budget < 1e7, "a duration > 0")
    if "momentum" in explicit and r.optimizer in MOMENTUM_FREE_OPTIMIZERS:
        raise TrainConfigError(
            f"optimizer {r.optimizer!r} has no momentum; drop --momentum or choose one of "
            f"{', '.join(o for o in OPTIMIZERS if o not in MOMENTUM_FREE_OPTIMIZERS)}"
        )


def resolve_config(model: str, recipe: str | Recipe | None, options: TrainOptions) -> TrainConfig:
    """The config of a new run: the named (or the model's default) recipe, then `options`."""
    spec = model_info(model)
    if "." in model:
        raise TrainConfigError(
            f"model {model!r} names a weights tag; name the model alone ({spec.name!r}), and to "
            f"fine-tune from those weights add --init-from {model}"
        )
    try:
        base = recipe if isinstance(recipe, Recipe) else get_recipe(recipe or default_recipe_name(spec.name))
    except RecipeError as error:
        raise TrainConfigError(str(error)) from None
    options.check_types()
    config = _apply(TrainConfig(model=spec.name, recipe=base), options)
    validate(config, set(options.given()))
    if config.act is not None:
        _check_act(spec, config.act)
    if config.init_from is not None:
        init_from, model_options = resolve_init(spec, config.init_from, config.model_options())
        kwargs = model_options if model_options != config.model_options() else config.model_kwargs
        config = dataclasses.replace(config, init_from=init_from, model_kwargs=kwargs)
    return config


def _takes_act(builder: Any) -> bool:
    params = inspect.signature(builder).parameters
    return "act" in params or any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values())


def _check_act(spec: Any, act: str) -> None:
    # Only whether the model has the option; the builder itself judges the value (see engine).
    if not _takes_act(spec.builder):
        others = [s.name for s in map(model_info, list_models()) if _takes_act(s.builder)]
        hint = (
            f" (models with one: {', '.join(others[:5])}{', ...' if len(others) > 5 else ''})"
            if others
            else ""
        )
        raise TrainConfigError(f"--act {act!r}: model {spec.name!r} has no activation option{hint}")


def resolve_resume(
    saved: dict[str, Any], model: str, recipe: str | Recipe | None, options: TrainOptions
) -> TrainConfig:
    """The saved run's config; runtime settings may change, anything else given must match it."""
    try:
        config = TrainConfig.from_dict(saved)
    except (TypeError, KeyError) as error:  # written by a zoo with other fields
        raise TrainConfigError(
            f"--resume: the saved config does not fit this zoo version ({error})"
        ) from None
    if model.partition(".")[0] != config.model:
        raise TrainConfigError(f"--resume: this run trains {config.model!r}, not {model!r}")
    recipe_name = recipe.name if isinstance(recipe, Recipe) else recipe
    if recipe_name is not None and recipe_name != config.recipe.name:
        raise TrainConfigError(f"--resume: this run uses recipe {config.recipe.name!r}, not {recipe_name!r}")
    options.check_types()
    if options.init_from is not None:  # compared as the saved run recorded it
        given = resolve_init(model_info(config.model), str(options.init_from), config.model_options())
        options = dataclasses.replace(options, init_from=given[0])
    resumed = _apply(config, options)
    old, new = config.to_dict(), resumed.to_dict()
    old.update(old.pop("recipe")), new.update(new.pop("recipe"))
    changed = [k for k in new if k not in RUNTIME_FIELDS and new[k] != old[k]]
    if changed:
        diffs = ", ".join(f"{k} (saved {old[k]!r}, given {new[k]!r})" for k in changed)
        raise TrainConfigError(
            f"--resume continues the saved run as configured, and these options differ from it: {diffs}; "
            f"drop them, or start a new run with another --out"
        )
    validate(resumed)
    return resumed
