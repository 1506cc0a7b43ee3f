"""torch.hub entry points: one per registered zoo model, generated from the registry.

    >>> import torch
    >>> model = torch.hub.load("<zoo checkout>", "resnet18", source="local", pretrained=True)

Each entry point is ``zoo.create(name, pretrained=..., **kwargs)``: published weights come verified
from ZOO_WEIGHTS_DIR, the Hugging Face cache or the Hub, as with `zoo.create`. torch.hub finds entry
points with ``dir()`` then ``getattr()``, which the module-level `__dir__` / `__getattr__` (PEP 562)
answer from the registry, so plugins' models are entry points too.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:  # a module-level callable would be listed as an entry point
    from collections.abc import Callable

dependencies = ["torch", "safetensors"]


def _entry_point(name: str) -> Callable:
    import zoo

    spec = zoo.model_info(name)

    def entry_point(pretrained: bool | str = False, **kwargs):
        return zoo.create(name, pretrained=pretrained, **kwargs)

    entry_point.__name__ = entry_point.__qualname__ = name
    entry_point.__doc__ = (
        f"{name}: {spec.family} model, {spec.params:,} params, {spec.dataset}.\n\n"
        "pretrained: True for the default published weights, or a weights tag.\n"
        "Other keyword arguments go to zoo.create (num_classes, builder options)."
    )
    return entry_point


def _model_names() -> list[str]:
    import zoo

    return zoo.list_models()


def __getattr__(name: str) -> Callable:
    if name.startswith("_") or name not in _model_names():
        raise AttributeError(f"hubconf has no entry point {name!r}; torch.hub.list() shows them")
    return _entry_point(name)


def __dir__() -> list[str]:
    return sorted({*globals(), *_model_names()})
