"""`Study`: a named experiment a plugin registers (``zoo_register_studies``); `zoo study` fills it in."""

from __future__ import annotations

import re
from dataclasses import dataclass

from ._errors import ZooError

_NAME_RE = re.compile(r"^[a-z][a-z0-9_-]*$")


class StudyError(ZooError, ValueError):
    """A `Study` field has a value the registry cannot accept."""


@dataclass(frozen=True)
class Study:
    """A study, registered by name."""

    name: str
    description: str = ""

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not _NAME_RE.match(self.name):
            raise StudyError(f"study name {self.name!r} must be lower-case letters, digits, '_' or '-'")
