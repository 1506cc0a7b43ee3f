"""zoo: classic CIFAR-10 and MNIST architectures behind one registry fed by plugins.

    >>> import zoo
    >>> zoo.list_models("resnet*")
    >>> model = zoo.create("resnet18", num_classes=10)

`import zoo` loads no plugin, no torchvision and no model: the registry fills on first use, and
the submodules (``zoo.data``, ``zoo.train``, ``zoo.hub``, ...) import on first attribute access.
"""

from __future__ import annotations

import importlib as _importlib
from importlib import metadata as _metadata
from typing import Any as _Any

try:
    __version__ = _metadata.version("cifar-zoo")
except _metadata.PackageNotFoundError:  # running from a source tree that is not installed
    __version__ = "0.0.0+unknown"

from ._builder import BadModelOptionError, create  # noqa: E402
from ._errors import ZooError  # noqa: E402
from ._manifest import ManifestError, weight_tags  # noqa: E402
from ._plugin_manager import PluginError, PluginRecord  # noqa: E402
from ._pretrained_cfg import data_config  # noqa: E402
from ._registry import DuplicateError, DuplicateModelError, UnknownModelError, registry  # noqa: E402
from ._spec import ModelSpec, Paper, SpecError  # noqa: E402
from ._study import Study  # noqa: E402
from .hookspecs import hookimpl  # noqa: E402
from .hub._errors import NoPublishedWeightsError  # noqa: E402
from .train.recipes import Recipe, RecipeError  # noqa: E402

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
    "create",
    "data_config",
    "grow",
    "hookimpl",
    "list_models",
    "list_plugins",
    "model_info",
]

# Imported on first access (`zoo.data.load_dataset(...)` works after a bare `import zoo`).
_SUBMODULES = ("bench", "checkpoint", "data", "evaluate", "growth", "hub", "models", "train")
# Functions and errors of submodules, imported on first access: ``zoo.grow(...)`` is zoo.growth.grow.
_LAZY = {"grow": "growth", "GrowError": "growth"}


def __getattr__(name: str) -> _Any:
    if name in _SUBMODULES:
        return _importlib.import_module(f".{name}", __name__)
    if name in _LAZY:
        return getattr(_importlib.import_module(f".{_LAZY[name]}", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def list_models(
    pattern: str = "*",
    *,
    family: str | None = None,
    pretrained: bool | None = None,
) -> list[str]:
    """Registered model names matching an fnmatch `pattern`, sorted.

    Args:
        pattern: wildcard pattern, e.g. ``"resnext*"``.
        family: keep only this architecture family.
        pretrained: ``True`` keeps models with published weights, ``False`` those without.
    """
    names = registry().match(pattern, family)
    if pretrained is not None:
        names = [n for n in names if bool(weight_tags(n)) == pretrained]
    return names


def model_info(name: str) -> ModelSpec:
    """The `ModelSpec` of a registered model (a ``.tag`` suffix is accepted and ignored)."""
    return registry().get(name)


def list_plugins() -> list[PluginRecord]:
    """Every plugin found (built-in first), with its models or the error that skipped it."""
    return registry().plugins()
