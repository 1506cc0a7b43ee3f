"""A study's report: report.md (its caveats, the seed's tables with our figure beside theirs, the
figures with captions), results.csv/.json and the PNGs (zoo.studies.figures draws them).

`rewrite` writes a report again from what a run stored, training nothing.
"""

from __future__ import annotations

import csv
import json
import re
from pathlib import Path
from typing import Any

from .._errors import ZooError
from .._study import Scale, Study
from . import figures as plots
from .lookup import get_study

CSV_COLUMNS = (
    "cell",
    "table",
    "row",
    "model",
    "seed",
    "test_acc",
    "train_acc",
    "epoch",
    "train_s",
    "model_mb",
    "dataset",
    "train_images",
    "device",
)


class ReportError(ZooError, ValueError):
    """A report cannot be written again: its folder does not say which study and scale it holds."""


def write(study: Study, scale: str, settings: Scale, rows: list[dict], out: Path) -> tuple[Path, list[Path]]:
    """Write OUT/results.json, results.csv, the figures and report.md; (report path, figure paths)."""
    out.mkdir(parents=True, exist_ok=True)
    (out / "results.json").write_text(
        json.dumps({"study": study.name, "scale": scale, "note": settings.note, "rows": rows}, indent=1)
        + "\n"
    )
    with (out / "results.csv").open("w", newline="") as handle:
        writer = csv.DictWriter(handle, CSV_COLUMNS, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)
    figures = _figures(study, rows, out)
    path = out / "report.md"
    path.write_text(markdown(study, scale, settings, rows, [f.name for f in figures]))
    return path, figures


def _figures(study: Study, rows: list[dict], out: Path) -> list[Path]:
    # a study with its own `run` drew its figures and names them in its rows
    return [out / r["figure"] for r in rows if r.get("figure")] + plots.draw(study, rows, out)


def rewrite(out: str | Path, study: str | None = None, scale: str | None = None) -> tuple[Path, list[Path]]:
    """Write OUT/report.md again from what a study run stored there, training nothing; (report path,
    figure paths). From OUT/results.json (every run's history and probes) the figures are redrawn;
    from OUT/results.csv alone (the tables), the PNGs already in OUT are kept and linked as they are.
    `study` and `scale` default to those OUT records (results.json or study.json)."""
    out = Path(out)
    saved = json.loads((out / "results.json").read_text()) if (out / "results.json").is_file() else {}
    marker = out / "study.json"
    recorded = saved or (json.loads(marker.read_text()) if marker.is_file() else {})
    study, scale = study or recorded.get("study"), scale or recorded.get("scale")
    if not study or not scale:
        raise ReportError(f"{out} records no study or scale (no results.json or study.json): name them")
    found = get_study(study)
    if scale not in found.scales:
        raise ReportError(f"study {study!r} has no {scale!r} scale")
    rows = saved.get("rows") or _csv_rows(out / "results.csv")
    figures = _figures(found, rows, out)
    path = out / "report.md"
    if not figures:  # nothing to draw from: keep the figures an earlier run drew, in its report's order
        shown = re.findall(r"\]\(([^)]+\.png)\)", path.read_text()) if path.is_file() else []
        kept = [p for p in out.glob("*.png") if plots.kind(p.name)]
        at = {name: i for i, name in enumerate(shown)}
        figures = sorted(kept, key=lambda p: (at.get(p.name, len(at)), _order(found, p.name)))
    path.write_text(markdown(found, scale, found.scales[scale], rows, [f.name for f in figures]))
    return path, figures


def _csv_rows(path: Path) -> list[dict]:
    with path.open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    for row in rows:  # the report formats numbers as numbers
        for key in ("test_acc", "train_acc", "train_s", "model_mb"):
            row[key] = float(row[key]) if row.get(key) else None
    return rows


