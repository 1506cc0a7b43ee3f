"""How zoo writes quantities for people: durations in status tables, logs and progress lines."""

from __future__ import annotations


def duration(seconds: float | None) -> str:
    """'2h 05m', '14m', '40s' or 'unknown'."""
    if seconds is None:
        return "unknown"
    minutes = round(seconds / 60)
    if minutes >= 60:
        return f"{minutes // 60}h {minutes % 60:02d}m"
    return f"{minutes}m" if minutes else f"{seconds:.0f}s"
