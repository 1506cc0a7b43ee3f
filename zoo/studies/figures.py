"""A study's figures, drawn from its report rows (each run's history and probe records).

Figures (a study names those it wants): ``curves`` (per table: evaluated accuracy and training loss
per epoch, a line per row), ``lr`` (per table: the learning rate per epoch), ``bands`` (per probe
series: each group's mean over its runs and their min-max band against the step, as Santurkar et al.
draw the loss landscape, gradient predictiveness and beta-smoothness), ``layers`` (per per-layer
probe value: a panel per table, a line per run against the layer, averaged over the recorded steps)
and ``distributions`` (the ``activations`` probe: a row per run, a panel per chosen layer, its input's
quantile bands against the step, as the paper's Figure 2 histograms show them).

Each line of a panel has its own colour, marker and dash, so that runs with equal values stay
visible; legends sit below the data, never on it. `CAPTIONS` says what each kind of figure shows,
in words that hold for figures drawn before this layout too (a report may keep those).
"""

from __future__ import annotations

import textwrap
from pathlib import Path

from .._study import Study

# A probe value's title, axis label and y scale ("auto": log when positive and spanning a decade).
LABELS = {
    "grad_norm": ("gradient norm per layer", "||dL/dW|| (L2)", "auto"),
    "ics_l2": ("internal covariate shift per layer", "||G - G'|| (L2)", "auto"),
    "ics_cos": ("gradient agreement per layer", "cos(G, G')", "linear"),
    "loss": ("training loss", "loss on the step's batch", "linear"),
    "grad_predictiveness": ("gradient predictiveness", "||g(t+1) - g(t)||", "linear"),
    "beta_smoothness": ("effective beta-smoothness", "||g(t+1) - g(t)|| / (lr ||g(t)||)", "linear"),
    "loss_range": ("loss range along the gradient", "max - min loss, steps along -g", "linear"),
    "grad_change": ("gradient change along the gradient", "max ||g(step) - g(t)||", "linear"),
}
SHORTCUTS = ("shortcut", "downsample")  # module names of residual shortcut layers
MARKERS = "osD^vPX*"
DASHES = ("-", "--", "-.", ":")
BAND = "line: the mean over a group's runs; band: their min-max, at each recorded step"
LAYERS = "each point: the layer's value averaged over the run's recorded steps"
CAPTIONS = {  # a figure kind -> what it shows, for report.md
    "curves": "Left: accuracy per epoch on the validation split (where the run holds one out; else "
    "the test set). Right: training loss, the mean over the epoch (with few epochs, the mean of every "
    "few steps).",
    "lr": "The learning rate at the last step of each epoch.",
    "bands": f"{BAND[0].upper()}{BAND[1:]}.",
    "layers": f"A line per run; {LAYERS}. A line is as long as its network has weight layers (Linear "
    "and Conv, input to output, residual shortcuts included).",
    "distributions": "A row per run, a panel per chosen layer: the 5-95 % and 25-75 % bands and the "
    "median of the layer's input values over the step's batch.",
}


def kind(name: str) -> str | None:
    """The figure kind (a `CAPTIONS` key) of a PNG this module names `name`; None for others."""
    for prefix, what in (("band-", "bands"), ("layers-", "layers"), ("distributions", "distributions")):
        if name.startswith(prefix):
            return what
    return "curves" if name.endswith("-curves.png") else "lr" if name.endswith("-lr.png") else None


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    return plt


def _save(fig, path: Path, figures: list[Path]) -> None:
    fig.savefig(path, dpi=100)
    _pyplot().close(fig)
    figures.append(path)


def slug(text: str) -> str:
    return "".join(ch if ch.isalnum() else "-" for ch in text.lower()).strip("-")


