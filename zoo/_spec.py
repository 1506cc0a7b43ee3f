"""`ModelSpec`: the metadata every registered model carries, checked when it is registered."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

from ._errors import ZooError

if TYPE_CHECKING:  # torch stays out of `import zoo`
    from torch import nn

DATASETS = ("cifar10", "mnist")
_NAME_RE = re.compile(r"^[a-z][a-z0-9_]*$")


class SpecError(ZooError, ValueError):
    """A `ModelSpec` field has a value the registry cannot accept."""


@dataclass(frozen=True)
class Paper:
    """The publication an architecture comes from."""

    title: str
    url: str  # arXiv abs page or DOI link

    def __str__(self) -> str:
        return f"{self.title} ({self.url})"


@dataclass(frozen=True)
class ModelSpec:
    """Everything known about a registered model without building it.

    `params` and `macs` are exact integers for the default configuration at `input_size`
    (MACs as counted by `torch.utils.flop_counter.FlopCounterMode`, halved); the test suite
    rebuilds every model and checks both. `params` counts frozen parameters too; `trainable`
    (None: all of them) counts those with ``requires_grad``. `plugin` is filled in by the registry.
    """

    name: str
    family: str
    builder: Callable[..., nn.Module]
    params: int
    macs: int
    paper: Paper
    seed: str  # the seed variant the implementation follows, e.g. "seed 001 §1.2.2"
    seed_top1: str = ""  # the seed's reported test top-1 as it states it, e.g. "95.29 % (200 epochs)"
    dataset: str = "cifar10"
    input_size: tuple[int, int, int] = (3, 32, 32)
    num_classes: int = 10
    kwargs: Mapping[str, Any] = field(default_factory=dict)
    tags: tuple[str, ...] = ()
    description: str = ""
    recipe: str | None = None  # the recipe `zoo train` uses when none is named (None: "seed200")
    plugin: str = ""
    trainable: int | None = None

    @property
    def trainable_params(self) -> int:
        """Parameters an optimizer updates (`params` unless some are frozen)."""
        return self.params if self.trainable is None else self.trainable

    def __post_init__(self) -> None:
        # A read-only view keeps the frozen promise for the one mutable field.
        object.__setattr__(self, "kwargs", MappingProxyType(dict(self.kwargs)))
        object.__setattr__(self, "input_size", tuple(self.input_size))
        object.__setattr__(self, "tags", tuple(self.tags))
        self._check()

    def _check(self) -> None:
        def bad(field_name: str, why: str) -> SpecError:
            value = getattr(self, field_name)
            return SpecError(f"model spec {self.name!r}: field {field_name!r} = {value!r} {why}")

        if not isinstance(self.name, str) or not _NAME_RE.match(self.name):
            raise bad("name", "must be lower-case letters, digits and '_' (a '.' separates a weights tag)")
        if not self.family or not isinstance(self.family, str):
            raise bad("family", "must be a non-empty string")
        if not callable(self.builder):
            raise bad("builder", "must be callable and return an nn.Module")
        for count in ("params", "macs"):
            value = getattr(self, count)
            if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
                raise bad(count, "must be a positive int (the exact count)")
        if self.trainable is not None and (
            not isinstance(self.trainable, int)
            or isinstance(self.trainable, bool)
            or not 0 < self.trainable <= self.params
        ):
            raise bad("trainable", "must be None or a positive int no larger than params")
        if not isinstance(self.paper, Paper):
            raise bad("paper", "must be a zoo.Paper(title, url)")
        if self.dataset not in DATASETS:
            raise bad("dataset", f"must be one of {', '.join(DATASETS)}")
        if len(self.input_size) != 3 or not all(isinstance(v, int) and v > 0 for v in self.input_size):
            raise bad("input_size", "must be (channels, height, width) of positive ints")
        if not isinstance(self.num_classes, int) or self.num_classes <= 0:
            raise bad("num_classes", "must be a positive int")
        if "num_classes" in self.kwargs:
            raise bad("kwargs", "must not hold num_classes (use the num_classes field)")
        if self.recipe is not None and not (isinstance(self.recipe, str) and _NAME_RE.match(self.recipe)):
            raise bad("recipe", "must be None or the name of a registered recipe (`zoo recipes`)")

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready view (the builder is given as its import path)."""
        builder = f"{getattr(self.builder, '__module__', '?')}:{getattr(self.builder, '__qualname__', '?')}"
        return {
            "name": self.name,
            "family": self.family,
            "params": self.params,
            "trainable": self.trainable_params,
            "macs": self.macs,
            "input_size": list(self.input_size),
            "dataset": self.dataset,
            "num_classes": self.num_classes,
            "paper": {"title": self.paper.title, "url": self.paper.url},
            "seed": self.seed,
            "seed_top1": self.seed_top1,
            "kwargs": dict(self.kwargs),
            "tags": list(self.tags),
            "description": self.description,
            "recipe": self.recipe,
            "plugin": self.plugin,
            "builder": builder,
        }
