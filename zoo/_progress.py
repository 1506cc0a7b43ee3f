"""Progress through a long pass over batches (a training epoch, an evaluation) for the person waiting.

On a terminal: a transient rich bar. Anywhere else (a log file, `nohup`, a campaign step, an export
run by `zoo campaign publish`, a batch job): a line through the `zoo` logger at each tenth of the
pass, at most one a minute, so that an hour-long CPU epoch shows it moves without flooding the log.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable
from typing import Any

from ._units import duration

logger = logging.getLogger("zoo")


class BatchProgress:
    """One pass at a time: ``begin(label, batches)``, ``update(done, ...)`` per batch, ``stop()``.

    ``due(done)`` says whether an update would show anything, so a caller can skip reading its
    running totals from the device in between. Silent unless `enabled`."""

    LINE_EVERY_S = 60.0  # the least time between two progress lines in a log

    def __init__(self, enabled: bool, *, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._bar = None
        self._task = None
        self._line: dict[str, Any] | None = None
        self.enabled = False
        self.lines = False  # writing log lines rather than drawing a bar
        if enabled:
            # Imported only here: importing rich draws from Python's `random` (see zoo.train.run).
            from rich import progress
            from rich.console import Console

            self._console = Console(stderr=True)
            self._columns = progress
            self.enabled = True
            self.lines = not self._console.is_terminal

    def begin(self, label: str, batches: int, *, stats: bool = False, unit: str = "pass") -> None:
        """Start showing a pass of `batches` batches; `stats`: it reports loss, accuracy and img/s;
        `unit`: what the time left is of ("epoch", "pass")."""
        self.stop()
        if self.lines:
            now = self._clock()
            # "first": (batch, time) of the first update, the rate's origin (a resumed epoch starts mid-way)
            self._line = {"label": label, "batches": batches, "tenth": max(1, math.ceil(batches / 10)),
                          "shown": now, "first": None, "stats": stats, "unit": unit}  # fmt: skip
            self._line["next"] = self._line["tenth"]
        elif self.enabled:
            p = self._columns
            columns = [p.TextColumn(label), p.BarColumn(), p.MofNCompleteColumn()]
            if stats:
                fields = (
                    "loss {task.fields[loss]:.4f}  acc {task.fields[acc]:.2%}  {task.fields[ips]:.0f} img/s"
                )
                columns.append(p.TextColumn(fields))
            self._bar = p.Progress(*columns, p.TimeRemainingColumn(), console=self._console, transient=True)
            self._bar.start()
            self._task = self._bar.add_task(label, total=batches, loss=0.0, acc=0.0, ips=0.0)

    def due(self, done: int) -> bool:
        """Whether `update(done, ...)` would show anything."""
        if not self.enabled:
            return False
        if not self.lines:
            return True
        line, now = self._line, self._clock()
        if line is None:
            return False
        if line["first"] is None:
            line["first"] = (done, now)
        # none after the last batch: the epoch's summary line (or the pass's result) follows at once
        return line["next"] <= done < line["batches"] and now - line["shown"] >= self.LINE_EVERY_S

    def update(self, done: int, loss: float = 0.0, acc: float = 0.0, images_per_s: float = 0.0) -> None:
        """`done` batches of the pass are finished; the other figures are its running means."""
        if self._bar is not None:
            self._bar.update(self._task, completed=done, loss=loss, acc=acc, ips=images_per_s)
        elif self.lines and self.due(done):
            self._write_line(done, loss, acc, images_per_s)

    def _write_line(self, done: int, loss: float, acc: float, images_per_s: float) -> None:
        line, now = self._line, self._clock()
        batches, (first_done, first_time) = line["batches"], line["first"]
        text = f"{line['label']}: batch {done}/{batches} ({done / batches:.0%})"
        if line["stats"]:
            text += f", loss {loss:.4f}, acc {acc:.2%}, {images_per_s:.0f} img/s"
        if done > first_done:
            left = (now - first_time) / (done - first_done) * (batches - done)
            text += f", ~{duration(left)} left in the {line['unit']}"
        logger.info(text)
        line["shown"] = now
        line["next"] = (done // line["tenth"] + 1) * line["tenth"]

    def stop(self) -> None:
        """End the pass shown (a bar disappears; a log keeps its lines)."""
        self._line = None
        if self._bar is not None:
            self._bar.stop()
            self._bar = None
