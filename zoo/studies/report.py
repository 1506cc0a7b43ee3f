"""A study's report: report.md (the seed's tables, our figure beside theirs), results.csv/.json, PNGs.

Figures (a study names those it wants): ``curves`` (per table: evaluated accuracy and training loss
per epoch, a line per row), ``lr`` (per table: the learning rate per epoch), ``bands`` (per probe
series: the min-max band over each table's runs against the step, as Santurkar et al. draw the loss
landscape, gradient predictiveness and beta-smoothness) and ``layers`` (per per-layer probe value: a
line per run against the layer, averaged over the recorded steps) and ``distributions`` (the
``activations`` probe: a row per run, a panel per chosen layer, its input's quantile bands against
the step, as the paper's Figure 2 histograms show them).
"""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

from .._study import Scale, Study

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
    figures = [out / r["figure"] for r in rows if r.get("figure")] + draw(study, rows, out)
    path = out / "report.md"
    path.write_text(markdown(study, scale, settings, rows, [f.name for f in figures]))
    return path, figures


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
    """report.md: the header, one table per factor in the seed's layout (every seed row, run or not)."""
    done = {r["cell"]: r for r in rows}
    lines = header(study, scale, settings, rows)
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
        lines += ["## Figures", ""] + [f"![{name}]({name})" for name in figures] + [""]
    return "\n".join(lines)


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    return plt


def _save(fig, path: Path, figures: list[Path]) -> None:
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    _pyplot().close(fig)
    figures.append(path)


def _slug(text: str) -> str:
    return "".join(ch if ch.isalnum() else "-" for ch in text.lower()).strip("-")


def draw(study: Study, rows: list[dict], out: Path) -> list[Path]:
    plt, figures = _pyplot(), []
    trained = [r for r in rows if r.get("history")]
    tables = {t: [r for r in trained if r["table"] == t] for t in study.tables()}
    for table, members in tables.items():
        if not members:
            continue
        if "curves" in study.figures:
            fig, (acc, loss) = plt.subplots(1, 2, figsize=(10, 4))
            for r in members:
                epochs = [h["epoch"] for h in r["history"]]
                evaluated = [100 * (h.get("val_acc") or h.get("test_acc") or 0.0) for h in r["history"]]
                acc.plot(epochs, evaluated, marker="o", label=r["row"])
                loss.plot(epochs, [h["train_loss"] for h in r["history"]], marker="o", label=r["row"])
            acc.set(xlabel="epoch", ylabel="evaluated accuracy (%)", title=f"{study.name}: {table}")
            loss.set(xlabel="epoch", ylabel="training loss", yscale="log", title=f"{study.name}: {table}")
            acc.legend(fontsize="small")
            _save(fig, out / f"{_slug(table)}-curves.png", figures)
        if "lr" in study.figures:
            fig, ax = plt.subplots(figsize=(6, 4))
            for r in members:
                ax.plot(
                    [h["epoch"] for h in r["history"]],
                    [h["lr"] for h in r["history"]],
                    marker="o",
                    label=r["row"],
                )
            ax.set(
                xlabel="epoch",
                ylabel="learning rate (last step of the epoch)",
                title=f"{study.name}: {table}",
            )
            ax.legend(fontsize="small")
            _save(fig, out / f"{_slug(table)}-lr.png", figures)
    if "bands" in study.figures:
        groups = tables
        if study.bands_by == "row":  # e.g. with / without BN, each across its lrs (Santurkar et al.)
            groups = {
                row: [r for r in trained if r["row"] == row]
                for row in dict.fromkeys(r["row"] for r in trained)
            }
        figures += _bands(plt, study, groups, out)
    if "layers" in study.figures:
        figures += _layers(plt, study, trained, out)
    if "distributions" in study.figures:
        figures += _distributions(plt, study, trained, out)
    return figures


def _probe_keys(rows: list[dict], kind: str) -> list[tuple[str, str]]:
    keys = {(p, k): None for r in rows for p, rec in r["probes"].items() for k in rec[kind]}
    return list(keys)


