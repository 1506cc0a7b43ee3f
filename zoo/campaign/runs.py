"""Where a campaign keeps its runs, and what a run folder says about itself (read only, never written).

$ZOO_CAMPAIGN_DIR/               default: zoo's user cache dir + /campaign (survives a new checkout)
    campaign.log  campaign.lock  the campaign process: its events, and who runs it
    <step>/                      the step's `zoo train --out` (config.json, checkpoint/, metrics.jsonl, ...)
    <step>.log                   everything its `zoo grow` / `zoo train` processes printed
    <step>.grown/                the model `zoo grow` made for it (grow steps)
    <step>.failed                the one line why it stopped, until it is started again
    <step>.published             improve steps: the sha256 of the release `zoo campaign publish` made of it
"""

from __future__ import annotations

import json
import operator
import os
from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

from .._builder import model_info
from .._errors import ZooError
from .._files import zoo_cache_dir
from .._recipe import pixel_shares
from ..checkpoint import CHECKPOINT_DIR, STATE_JSON
from ..train.rundir import CONFIG_FILE, LOCK_FILE
from .lock import owner

RESULT_FILE = "result.json"  # written by `zoo train` when its last epoch is done: the run is finished


def campaign_dir() -> Path:
    """``$ZOO_CAMPAIGN_DIR``, else ``campaign/`` in zoo's user cache dir."""
    if os.environ.get("ZOO_CAMPAIGN_DIR"):
        return Path(os.environ["ZOO_CAMPAIGN_DIR"])
    return zoo_cache_dir() / "campaign"


@dataclass(frozen=True)
class CampaignDir:
    """The paths of one campaign dir (see the module doc)."""

    root: Path

    @property
    def log(self) -> Path:
        return self.root / "campaign.log"

    @property
    def lock(self) -> Path:
        return self.root / "campaign.lock"

    def run(self, step: str) -> Path:
        return self.root / step

    def step_log(self, step: str) -> Path:
        return self.root / f"{step}.log"

    def grown(self, step: str) -> Path:
        return self.root / f"{step}.grown"

    def failed(self, step: str) -> Path:
        return self.root / f"{step}.failed"

    def published(self, step: str) -> Path:
        return self.root / f"{step}.published"

    def published_sha256(self, step: str) -> str | None:
        """The sha256 of the release an improve step's run was published as (None: not published)."""
        try:
            return self.published(step).read_text().strip() or None
        except OSError:
            return None

    def failure(self, step: str) -> str | None:
        """The line why `step` last stopped, if it failed and was not started again since."""
        try:
            return self.failed(step).read_text().strip() or None
        except OSError:
            return None


def _json(path: Path) -> Any:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def _top1(row: dict[str, Any]) -> float | None:
    """A metrics row's top-1 in %: the test split's, else the validation split's, else None."""
    acc = row.get("test_acc") if row.get("test_acc") is not None else row.get("val_acc")
    return 100 * acc if isinstance(acc, (int, float)) else None