def _style(i: int, n: int) -> dict:
    """Line i of n in a panel: a colour, hollow marker and dash of its own, and the earlier a line the
    wider and bigger-marked it is: a later line with the same values is drawn inside it, both seen."""
    under = n - 1 - i  # how many lines are drawn over this one
    return {
        "color": f"C{i % 10}",
        "marker": MARKERS[i % len(MARKERS)],
        "linestyle": DASHES[i % len(DASHES)],
        "fillstyle": "none",
        "markersize": min(4 + 1.5 * under, 9),
        "linewidth": min(1 + 0.6 * under, 3),
    }


def _label(key: str) -> tuple[str, str, str]:
    return LABELS.get(key, (key.replace("_", " "), key.replace("_", " "), "linear"))


def _y_scale(ax, values: list[float], how: str) -> None:
    # A log axis spanning less than a decade has one tick label at best: linear reads better.
    if how == "auto" and values and min(values) > 0 and max(values) >= 10 * min(values):
        ax.set_yscale("log")


def _integer_x(ax, values: list[int]) -> None:
    """Whole-number ticks (epochs, steps, layers): each of a few `values`, else a whole-number locator."""
    from matplotlib.ticker import MaxNLocator

    if 0 < len(set(values)) <= 12:
        ax.set_xticks(sorted(set(values)))
    else:
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))


def _legend_below(fig, ax, columns: int = 3) -> None:
    """`ax`'s legend under the figure's panels, where it hides no data."""
    handles, labels = ax.get_legend_handles_labels()
    if labels:
        fig.legend(
            handles, labels, loc="outside lower center", ncols=min(columns, len(labels)), fontsize="small"
        )


def draw(study: Study, rows: list[dict], out: Path) -> list[Path]:
    """Draw the figures `study` names from `rows` (those with a history) into `out`; their paths."""
    plt, figures = _pyplot(), []
    trained = [r for r in rows if r.get("history")]
    tables = {t: [r for r in trained if r["table"] == t] for t in study.tables()}
    for table, members in tables.items():
        if members and "curves" in study.figures:
            _curves(plt, study, table, members, out, figures)
        if members and "lr" in study.figures:
            _lr(plt, study, table, members, out, figures)
    if "bands" in study.figures:
        figures += _bands(plt, study, groups(study, trained), out)
    if "layers" in study.figures:
        figures += _layers(plt, study, trained, out)
    if "distributions" in study.figures:
        figures += _distributions(plt, study, trained, out)
    return figures


def groups(study: Study, rows: list[dict]) -> dict[str, list[dict]]:
    """The "bands" figure's groups: each table's runs, or each row's across the tables (`bands_by`)."""
    by = "row" if study.bands_by == "row" else "table"  # row: e.g. with / without BN, each over its lrs
    return {g: [r for r in rows if r[by] == g] for g in dict.fromkeys(r[by] for r in rows)}


