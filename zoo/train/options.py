"""What a run can be told besides its recipe: durations, checkpoint intervals (free of torch, so the
command line can parse and describe them without importing it)."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

_UNITS = {"s": 1.0, "m": 60.0, "h": 3600.0}
_DURATION = re.compile(r"^\s*(\d+(?:\.\d*)?|\.\d+)\s*([smh]?)\s*$")
_STEPS = re.compile(r"^\s*(\d+)\s*$")


class DurationError(ValueError):
    """A duration that is not a positive number of seconds, minutes or hours."""


def parse_duration(text: str | float, what: str = "time budget") -> float:
    """Seconds in '90', '90s', '45m', '1.5h' (or a number of seconds); `what` names it in errors."""
    if isinstance(text, (int, float)):
        seconds = float(text)
    else:
        match = _DURATION.match(text)
        if not match:
            raise DurationError(f"{what} {text!r} is not a duration; write e.g. 90s, 45m or 1.5h")
        seconds = float(match.group(1)) * _UNITS[match.group(2) or "s"]
    if not (0 < seconds < 1e7) or not math.isfinite(seconds):
        raise DurationError(f"{what} {text!r} must be a positive duration under 100 days")
    return seconds


@dataclass(frozen=True)
class CheckpointEvery:
    """How often a run also checkpoints inside its epochs: every `steps` optimizer steps (counted over
    the whole run, so the same steps on every rank and after a resume) or once `seconds` of wall clock
    have passed since the last checkpoint. Every epoch still ends with its own checkpoint."""

    steps: int | None = None
    seconds: float | None = None

    @classmethod
    def parse(cls, value: CheckpointEvery | str | int) -> CheckpointEvery:
        """500 or '500': steps; '90s', '10m', '1.5h': a duration (a unit is required)."""
        if isinstance(value, CheckpointEvery):
            return value
        hint = "give a step count (500) or a duration with its unit (90s, 10m, 1.5h)"
        neither = f"checkpoint interval {value!r} is neither a step count nor a duration; {hint}"
        if isinstance(value, bool) or not isinstance(value, (int, str)):
            raise DurationError(neither)
        if isinstance(value, int) or _STEPS.match(value):
            if int(value) < 1:
                raise DurationError(f"checkpoint interval {value!r} must be at least 1 step; {hint}")
            return cls(steps=int(value))
        match = _DURATION.match(value)
        if match is None or not match.group(2):
            raise DurationError(neither)
        return cls(seconds=parse_duration(value, "checkpoint interval"))

    def __str__(self) -> str:
        """The option's own spelling: '500' (steps) or '600s'."""
        return str(self.steps) if self.steps is not None else f"{self.seconds:g}s"

    def describe(self) -> str:
        return f"every {self.steps} steps" if self.steps is not None else f"every {self.seconds:g}s"
