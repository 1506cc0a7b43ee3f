"""Studies: the seeds' experiments as commands, built on the registry, recipes and training engine.

    >>> import zoo.studies
    >>> result = zoo.studies.run("mlp-depth", out="studies/mlp-depth", scale="smoke")
    >>> result.report  # studies/mlp-depth/report.md, beside results.csv/.json and the figures
    >>> zoo.studies.rewrite("studies/mlp-depth")  # the report (and figures) again, training nothing

A study is registered by a plugin (``zoo_register_studies``); the built-in ones come from
zoo/plugins/studies.py. Each cell of its grid is one `zoo.train.train` run in OUT/runs/CELL,
skipped once its result.json exists, so ``resume=True`` continues a killed study.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .._study import SCALES, Cell, Scale, Study
from .lookup import UnknownStudyError, get_study, list_studies

if TYPE_CHECKING:
    from .report import rewrite
    from .runner import StudyResult, run

__all__ = [
    "SCALES",
    "Cell",
    "Scale",
    "Study",
    "StudyResult",
    "UnknownStudyError",
    "get_study",
    "list_studies",
    "rewrite",
    "run",
]


def __getattr__(name: str) -> Any:
    # The runner needs torch; the records above do not (plugins import them while zoo loads).
    if name in ("run", "StudyResult"):
        from . import runner

        return getattr(runner, name)
    if name == "rewrite":  # matplotlib, once it draws
        from .report import rewrite

        return rewrite
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