def _order(study: Study, name: str) -> tuple[int, str]:
    """Where `draw` puts figure `name`: the tables' curves and lr in table order, then bands, layers,
    distributions."""
    per_table = [f"{plots.slug(t)}-{k}.png" for t in study.tables() for k in ("curves", "lr")]
    kinds = list(plots.CAPTIONS)
    rank = per_table.index(name) if name in per_table else len(per_table) + kinds.index(plots.kind(name))
    return rank, name


def _fmt(value: Any, digits: int = 2) -> str:
    return (
        "-"
        if value is None or value == ""
        else f"{value:.{digits}f}"
        if isinstance(value, float)
        else str(value)
    )


def header(study: Study, scale: str, settings: Scale, rows: list[dict]) -> list[str]:
    def distinct(key: str) -> str:
        return ", ".join(dict.fromkeys(str(r[key]) for r in rows if r.get(key) is not None)) or "-"

    options = ", ".join(f"{k} {v}" for k, v in settings.options.items()) or "each run as the seed ran it"
    return [
        f"# Study `{study.name}`",
        "",
        study.description,
        "",
        f"- **Scale:** {scale} ({options}){': ' + settings.note if settings.note else ''}",
        f"- **Data set:** {distinct('dataset')} ({distinct('train_images')} training images per run)",
        f"- **Device:** {distinct('device')}",
        f"- **Seed figures:** {study.source or '-'}",
        "",
    ]


def markdown(study: Study, scale: str, settings: Scale, rows: list[dict], figures: list[str]) -> str:
    """report.md: the header, the caveats, one table per factor in the seed's layout (every seed row,
    run or not), the figures with their captions."""
    done = {r["cell"]: r for r in rows}
    lines = header(study, scale, settings, rows) + caveats(study, settings)
    metric = "best-on-validation epoch" if study.metric == "best" else "last epoch"
    for table in study.tables():
        lines += [
            f"## {table}",
            "",
            f"| {table} | test % (ours, {metric}) | test % (seed) | train % (ours) | time (s) | model MB |",
            "|---|---:|---:|---:|---:|---:|",
        ]
        for cell in (c for c in study.cells if c.table == table):
            r = done.get(cell.name)
            ours = (
                [_fmt(r["test_acc"]), _fmt(r["train_acc"]), _fmt(r["train_s"], 1), _fmt(r["model_mb"], 1)]
                if r
                else ["not run", "-", "-", "-"]
            )
            lines.append(f"| {cell.row} | {ours[0]} | {cell.seed or '-'} | {' | '.join(ours[1:])} |")
        lines.append("")
    extra = [r for r in rows if r["cell"] not in {c.name for c in study.cells}]
    if extra:  # rows of a study with its own `run`
        lines += ["## results", "", "| row | value |", "|---|---|"]
        lines += [f"| {r['row']} | {_fmt(r.get('value'))} |" for r in extra] + [""]
    if figures:
        lines += ["## Figures"]
        for i, name in enumerate(figures):
            text = caption(study, rows, name)
            if i == 0 or text != caption(study, rows, figures[i - 1]):  # once per run of alike figures
                lines += ["", text, ""] if text else [""]
            lines.append(f"![{name}]({name})")
        lines.append("")
    return "\n".join(lines)


def caveats(study: Study, settings: Scale) -> list[str]:
    """report.md's Caveats section: the study's own, then its scale's (none: no section)."""
    found = [*study.caveats, *settings.caveats]
    return ["## Caveats", "", *(f"- {text}" for text in found), ""] if found else []


def caption(study: Study, rows: list[dict], name: str) -> str:
    """What figure `name` shows (from its kind and the rows' labels: a figure kept from an earlier
    run gets one too); "" for a figure zoo.studies.figures did not name."""
    what = plots.kind(name)
    if what is None:
        return ""
    text = plots.CAPTIONS[what]
    if what == "bands":
        varies = "table" if study.bands_by == "row" else "row"
        runs = "; ".join(
            f"{group}: {', '.join(str(r[varies]) for r in members)}"
            for group, members in plots.groups(study, rows).items()
        )
        text += f" A group's runs: {runs}." if runs else ""
    return text