def _bands(plt, study: Study, tables: dict[str, list[dict]], out: Path) -> list[Path]:
    """One figure per probe series: per group (a table, or a row), the min-max band over its runs (and
    their mean)."""
    figures: list[Path] = []
    for probe, key in _probe_keys([r for m in tables.values() for r in m], "series"):
        fig, ax = plt.subplots(figsize=(6, 4))
        for table, members in tables.items():
            series = [
                (r["probes"][probe]["steps"], r["probes"][probe]["series"][key])
                for r in members
                if probe in r["probes"]
            ]
            n = min((len(v) for _, v in series), default=0)
            if not n:
                continue
            steps = series[0][0][:n]
            columns = list(zip(*(v[:n] for _, v in series), strict=True))
            low, high = [min(c) for c in columns], [max(c) for c in columns]
            ax.fill_between(steps, low, high, alpha=0.3)
            ax.plot(
                steps, [sum(c) / len(c) for c in columns], marker=".", label=f"{table} ({len(series)} runs)"
            )
        ax.set(
            xlabel="training step",
            ylabel=key.replace("_", " "),
            title=f"{study.name}: {key.replace('_', ' ')}",
        )
        ax.legend(fontsize="small")
        _save(fig, out / f"band-{_slug(key)}.png", figures)
    return figures


def _layers(plt, study: Study, rows: list[dict], out: Path) -> list[Path]:
    """One figure per per-layer probe value: a line per run, the value against the layer."""
    figures: list[Path] = []
    for probe, key in _probe_keys(rows, "layers"):
        fig, ax = plt.subplots(figsize=(7, 4))
        positive = True
        for r in rows:
            steps = r["probes"].get(probe, {}).get("layers", {}).get(key)
            if not steps:
                continue
            mean = [sum(v) / len(v) for v in zip(*steps, strict=True)]
            positive = positive and all(v > 0 for v in mean)
            ax.plot(range(1, len(mean) + 1), mean, marker=".", label=f"{r['table']}: {r['row']}")
        ax.set(
            xlabel="layer (input to output)",
            ylabel=key.replace("_", " "),
            title=f"{study.name}: {key.replace('_', ' ')} per layer",
        )
        if positive:
            ax.set_yscale("log")
        ax.legend(fontsize="x-small")
        _save(fig, out / f"layers-{_slug(key)}.png", figures)
    return figures


def _distributions(plt, study: Study, rows: list[dict], out: Path) -> list[Path]:
    """One figure: per run (row) and chosen layer (column), the input's quantile bands per step."""
    runs = [(r, p) for r in rows for p in r["probes"].values() if p.get("quantiles", {}).get("values")]
    if not runs:
        return []
    n_layers = min(len(p["quantiles"]["values"][0]) for _, p in runs)
    picks = sorted({min(1, n_layers - 1), n_layers // 2, n_layers - 1})  # early, middle, last
    fig, axes = plt.subplots(
        len(runs),
        len(picks),
        figsize=(3.6 * len(picks), 2.4 * len(runs)),
        sharex=True,
        sharey="col",
        squeeze=False,
    )
    for (r, probe), row_axes in zip(runs, axes, strict=True):
        steps, values = probe["steps"], probe["quantiles"]["values"]
        for layer, ax in zip(picks, row_axes, strict=True):
            q = list(zip(*(v[layer] for v in values), strict=True))  # per quantile, a value per step
            ax.fill_between(steps, q[0], q[-1], alpha=0.2, color="C0", label="5-95 %")
            ax.fill_between(steps, q[1], q[-2], alpha=0.4, color="C0", label="25-75 %")
            ax.plot(steps, q[len(q) // 2], color="C0", label="median")
            ax.set_title(f"{r['row']}: layer {layer + 1} input", fontsize="small")
    for ax in axes[-1]:
        ax.set_xlabel("training step")
    axes[0][0].legend(fontsize="x-small")
    fig.suptitle(f"{study.name}: distribution of layer inputs during training")
    figures: list[Path] = []
    _save(fig, out / "distributions.png", figures)
    return figures
