"""zoo: classic CIFAR-10 and MNIST architectures behind one registry fed by plugins.

    >>> import zoo
    >>> zoo.list_models("resnet*")
    >>> model = zoo.create("resnet18", num_classes=10)

`import zoo` loads no plugin, no torchvision and no model: the registry fills on first use, and
the submodules (``zoo.data``, ``zoo.train``, ``zoo.hub``, ...) import on first attribute access.
"""

from __future__ import annotations

import importlib as _importlib
from typing import Any as _Any

from ._builder import BadModelOptionError, create, list_models, list_plugins, model_info  # noqa: E402
from ._errors import ZooError  # noqa: E402
from ._plugin_manager import PluginError, PluginRecord  # noqa: E402
from ._pretrained_cfg import class_names, data_config, preprocess  # noqa: E402
from ._recipe import Recipe, RecipeError  # noqa: E402
from ._registry import DuplicateError, DuplicateModelError, UnknownModelError, registry  # noqa: E402
from ._spec import ModelSpec, Paper, SpecError  # noqa: E402
from ._study import Study  # noqa: E402
from ._version import __version__
from ._weights_entry import ManifestError  # noqa: E402
from .hookspecs import hookimpl  # noqa: E402
from .weights.lookup import NoPublishedWeightsError, weight_tags  # noqa: E402

__all__ = [
    "BadModelOptionError",
    "DuplicateError",
    "DuplicateModelError",
    "GrowError",
    "ManifestError",
    "ModelSpec",
    "NoPublishedWeightsError",
    "Paper",
    "PluginError",
    "PluginRecord",
    "Recipe",
    "RecipeError",
    "SpecError",
    "Study",
    "UnknownModelError",
    "ZooError",
    "__version__",
    "class_names",
    "create",
    "data_config",
    "grow",
    "hookimpl",
    "list_models",
    "list_plugins",
    "model_info",
    "preprocess",
    "registry",
    "weight_tags",
]

# Imported on first access (`zoo.data.load_dataset(...)` works after a bare `import zoo`).
_SUBMODULES = ("bench", "checkpoint", "data", "evaluate", "growth", "hub", "models", "train", "weights")
# Functions and errors of submodules, imported on first access: ``zoo.grow(...)`` is zoo.growth.grow.
_LAZY = {"grow": "growth", "GrowError": "growth"}
# Public names that changed, kept for one release: old name -> (new name, where it lives now).
_RENAMED = {"NoPretrainedWeightsError": ("NoPublishedWeightsError", NoPublishedWeightsError)}


def __getattr__(name: str) -> _Any:
    if name in _SUBMODULES:
        return _importlib.import_module(f".{name}", __name__)
    if name in _LAZY:
        return getattr(_importlib.import_module(f".{_LAZY[name]}", __name__), name)
    if name in _RENAMED:
        new, value = _RENAMED[name]
        import warnings

        warnings.warn(
            f"zoo.{name} is now zoo.{new}; the old name goes in the next release",
            DeprecationWarning,
            stacklevel=2,
        )
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
