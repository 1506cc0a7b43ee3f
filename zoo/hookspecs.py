"""The hooks a `zoo` plugin can implement (pluggy project name ``"zoo"``)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import pluggy

if TYPE_CHECKING:
    from ._spec import ModelSpec

hookspec = pluggy.HookspecMarker("zoo")
hookimpl = pluggy.HookimplMarker("zoo")


@hookspec
def zoo_register_models(register: Callable[[ModelSpec], None]) -> None:
    """Register models by calling ``register(ModelSpec(...))`` once per model."""
