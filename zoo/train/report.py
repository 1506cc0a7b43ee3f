"""What a run shows and leaves behind: metrics.jsonl/csv, PNG plots, a progress bar per epoch."""

from __future__ import annotations

import csv
import io
import json
import math
from pathlib import Path
from typing import Any

from .._progress import BatchProgress
from ..checkpoint import write_file

METRIC_COLUMNS = (
    "epoch",
    "train_loss",
    "train_acc",
    "val_loss",
    "val_acc",
    "test_loss",
    "test_acc",
    "lr",
    "img_per_s",
    "seconds",
)


class MetricsLog:
    """One row per epoch in OUT/metrics.jsonl and OUT/metrics.csv (same columns, empty when absent).

    Both files are rewritten whole, then renamed, at every epoch (a few hundred rows at most): a kill
    or a full disk leaves the previous complete files, never half a row.
    """

    def __init__(self, out: Path) -> None:
        self.jsonl = out / "metrics.jsonl"
        self.csv = out / "metrics.csv"
        self.rows: list[dict[str, Any]] = []

    def rewrite(self, history: list[dict[str, Any]]) -> None:
        """Replace both files by `history` (a resumed run drops rows past its checkpoint this way)."""
        self.rows = list(history)
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, METRIC_COLUMNS, lineterminator="\n")
        writer.writeheader()
        writer.writerows({k: "" if r.get(k) is None else r[k] for k in METRIC_COLUMNS} for r in self.rows)
        for path, text in (
            (self.jsonl, "".join(json.dumps(row) + "\n" for row in self.rows)),
            (self.csv, buffer.getvalue()),
        ):
            write_file(path, lambda tmp, text=text: tmp.write_text(text))

    def append(self, row: dict[str, Any]) -> None:
        self.rewrite([*self.rows, row])


# Up to this many epochs the plots show steps: the training loss of every few steps, larger markers,
# and an axis from 0 (the start of training) to the last epoch.
FEW_EPOCHS = 10


def plot_history(
    history: list[dict[str, Any]], out: Path, loss_curve: list[list[float]] | None = None
) -> list[Path]:
    """loss.png, accuracy.png (%) and lr.png (every step) of a run, titled with its model, recipe and
    data set (read from OUT/config.json); x in epochs, ticks on whole epochs (matplotlib, Agg backend).

    `loss_curve`: ``[epoch, mean training loss]`` points of a few steps each (zoo.train.resume); with
    few epochs loss.png draws it under the per-epoch points. A loss axis spanning a decade or more is
    logarithmic.
    """
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    record = _run_record(out)
    epochs = [row["epoch"] for row in history]
    few = bool(epochs) and epochs[-1] <= FEW_EPOCHS
    figures = {
        "loss.png": ("loss", ("train_loss", "val_loss", "test_loss"), 1.0),
        "accuracy.png": ("accuracy (%)", ("train_acc", "val_acc", "test_acc"), 100.0),
        "lr.png": ("learning rate", ("lr",), 1.0),
    }
    steps = _lr_per_step(history, record) if record else None
    written = []
    for filename, (ylabel, keys, scale) in figures.items():
        fig, ax = plt.subplots(figsize=(6, 4), dpi=100)
        fig.set_label(filename)
        if filename == "lr.png" and steps is not None:
            _plot_lr(ax, *steps)
        else:
            if filename == "loss.png" and few and loss_curve:
                x, y = zip(*loss_curve)
                ax.plot(x, y, linewidth=1, alpha=0.7, color="tab:blue", label="train_loss (per step)")
            for key in keys:
                points = [
                    (e, scale * row[key]) for e, row in zip(epochs, history) if row.get(key) is not None
                ]
                if points:
                    per_step = key == "train_loss" and len(ax.get_lines()) > 0  # the curve is drawn
                    label = f"{key} (epoch mean)" if per_step else key
                    ax.plot(*zip(*points), marker="o", markersize=6 if few else 3, label=label)
        _epoch_axis(ax, epochs[-1] if epochs else 1, few)
        ax.set_ylabel(ylabel)
        values = [y for line in ax.get_lines() for y in line.get_ydata()]
        if filename == "loss.png" and values and min(values) > 0 and max(values) >= 10 * min(values):
            ax.set_yscale("log")
        if record:
            ax.set_title(_title(record), fontsize=10)
        ax.grid(True, alpha=0.3)
        if len(ax.get_lines()) > 1 or filename == "lr.png":
            ax.legend()
        fig.tight_layout()
        write_file(out / filename, lambda tmp, fig=fig: fig.savefig(tmp, format="png"))
        plt.close(fig)
        written.append(out / filename)
    return written