class RunFolder:
    """What a `zoo train --out` folder holds: started, finished, epochs, speed, top-1, its live owner."""

    def __init__(self, path: Path) -> None:
        self.path = path

    @cached_property
    def record(self) -> dict[str, Any] | None:
        record = _json(self.path / CONFIG_FILE)
        return record if isinstance(record, dict) and isinstance(record.get("config"), dict) else None

    @property
    def started(self) -> bool:
        """Whether a `zoo train` wrote its config here (then the campaign continues it with --resume)."""
        return (self.path / CONFIG_FILE).is_file()

    @cached_property
    def result(self) -> dict[str, Any] | None:
        result = _json(self.path / RESULT_FILE)
        return result if isinstance(result, dict) else None

    @property
    def finished(self) -> bool:
        return self.result is not None

    @cached_property
    def rows(self) -> list[dict[str, Any]]:
        """The metrics.jsonl rows (one per finished epoch); a half-written last line is left out."""
        try:
            lines = (self.path / "metrics.jsonl").read_text().splitlines()
        except OSError:
            return []
        rows = []
        for line in lines:
            try:
                rows.append(json.loads(line))
            except ValueError:
                break
        return [r for r in rows if isinstance(r, dict)]

    @property
    def epochs(self) -> int | None:
        """The epoch count the run trains for (its recipe's, after a time budget set it)."""
        return self._recipe_int("epochs")

    @property
    def epoch(self) -> int:
        """Epochs finished."""
        return int(self.rows[-1].get("epoch", len(self.rows))) if self.rows else 0

    @property
    def img_per_s(self) -> float | None:
        """Training speed: the mean of the epochs' img/s; before an epoch has ended, that of the part
        of the epoch its last mid-epoch checkpoint saved."""
        speed = self._epoch_mean("img_per_s")
        if speed is not None:
            return speed
        partial, batch = self.partial_epoch, self._recipe_int("batch_size")
        if partial is None or batch is None or not partial["seconds"] > 0:
            return None
        return partial["batches_done"] * batch / partial["seconds"]

    @cached_property
    def partial_epoch(self) -> dict[str, Any] | None:
        """The epoch the last checkpoint stopped inside ({"epoch", "batches_done", "batches",
        "seconds"}), or None (no checkpoint, or one at an epoch's end)."""
        state = _json(self.path / CHECKPOINT_DIR / STATE_JSON)
        partial = state.get("partial_epoch") if isinstance(state, dict) else None
        try:
            keys = ("epoch", "batches_done", "batches", "seconds")
            return {key: partial[key] for key in keys} if partial["batches"] > 0 else None
        except (TypeError, KeyError):
            return None

    @property
    def progress(self) -> float:
        """Epochs finished, plus the saved share of the epoch in flight (1.35: 35 % of epoch 2)."""
        partial = self.partial_epoch
        if partial is None or partial["epoch"] != self.epoch + 1:
            return float(self.epoch)
        return self.epoch + partial["batches_done"] / partial["batches"]

    def _recipe_int(self, key: str) -> int | None:
        """An int field of the recipe the run's config.json records, or None."""
        try:
            return int(self.record["config"]["recipe"][key])
        except (TypeError, KeyError, ValueError):
            return None

    def _epoch_mean(self, key: str, scale: Callable[[float, float], float] | None = None) -> float | None:
        """The mean over the finished epochs of metrics column `key`; with `scale`, each value first
        brought to a full-size epoch as ``scale(value, that epoch's pixel share)``."""
        values = [
            scale(row[key], self.pixel_share(int(row.get("epoch", index + 1)))) if scale else row[key]
            for index, row in enumerate(self.rows)
            if isinstance(row.get(key), (int, float))
        ]
        return sum(values) / len(values) if values else None

    @cached_property
    def pixel_shares(self) -> list[float]:
        """Each epoch's pixels against full size (`zoo._recipe.pixel_shares`): below 1.0 for the
        smaller images of ``progressive_resize``; empty when the record says no epoch count."""
        try:
            recipe, model = self.record["config"]["recipe"], self.record["config"]["model"]
            epochs, resize = int(recipe["epochs"]), str(recipe.get("progressive_resize") or "")
            return pixel_shares(resize, epochs, model_info(model).input_size[-1])
        except (TypeError, KeyError, ValueError, ZooError):
            return []

    def pixel_share(self, epoch: int) -> float:
        """`pixel_shares` of epoch `epoch` (1-based); 1.0 where unknown."""
        return self.pixel_shares[epoch - 1] if 0 < epoch <= len(self.pixel_shares) else 1.0

    @property
    def full_size_img_per_s(self) -> float | None:
        """`img_per_s` as if every epoch had trained at full size: an epoch of smaller images
        (``progressive_resize``) counts its images at their share of the pixels."""
        speed = self._epoch_mean("img_per_s", operator.mul)
        if speed is not None:
            return speed
        speed, partial = self.img_per_s, self.partial_epoch
        return speed * self.pixel_share(partial["epoch"]) if speed and partial else speed

    @property
    def full_size_epoch_seconds(self) -> float | None:
        """Mean wall seconds of a full-size epoch, evaluation included: the smaller images' epochs
        scaled up by their share of the pixels."""
        return self._epoch_mean("seconds", operator.truediv)

    @property
    def train_images(self) -> int | None:
        try:
            return int(self.record["dataset"]["train"])
        except (TypeError, KeyError, ValueError):
            return None

    @property
    def top1(self) -> float | None:
        """The finished run's top-1 in % (test split; validation where there is no test figure)."""
        return _top1((self.result or {}).get("final") or {})

    @property
    def latest_top1(self) -> tuple[int, float] | None:
        """(epoch, top-1 in %) of the last evaluated epoch (test split, else validation), or None:
        a run in flight evaluates every few epochs."""
        for row in reversed(self.rows):
            if (top1 := _top1(row)) is not None:
                return int(row.get("epoch", 0)), top1
        return None

    @property
    def last_checkpoint(self) -> float | None:
        """When the last checkpoint was written (a Unix time), or None."""
        try:
            return (self.path / CHECKPOINT_DIR / STATE_JSON).stat().st_mtime
        except OSError:
            return None

    @property
    def has_progress(self) -> bool:
        """Whether there is anything to continue here: a checkpoint, or a live trainer."""
        return self.last_checkpoint is not None or self.trainer is not None

    @property
    def last_activity(self) -> float | None:
        """When the run last wrote its metrics or config: the current epoch started after it."""
        times = []
        for name in ("metrics.jsonl", CONFIG_FILE):
            try:
                times.append((self.path / name).stat().st_mtime)
            except OSError:
                pass
        return max(times, default=None)

    @property
    def trainer(self) -> dict[str, Any] | None:
        """The live `zoo train` process holding this folder ({"pid", "host"}), or None."""
        return owner(self.path / LOCK_FILE)
