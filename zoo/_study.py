"""`Study`: a named experiment a plugin registers (``zoo_register_studies``); `zoo study` runs it.

A study is a grid of `Cell`s, each one ordinary `zoo.train.train` run (its own run folder), with
optional probes measuring during training, and a report that prints our figure beside the seed's.
Kept free of torch: `import zoo` stays cheap; zoo.studies does the running.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from ._errors import ZooError

_NAME_RE = re.compile(r"^[a-z][a-z0-9_-]*$")
SCALES = ("smoke", "reduced", "full")
FIGURES = ("curves", "lr", "bands", "layers", "distributions")  # what zoo.studies.figures can draw


class StudyError(ZooError, ValueError):
    """A `Study` field has a value the registry cannot accept."""


def _check_name(what: str, name: Any) -> None:
    if not isinstance(name, str) or not _NAME_RE.match(name):
        raise StudyError(f"{what} name {name!r} must be lower-case letters, digits, '_' or '-'")


def _texts(what: str, texts: Any) -> tuple[str, ...]:
    if isinstance(texts, str) or not all(isinstance(t, str) and t.strip() for t in texts):
        raise StudyError(f"{what} must be a tuple of non-empty strings, not {texts!r}")
    return tuple(texts)


def _frozen(mapping: Mapping[str, Any]) -> Mapping[str, Any]:
    return MappingProxyType(dict(mapping))


@dataclass(frozen=True)
class Cell:
    """One run of a study's grid: `zoo.train.train(model, recipe=recipe, **options)` at the seed's
    settings (a scale's options override them), shown as row `row` of table `table`."""

    name: str  # unique in the study; its run folder OUT/runs/NAME
    model: str
    table: str = "results"  # the table (one factor of the study) the row belongs to
    row: str = ""  # the row's label (default: the name)
    seed: str = ""  # the seed's figure for this row (test %), printed beside ours
    recipe: str | None = None
    options: Mapping[str, Any] = field(default_factory=dict)  # train() overrides
    model_kwargs: Mapping[str, Any] = field(default_factory=dict)  # more builder options (stem, init)
    probes: tuple[str, ...] = ()  # zoo.studies.probes names, measured on the train step

    def __post_init__(self) -> None:
        _check_name("cell", self.name)
        object.__setattr__(self, "row", self.row or self.name)
        object.__setattr__(self, "options", _frozen(self.options))
        object.__setattr__(self, "model_kwargs", _frozen(self.model_kwargs))
        object.__setattr__(self, "probes", tuple(self.probes))


@dataclass(frozen=True)
class Scale:
    """How big a study runs: train() overrides for every cell, and how often probes measure."""

    options: Mapping[str, Any]
    probe_every: int = 1  # measure every N steps
    note: str = ""  # said in the report's header
    caveats: tuple[str, ...] = ()  # what a reader must know of results at this scale (report.md)

    def __post_init__(self) -> None:
        object.__setattr__(self, "options", _frozen(self.options))
        object.__setattr__(self, "caveats", _texts("scale caveats", self.caveats))


# smoke: seconds, for tests. full: the seed's own settings (each cell's options as given).
DEFAULT_SCALES = {
    "smoke": Scale(
        {"epochs": 1, "limit_train": 16, "limit_test": 16, "batch_size": 8, "eval_every": 1},
        probe_every=1,
        note="1 epoch on 16 training and 16 test images per run: checks the machinery, measures nothing",
    ),
    "full": Scale({}, probe_every=30, note="the seed's settings"),
}


@dataclass(frozen=True)
class Study:
    """A study, registered by name: its grid, the scales it runs at and the figures its report draws.

    `scales` adds to (or replaces) DEFAULT_SCALES; a study without a ``reduced`` scale cannot run at
    it. `run`, when given, replaces the grid: ``run(study, out, scale_name, data_dir, device, image=)``
    writes the study's files itself and returns report rows (a study that trains nothing, e.g. feature
    maps; a row's ``figure`` names a PNG it drew in `out`, ``value`` what the report shows).
    `caveats`, and those of the scale it ran at, are written into each of its reports.
    """

    name: str
    description: str = ""
    source: str = ""  # where the seed's figures come from
    cells: tuple[Cell, ...] = ()
    scales: Mapping[str, Scale] = field(default_factory=dict)
    figures: tuple[str, ...] = ("curves",)
    metric: str = "final"  # "final": the last epoch's test accuracy; "best": the best-on-validation epoch's
    bands_by: str = "table"  # the "bands" figure's groups: each table's runs, or each row's across tables
    run: Callable[..., list[dict[str, Any]]] | None = None
    caveats: tuple[str, ...] = ()  # how to read its results at any scale (report.md's Caveats)

    def __post_init__(self) -> None:
        _check_name("study", self.name)
        object.__setattr__(self, "caveats", _texts(f"study {self.name!r} caveats", self.caveats))
        object.__setattr__(self, "cells", tuple(self.cells))
        object.__setattr__(self, "scales", _frozen({**DEFAULT_SCALES, **self.scales}))
        names = [c.name for c in self.cells]
        if len(set(names)) != len(names):
            raise StudyError(f"study {self.name!r} names a cell twice")
        unknown = sorted(set(self.scales) - set(SCALES)) + sorted(set(self.figures) - set(FIGURES))
        if unknown or self.metric not in ("final", "best") or self.bands_by not in ("table", "row"):
            raise StudyError(
                f"study {self.name!r}: unknown {', '.join(unknown) or 'metric or bands_by'} (scales: "
                f"{', '.join(SCALES)}; figures: {', '.join(FIGURES)}; metric: final or best; bands_by: table "
                f"or row; got metric {self.metric!r}, bands_by {self.bands_by!r})"
            )

    def tables(self) -> list[str]:
        """The study's tables, in the order their first cell appears."""
        return list(dict.fromkeys(c.table for c in self.cells))
