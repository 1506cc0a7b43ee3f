"""Finding registered studies by name."""

from __future__ import annotations

from .._errors import ZooError
from .._registry import registry, suggest
from .._study import Study


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
