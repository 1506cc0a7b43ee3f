"""Running a study: its grid of `zoo.train.train` runs (each resumable), the probes, then the report."""

from __future__ import annotations

import fnmatch
import json
import logging
import shutil
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .._builder import model_info
from .._errors import ZooError
from .._study import SCALES, Cell, Scale, Study
from ..checkpoint import CHECKPOINT_DIR, STATE_JSON, read_metadata
from ..train import train
from ..train.engine import RESULT_FILE
from ..train.recipes import default_recipe_name, get_recipe
from . import report
from .lookup import get_study
from .probes import make_probe

logger = logging.getLogger("zoo")

STUDY_FILE = "study.json"
PROBES_FILE = "probes.json"
DATASET_IMAGES = {"cifar10": 50_000, "mnist": 60_000}


class StudyRunError(ZooError, ValueError):
    """A study cannot run as asked: a scale it lacks, an --only matching nothing, a used --out."""


@dataclass(frozen=True)
class StudyResult:
    """What `run` produced: one row per cell (with its history and probe records) and the report."""

    study: str
    scale: str
    out: Path
    rows: list[dict[str, Any]]
    report: Path  # OUT/report.md
    figures: list[Path]


def scale_of(study: Study, scale: str) -> Scale:
    if scale not in SCALES:
        raise StudyRunError(f"unknown scale {scale!r}; choose one of {', '.join(SCALES)}")
    if scale not in study.scales:
        have = ", ".join(s for s in SCALES if s in study.scales)
        raise StudyRunError(f"study {study.name!r} has no {scale} scale; it runs at {have}")
    return study.scales[scale]


def select(study: Study, only: Sequence[str] | None) -> list[Cell]:
    """The cells whose name or table matches a pattern of `only` (all without one)."""
    if not only:
        return list(study.cells)
    chosen = []
    for pattern in only:
        hits = [c for c in study.cells if fnmatch.fnmatchcase(c.name, pattern) or c.table == pattern]
        if not hits:
            names = ", ".join(c.name for c in study.cells)
            raise StudyRunError(f"--only {pattern!r} matches no cell of {study.name!r}; cells: {names}")
        chosen += [c for c in hits if c not in chosen]
    return [c for c in study.cells if c in chosen]


def cell_options(cell: Cell, scale: Scale, device: str | None) -> dict[str, Any]:
    """The train() options of `cell` at `scale`: the seed's settings, then the scale's overrides."""
    options = {**cell.options, **scale.options, "device": device}
    if cell.model_kwargs:
        options["model_kwargs"] = dict(cell.model_kwargs)
    if cell.probes:
        options["precision"] = "fp32"  # probes read unscaled full-precision gradients
    return options


def estimate(study: Study, scale: str) -> dict[str, float]:
    """A rough cost: training MACs of the grid (3 x forward MACs per image, every epoch)."""

    settings = scale_of(study, scale)
    total = 0.0
    for cell in study.cells:
        spec = model_info(cell.model)
        options = {**cell.options, **settings.options}
        epochs = options.get("epochs") or get_recipe(cell.recipe or default_recipe_name(spec.name)).epochs
        images = options.get("limit_train") or DATASET_IMAGES.get(spec.dataset, 50_000)
        total += 3 * spec.macs * images * epochs
    return {"runs": len(study.cells), "train_tmacs": total / 1e12}


def run(
    name: str,
    out: str | Path,
    *,
    data_dir: str | Path | None = None,
    scale: str = "smoke",
    only: Sequence[str] | None = None,
    resume: bool = False,
    device: str | None = None,
    image: str | int | Path | None = None,
) -> StudyResult:
    """Run study `name` into `out` at `scale` (smoke, reduced or full): its grid (or the cells `only`
    names, by cell name, glob or table), then OUT/report.md, results.csv/.json and PNG figures.

    With `resume`, cells whose run finished (OUT/runs/CELL/result.json) are read back, not rerun,
    and a run that was killed continues from its last checkpoint (from the start when it has probes).
    `image` (a file or a CIFAR-10 test-set index) is for studies that look at one image (feature-maps).
    """
    study = get_study(name)
    settings = scale_of(study, scale)
    cells = select(study, only)
    if image is not None and study.run is None:
        raise StudyRunError(f"--image is for studies that look at one image (feature-maps), not {name!r}")
    out = Path(out)
    _claim(out, study, scale, resume)
    if study.run is not None:
        rows = study.run(study, out, scale, data_dir, device, image=image)
    else:
        rows, trained = [], {}  # identical cells (a shared baseline) train once
        for cell in cells:
            key = json.dumps(
                [cell.model, cell.recipe, dict(cell.options), dict(cell.model_kwargs), cell.probes],
                sort_keys=True,
            )
            if key not in trained:
                trained[key] = _run_cell(cell, study, settings, out, data_dir, device)
            rows.append({**trained[key], **_labels(cell), "same_as": trained[key]["cell"]})
    path, figures = report.write(study, scale, settings, rows, out)
    return StudyResult(study.name, scale, out, rows, path, figures)