def _curves(plt, study: Study, table: str, members: list[dict], out: Path, figures: list[Path]) -> None:
    fig, (acc, loss) = plt.subplots(1, 2, figsize=(10, 4.4), layout="constrained")
    held_out = all(h.get("val_acc") is not None for r in members for h in r["history"])
    # Runs of few epochs kept their loss per few steps: two epoch means would be two dots.
    per_step = all(r.get("loss_curve") for r in members)
    losses = []
    for i, r in enumerate(members):
        epochs = [h["epoch"] for h in r["history"]]
        evaluated = [h["val_acc"] if held_out else h.get("test_acc") or 0.0 for h in r["history"]]
        style = _style(i, len(members))
        acc.plot(epochs, [100 * a for a in evaluated], label=r["row"], **style)
        if len(epochs) == 1:  # one dot per run: its value, written beside it, reads better
            for e, a in zip(epochs, evaluated):
                acc.annotate(f"{100 * a:.1f} %", (e, 100 * a), xytext=(6, 0), textcoords="offset points",
                             va="center", fontsize="small", color=style["color"])  # fmt: skip
        if per_step:
            x, y = zip(*r["loss_curve"])
            loss.plot(x, y, **{**style, "markevery": max(1, len(x) // 12)})
        else:
            x, y = epochs, [h["train_loss"] for h in r["history"]]
            loss.plot(x, y, **style)
        losses += list(y)
    split = "validation" if held_out else "test"
    acc.set(xlabel="epoch", ylabel=f"{split} accuracy (%)", title=f"{split} accuracy")
    if per_step:
        loss.set(xlabel="epoch (fractions: within it)", ylabel="training loss (mean of a few steps)")
    else:
        loss.set(xlabel="epoch", ylabel="training loss (epoch mean)")
    loss.set_title("training loss")
    _y_scale(loss, losses, "auto")
    last = max(h["epoch"] for r in members for h in r["history"])
    _integer_x(acc, [h["epoch"] for r in members for h in r["history"]])
    _integer_x(loss, list(range(0 if per_step else 1, last + 1)))
    fig.suptitle(f"{study.name}: {table}")
    _legend_below(fig, acc)
    _save(fig, out / f"{slug(table)}-curves.png", figures)


def _lr(plt, study: Study, table: str, members: list[dict], out: Path, figures: list[Path]) -> None:
    fig, ax = plt.subplots(figsize=(6, 4.4), layout="constrained")
    for i, r in enumerate(members):
        style = _style(i, len(members))
        ax.plot([h["epoch"] for h in r["history"]], [h["lr"] for h in r["history"]], label=r["row"], **style)
    ax.set(xlabel="epoch", ylabel="learning rate (last step of the epoch)", title=f"{study.name}: {table}")
    _integer_x(ax, [h["epoch"] for r in members for h in r["history"]])
    _legend_below(fig, ax, columns=2)
    _save(fig, out / f"{slug(table)}-lr.png", figures)


def _probe_keys(rows: list[dict], part: str) -> list[tuple[str, str]]:
    keys = {(p, k): None for r in rows for p, rec in r["probes"].items() for k in rec.get(part, {})}
    return list(keys)


def _bands(plt, study: Study, found: dict[str, list[dict]], out: Path) -> list[Path]:
    """One figure per probe series: per group, its runs' mean (line) and min-max (band) per step."""
    figures: list[Path] = []
    varies = "table" if study.bands_by == "row" else "row"  # what tells a group's runs apart
    for probe, key in _probe_keys([r for m in found.values() for r in m], "series"):
        title, axis, _ = _label(key)
        fig, ax = plt.subplots(figsize=(6.4, 4.8), layout="constrained")
        drawn: list[int] = []
        for i, (group, members) in enumerate(found.items()):
            series = [
                (r, r["probes"][probe])
                for r in members
                if key in r["probes"].get(probe, {}).get("series", {})
            ]
            n = min((len(rec["series"][key]) for _, rec in series), default=0)
            if not n:
                continue
            steps = series[0][1]["steps"][:n]
            drawn += steps
            columns = list(zip(*(rec["series"][key][:n] for _, rec in series), strict=True))
            over = ", ".join(str(r[varies]) for r, _ in series)
            ax.fill_between(
                steps,
                [min(c) for c in columns],
                [max(c) for c in columns],
                color=f"C{i}",
                alpha=0.25,
                label=f"{group}: min-max",
            )
            style = {**_style(i, i + 1), "linestyle": "-"}  # plain: the bands tell the groups apart
            ax.plot(
                steps,
                [sum(c) / len(c) for c in columns],
                label=f"{group}: mean of {len(series)} runs ({over})",
                **style,
            )
        ax.set(xlabel="training step", ylabel=axis)
        _integer_x(ax, drawn)
        ax.set_title(BAND, fontsize="small")
        fig.suptitle(f"{study.name}: {title}")
        _legend_below(fig, ax, columns=1)
        _save(fig, out / f"band-{slug(key)}.png", figures)
    return figures


def _is_shortcut(name: str) -> bool:
    return any(part in SHORTCUTS for part in name.split("."))


def _layers(plt, study: Study, rows: list[dict], out: Path) -> list[Path]:
    """One figure per per-layer probe value: a panel per table, a line per run against the layer."""
    figures: list[Path] = []
    for probe, key in _probe_keys(rows, "layers"):
        title, axis, how = _label(key)
        runs = [r for r in rows if r["probes"].get(probe, {}).get("layers", {}).get(key)]
        panels = {t: [r for r in runs if r["table"] == t] for t in dict.fromkeys(r["table"] for r in runs)}
        fig, axes = plt.subplots(
            1, len(panels), figsize=(1 + 4.6 * len(panels), 4.8), squeeze=False, layout="constrained"
        )
        for ax, (table, members) in zip(axes[0], panels.items(), strict=True):
            values = []
            for i, r in enumerate(members):
                record = r["probes"][probe]
                mean = [sum(v) / len(v) for v in zip(*record["layers"][key], strict=True)]
                values += mean
                _layer_line(ax, r["row"], mean, record.get("names", []), _style(i, len(members)))
            models = ", ".join(dict.fromkeys(r["model"] for r in members if r.get("model")))
            ax.set_title(textwrap.fill(f"{table} ({models})" if models else table, 56), fontsize="small")
            ax.set(xlabel="weight layer (input to output)", ylabel=axis)
            _integer_x(ax, [])
            _y_scale(ax, values, how)
            ax.legend(fontsize="x-small", loc="upper center", bbox_to_anchor=(0.5, -0.16), ncols=1)
        fig.suptitle(f"{study.name}: {title} ({LAYERS})", fontsize="medium")
        _save(fig, out / f"layers-{slug(key)}.png", figures)
    return figures


def _layer_line(ax, row: str, mean: list[float], names: list[str], style: dict) -> None:
    """`mean` against the layer; a residual net's shortcut layers (by name) as unjoined crosses."""
    shortcuts = {i for i, n in enumerate(names) if _is_shortcut(n)} if len(names) == len(mean) else set()
    main = [i for i in range(len(mean)) if i not in shortcuts]
    count = f"{len(mean)} layers" + (f": {len(main)} + {len(shortcuts)} shortcuts" if shortcuts else "")
    ax.plot([i + 1 for i in main], [mean[i] for i in main], label=f"{row} ({count})", **style)
    if shortcuts:
        at = sorted(shortcuts)
        ax.plot(
            [i + 1 for i in at],
            [mean[i] for i in at],
            linestyle="none",
            marker="x",
            color=style["color"],
            label=f"{row}: its shortcut layers",
        )


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
        figsize=(3.6 * len(picks), 2.4 * len(runs) + 0.6),
        sharex=True,
        sharey="col",
        squeeze=False,
        layout="constrained",
    )
    for (r, probe), row_axes in zip(runs, axes, strict=True):
        steps, values = probe["steps"], probe["quantiles"]["values"]
        for layer, ax in zip(picks, row_axes, strict=True):
            q = list(zip(*(v[layer] for v in values), strict=True))  # per quantile, a value per step
            ax.fill_between(steps, q[0], q[-1], alpha=0.2, color="C0", label="5-95 %")
            ax.fill_between(steps, q[1], q[-2], alpha=0.4, color="C0", label="25-75 %")
            ax.plot(steps, q[len(q) // 2], color="C0", label="median")
            ax.set_title(f"{r['row']}: layer {layer + 1} input", fontsize="small")
        row_axes[0].set_ylabel("input value")
    for ax in axes[-1]:
        ax.set_xlabel("training step")
        _integer_x(ax, runs[0][1]["steps"] if len(runs[0][1]["steps"]) == 1 else [])
    fig.suptitle(f"{study.name}: distribution of layer inputs during training")
    _legend_below(fig, axes[0][0])
    figures: list[Path] = []
    _save(fig, out / "distributions.png", figures)
    return figures
