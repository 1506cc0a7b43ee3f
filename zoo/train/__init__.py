"""Training: `train(model, recipe=..., out=...)` and the named recipes behind `zoo train`.

    >>> from zoo.train import TrainOptions, train
    >>> result = train("lenet5", out="runs/lenet5", epochs=2, limit_train=512)
    >>> result.final["test_acc"], result.model_path
    >>> train("lenet5", out="runs/ft", options=TrainOptions(init_from="lenet5", lr=0.01, epochs=5))

Every epoch leaves an atomic checkpoint in `out` (safetensors + JSON, no pickle), so a killed run
continues with ``resume=True``; under torchrun the same call trains with DistributedDataParallel.

Attributes load on first use, so the CLI can read recipe and option names without importing torch.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .config import TrainConfig
    from .engine import train
    from .loop import DivergedError, NonFiniteLossError, TrainingFailedError
    from .options import CheckpointEvery, TrainConfigError, TrainOptions, parse_duration
    from .recipes import Recipe, RecipeError, get_recipe, list_recipes
    from .record import TrainResult
    from .rundir import OutputDirError

_EXPORTS = {
    "DivergedError": "loop",
    "TrainingFailedError": "loop",
    "parse_duration": "options",
    "NonFiniteLossError": "loop",
    "OutputDirError": "rundir",
    "Recipe": "recipes",
    "RecipeError": "recipes",
    "TrainConfig": "config",
    "TrainConfigError": "options",
    "TrainOptions": "options",
    "CheckpointEvery": "options",
    "TrainResult": "record",
    "get_recipe": "recipes",
    "list_recipes": "recipes",
    "train": "engine",
}

__all__ = [
    "DivergedError",
    "TrainingFailedError",
    "parse_duration",
    "NonFiniteLossError",
    "OutputDirError",
    "Recipe",
    "RecipeError",
    "TrainConfig",
    "TrainConfigError",
    "TrainOptions",
    "CheckpointEvery",
    "TrainResult",
    "get_recipe",
    "list_recipes",
    "train",
]


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{_EXPORTS[name]}", __name__), name)
    globals()[name] = value
    return value
