"""Comparison arms that outlive a working session: each arm is a `zoo.train` run in its own folder.

An arm that finished is read back, not trained again; one cut off mid-way (a session's end, Ctrl-C,
a kill) is resumed from its last checkpoint (mid-epoch ones every `CHECKPOINT_EVERY`); an untouched
one starts. Rows are saved after every arm, so a table of several CPU-hours is built over several
sessions by running the same command again. Minutes are the run's own epoch times (training and
evaluation, from metrics.jsonl), so a resumed arm reports what it cost, not the last session's share.
"""

from __future__ import annotations

import json
import logging
import sys
from pathlib import Path
from typing import Any

from zoo._files import write_json_atomic
from zoo.campaign.runs import RunFolder
from zoo.train import train
from zoo.train.rundir import TrainingInterrupted

CHECKPOINT_EVERY = "5m"


def show_training_log() -> None:
    """Print what `zoo train` logs (each epoch's line, progress lines inside an epoch) on stderr, as
    the CLI does: an arm trains for tens of minutes on a CPU."""
    zoo_log = logging.getLogger("zoo")
    zoo_log.addHandler(logging.StreamHandler(sys.stderr))
    zoo_log.setLevel(logging.INFO)


def train_arm(out: Path, **train_keywords: Any) -> dict[str, Any]:
    """Train (or resume, or read back) the run in `out`: its final metrics row, epochs, minutes, data
    set identity (cifar10-jpeg here, not the spec's name) and every epoch's metrics row."""
    if not RunFolder(out).finished:
        resume = RunFolder(out).started
        try:
            train(out=out, resume=resume, checkpoint_every=CHECKPOINT_EVERY, **train_keywords)
        except TrainingInterrupted as stopped:  # Ctrl-C, SIGTERM: one line, and how to go on
            print(f"{stopped}; the same command again continues every arm", file=sys.stderr)
            raise SystemExit(TrainingInterrupted.exit_code) from None
    run = RunFolder(out)  # read after training: RunFolder caches what it has read
    return {
        "final": run.result["final"],
        "epochs": run.epoch,
        "minutes": round(sum(row.get("seconds") or 0 for row in run.rows) / 60, 1),
        "dataset": run.record["dataset"]["identity"],
        "rows": run.rows,  # metrics.jsonl: one row per epoch
    }


def load_rows(path: Path) -> dict[str, Any]:
    """The rows an earlier call saved in `path` (JSON), by arm name; empty when there are none."""
    try:
        return {row["arm"]: row for row in json.loads(path.read_text())["arms"]}
    except (OSError, ValueError, KeyError, TypeError):
        return {}


def save_rows(path: Path, setting: dict[str, Any], rows: list[dict[str, Any]]) -> None:
    """Write the setting and the rows so far, whole then renamed (a kill leaves the last good file)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    write_json_atomic(path, {"setting": setting, "arms": rows}, indent=2)


def check_setting(path: Path, setting: dict[str, Any]) -> None:
    """Refuse to continue the arms in `path`'s folder with other settings: the table would mix them."""
    try:
        saved = json.loads(path.read_text()).get("setting")
    except (OSError, ValueError, AttributeError):
        return
    if saved is not None and saved != setting:
        changed = sorted(k for k in {*saved, *setting} if saved.get(k) != setting.get(k))
        details = ", ".join(f"{k} {saved.get(k)!r} -> {setting.get(k)!r}" for k in changed)
        raise SystemExit(
            f"{path.parent} holds arms run with other settings ({details}); "
            f"give the same settings to continue them, or another --out"
        )
