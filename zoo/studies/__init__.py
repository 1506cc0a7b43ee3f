"""Studies: the seeds' experiments as commands, built on the registry, recipes and training engine.

    >>> import zoo.studies
    >>> result = zoo.studies.run("mlp-depth", out="studies/mlp-depth", scale="smoke")
    >>> result.report  # studies/mlp-depth/report.md, beside results.csv/.json and the figures

A study is registered by a plugin (``zoo_register_studies``); the built-in ones come from
zoo/plugins/studies.py. Each cell of its grid is one `zoo.train.train` run in OUT/runs/CELL,
skipped once its result.json exists, so ``resume=True`` continues a killed study.
"""

from __future__ import annotations

from .._errors import ZooError
from .._registry import registry, suggest
from .._study import SCALES, Study
from .runner import StudyResult, run


class UnknownStudyError(ZooError, LookupError):
    """No registered study has this name."""


def list_studies() -> list[Study]:
    """The registered studies, by name."""
    return list(registry().studies().values())


def get_study(name: str) -> Study:
    """The study registered as `name`; UnknownStudyError (with close names) otherwise."""
    studies = registry().studies()
    if name not in studies:
        close = suggest(name, studies)
        hint = f"; did you mean {' or '.join(close)}?" if close else ""
        raise UnknownStudyError(
            f"unknown study {name!r}{hint} (`zoo study list` shows all {len(studies)} studies)"
        )
    return studies[name]


__all__ = ["SCALES", "StudyResult", "UnknownStudyError", "get_study", "list_studies", "run"]
