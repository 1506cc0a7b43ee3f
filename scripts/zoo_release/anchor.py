"""GPU speed anchor: airbench94 (K. Jordan, arXiv:2404.00498) beside `zoo train fast_resnet9 --recipe
fast`, on the same GPU and the same copy of CIFAR-10, for benchmarks/RESULTS.md.

airbench reads ``./cifar10/{train,test}.pt`` (and would download CIFAR-10 without them; the device
machine reaches nothing), so `write_airbench_data` writes them from zoo's loader: both sides then see
the same images. Each side is timed as wall seconds of its training call with the GPU queue drained,
its final evaluation included (airbench: its own flip-and-translate TTA; zoo: the recipe's flip TTA).
"""

from __future__ import annotations

import os
import statistics
import time
from pathlib import Path
from typing import Any

import torch

TARGET = 94.0


def write_airbench_data(data_dir: Path | None, root: Path) -> Path:
    """``root/cifar10/{train,test}.pt`` in airbench's layout (uint8 NHWC images, labels, classes)."""
    from zoo.data import load_dataset

    folder = root / "cifar10"
    folder.mkdir(parents=True, exist_ok=True)
    for split in ("train", "test"):
        data = load_dataset("cifar10", split, data_dir)
        images = data.images.permute(0, 2, 3, 1).contiguous()
        torch.save(
            {"images": images, "labels": data.labels, "classes": list(data.classes)}, folder / f"{split}.pt"
        )
    return folder


def _timed(fn) -> tuple[Any, float]:
    torch.cuda.synchronize()
    started = time.perf_counter()
    value = fn()
    torch.cuda.synchronize()
    return value, time.perf_counter() - started


def time_airbench(root: Path, runs: int) -> list[dict[str, float]]:
    """Seconds and TTA top-1 of `runs` airbench94 trainings, after its warm-up run."""
    import airbench

    os.chdir(root)  # airbench reads ./cifar10/
    test_loader = airbench.CifarLoader("cifar10", train=False, batch_size=2000)
    airbench.warmup94(verbose=True)  # verbose: its warm-up stops after one step only then
    rows = []
    for _ in range(runs):
        model, train_s = _timed(lambda: airbench.train94(verbose=False))
        accuracy, eval_s = _timed(lambda: airbench.evaluate(model, test_loader, tta_level=2))
        rows.append({"seconds": round(train_s + eval_s, 2), "top1": round(100 * accuracy, 2)})
    return rows


def time_zoo(
    data_dir: Path | None, out: Path, runs: int, model: str = "fast_resnet9"
) -> list[dict[str, float]]:
    """Seconds and top-1 of `runs` `zoo train MODEL --recipe fast` runs (evaluating after the last epoch
    only), after a one-epoch warm-up; `epoch_seconds` leaves out checkpoint writes and plots."""
    from zoo.train import get_recipe, train

    recipe = get_recipe("fast")
    settings = {"data_dir": data_dir, "eval_every": recipe.epochs}
    train(model, recipe=recipe, out=out / "warmup", epochs=1, **settings)
    rows = []
    for run in range(runs):
        result, seconds = _timed(
            lambda: train(model, recipe=recipe, out=out / f"run{run}", seed=run, **settings)
        )
        rows.append(
            {
                "seconds": round(seconds, 2),
                "epoch_seconds": round(sum(row["seconds"] for row in result.history), 2),
                "top1": round(100 * result.final["test_acc"], 2),
            }
        )
    return rows


def summarise(airbench_rows: list[dict], zoo_rows: list[dict], device: str) -> dict[str, Any]:
    """Medians, the zoo/airbench time ratio and a RESULTS.md table row."""

    def median(rows: list[dict], key: str) -> float:
        return round(statistics.median(r[key] for r in rows), 2)

    air_s, zoo_s = median(airbench_rows, "seconds"), median(zoo_rows, "seconds")
    air_top1, zoo_top1 = median(airbench_rows, "top1"), median(zoo_rows, "top1")
    reached = {name: top1 >= TARGET for name, top1 in (("airbench94", air_top1), ("zoo", zoo_top1))}
    ratio = round(zoo_s / air_s, 2)
    row = (
        f"| {device} | airbench94 {air_s} s, {air_top1} % | zoo fast_resnet9 --recipe fast {zoo_s} s, "
        f"{zoo_top1} % | {ratio}x |"
    )
    return {
        "device": device,
        "airbench94": airbench_rows,
        "zoo_fast_resnet9": zoo_rows,
        "median_seconds": {"airbench94": air_s, "zoo": zoo_s},
        "median_top1": {"airbench94": air_top1, "zoo": zoo_top1},
        "reached_94": reached,
        "ratio_zoo_to_airbench": ratio,
        "results_row": row,
    }