def _epoch_axis(ax: Any, last: int, few: bool) -> None:
    """x in epochs with ticks on whole ones; with few epochs from 0, so one epoch is not one point."""
    from matplotlib.ticker import MaxNLocator

    ax.set_xlabel("epoch")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    if few:
        pad = 0.03 * last
        ax.set_xlim(-pad, last + pad)


def _plot_lr(ax: Any, x: list[float], lrs: list[float]) -> None:
    """The per-step learning rate: a log axis when it moves by a decade or more; a constant rate (the
    plateau schedule before its first drop) on a linear axis from 0, its value in the legend."""
    low, high = min(lrs), max(lrs)
    if low == high:
        ax.plot(x, lrs, label=f"lr {high:g} (constant)")
        ax.set_ylim(0, 1.25 * high)
        return
    ax.plot(x, lrs, label=f"lr per step ({low:.3g} to {high:.3g})")
    if low > 0 and high >= 10 * low:
        ax.set_yscale("log")


def _run_record(out: Path) -> dict[str, Any] | None:
    """OUT/config.json as the engine wrote it, or None."""
    try:
        record = json.loads((out / "config.json").read_text())
    except (OSError, ValueError):
        return None
    return record if isinstance(record, dict) and isinstance(record.get("config"), dict) else None


def _title(record: dict[str, Any]) -> str:
    config = record["config"]
    recipe = config.get("recipe", {}).get("name", "?")
    return f"{config.get('model', '?')}, recipe {recipe}, on {record.get('dataset', {}).get('identity', '?')}"


def _lr_per_step(history: list[dict[str, Any]], record: dict[str, Any]) -> tuple[list, list] | None:
    """(epoch of each step, its learning rate), replaying the run's schedule; None when the replay does
    not give the learning rate every epoch recorded (then lr.png shows the recorded values)."""
    import warnings

    import torch

    from .optim import build_optimizer, build_schedule
    from .recipes import Recipe

    steps = record.get("steps_per_epoch")
    try:
        recipe = Recipe(**record["config"]["recipe"])
    except (KeyError, TypeError):
        return None
    if not isinstance(steps, int) or steps < 1 or not history:
        return None
    optimizer = build_optimizer([torch.nn.Parameter(torch.zeros(1))], recipe)
    schedule = build_schedule(optimizer, recipe, steps)
    x, lrs = [], []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the scheduler's own notes on replayed steps
        for i, row in enumerate(history):
            for step in range(steps):
                x.append(i + (step + 1) / steps)
                lrs.append(optimizer.param_groups[0]["lr"])
                optimizer.step()
                schedule.after_batch()
            if not math.isclose(lrs[-1], row.get("lr") or 0.0, rel_tol=1e-6):
                return None
            loss = row.get("val_loss") if row.get("val_loss") is not None else row.get("test_loss")
            schedule.after_epoch(loss if loss is not None else float("nan"))
    return x, lrs


def summary_line(row: dict[str, Any], epochs: int) -> str:
    """One line per finished epoch."""
    parts = [
        f"epoch {row['epoch']}/{epochs}",
        f"train loss {row['train_loss']:.4f} acc {row['train_acc']:.2%}",
    ]
    for split in ("val", "test"):
        if row.get(f"{split}_loss") is not None:
            parts.append(f"{split} loss {row[f'{split}_loss']:.4f} acc {row[f'{split}_acc']:.2%}")
    parts.append(f"lr {row['lr']:.3g}  {row['img_per_s']:.0f} img/s  {row['seconds']:.1f}s")
    return "  ".join(parts)


class EpochProgress(BatchProgress):
    """Progress through each epoch and its evaluation (rank 0 only): a bar on a terminal, a line at
    each tenth of the epoch (at most one a minute) in a log; zoo._progress.BatchProgress."""

    def start(self, epoch: int, epochs: int, batches: int) -> None:
        self.begin(f"epoch {epoch}/{epochs}", batches, stats=True, unit="epoch")

    def start_eval(self, epoch: int, epochs: int, batches: int, split: str) -> None:
        """The epoch's evaluation pass (minutes on a CPU for the full test split)."""
        self.begin(f"epoch {epoch}/{epochs} evaluating on {split}", batches)