def _claim(out: Path, study: Study, scale: str, resume: bool) -> None:
    marker = out / STUDY_FILE
    if resume and marker.is_file():
        saved = json.loads(marker.read_text())
        if (saved.get("study"), saved.get("scale")) != (study.name, scale):
            raise StudyRunError(
                f"{out} holds study {saved.get('study')!r} at scale {saved.get('scale')!r}, not "
                f"{study.name!r} at {scale!r}: --resume continues the same study; choose another --out"
            )
    elif out.exists() and (not out.is_dir() or any(out.iterdir())):
        what = "a finished or killed study" if marker.is_file() else "other files"
        hint = "add --resume to continue it, or " if marker.is_file() else ""
        raise StudyRunError(f"--out {out} holds {what}; {hint}choose another --out")
    out.mkdir(parents=True, exist_ok=True)
    marker.write_text(json.dumps({"study": study.name, "scale": scale}, indent=2) + "\n")


def _run_cell(cell: Cell, study: Study, settings: Scale, out: Path, data_dir, device) -> dict[str, Any]:

    folder = out / "runs" / cell.name
    if (folder / RESULT_FILE).is_file():
        logger.info("study %s: %s done already, skipped", study.name, cell.name)
        return read_cell(cell, folder, study.metric)
    resume = folder.is_dir()
    if resume and cell.probes:  # the probes' records cover whole runs: measure from the first step
        shutil.rmtree(folder)
        resume = False
    probes = {p: make_probe(p, settings.probe_every) for p in cell.probes}

    def on_step(step) -> None:
        for probe in probes.values():
            probe(step)

    logger.info("study %s: training %s (%s)", study.name, cell.name, cell.row)
    started = time.perf_counter()
    train(
        cell.model,
        recipe=cell.recipe,
        out=folder,
        data_dir=data_dir,
        resume=resume,
        on_step=on_step if probes else None,
        **cell_options(cell, settings, device),
    )
    if probes:
        records = {name: probe.to_dict() for name, probe in probes.items()}
        (folder / PROBES_FILE).write_text(json.dumps(records) + "\n")
    row = read_cell(cell, folder, study.metric)
    row["wall_s"] = time.perf_counter() - started
    return row


def _labels(cell: Cell) -> dict[str, Any]:
    return {"cell": cell.name, "table": cell.table, "row": cell.row, "model": cell.model, "seed": cell.seed}


def read_cell(cell: Cell, folder: Path, metric: str) -> dict[str, Any]:
    """A finished cell's report row: its accuracies (in %), history, probe records and provenance."""

    result = json.loads((folder / RESULT_FILE).read_text())
    config = json.loads((folder / "config.json").read_text())
    history = [json.loads(line) for line in (folder / "metrics.jsonl").read_text().splitlines() if line]
    chosen = result["best"] if metric == "best" and result.get("best") else result["final"]
    probes = folder / PROBES_FILE
    model_file = Path(result["model"])
    return {
        **_labels(cell),
        "test_acc": 100 * chosen["test_acc"],
        "train_acc": 100 * result["final"]["train_acc"],
        "epoch": chosen.get("epoch"),
        "train_s": sum(r["seconds"] for r in history),
        "wall_s": sum(r["seconds"] for r in history),
        "model_mb": model_file.stat().st_size / 1e6 if model_file.is_file() else None,
        "dataset": config["dataset"]["identity"],
        "train_images": config["dataset"]["train"],
        "device": read_metadata(model_file).get("zoo.device", config["device"]),
        "history": history,
        "loss_curve": _loss_curve(folder),
        "probes": json.loads(probes.read_text()) if probes.is_file() else {},
    }


def _loss_curve(folder: Path) -> list[list[float]]:
    """The run's per-step training loss ([fractional epoch, mean loss] points, kept by runs of few
    epochs) from its checkpoint record; [] where it has none."""
    state = folder / CHECKPOINT_DIR / STATE_JSON
    return json.loads(state.read_text()).get("loss_curve", []) if state.is_file() else []
