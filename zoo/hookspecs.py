"""The hooks a `zoo` plugin can implement (pluggy project name ``"zoo"``).

Each hook receives a `register` callback; a plugin calls it once per thing it contributes. The
built-in plugins in zoo/plugins/ use exactly these hooks. A plugin's contributions are committed
together: if any of its hooks raises (or registers something invalid), none of them is kept.
docs/plugins.md is the guide.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import pluggy

if TYPE_CHECKING:
    from ._recipe import Recipe
    from ._spec import ModelSpec
    from ._study import Study

hookspec = pluggy.HookspecMarker("zoo")
hookimpl = pluggy.HookimplMarker("zoo")


@hookspec
def zoo_register_models(register: Callable[[ModelSpec], None]) -> None:
    """Register models by calling ``register(zoo.ModelSpec(...))`` once per model."""


@hookspec
def zoo_register_recipes(register: Callable[[Recipe], None]) -> None:
    """Register training recipes by calling ``register(zoo.Recipe(...))`` once per recipe."""


@hookspec
def zoo_register_weights(register: Callable[[str | Path], None]) -> None:
    """Register published weights by calling ``register(path)`` with a weights manifest (schema v1).

    Its entries join the shipped manifest's; a tag that already exists is refused. Files are
    looked for in ``<the manifest's folder>/<repo name>/`` before the Hub.
    """


@hookspec
def zoo_register_studies(register: Callable[[Study], None]) -> None:
    """Register studies by calling ``register(zoo.Study(...))`` once per study."""
