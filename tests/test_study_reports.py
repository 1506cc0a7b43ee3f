"""A study's report and figures: caveats, captions, legends that name visible lines, rewriting a
report from what a run stored (no training: the rows are made up, shaped as a run's)."""

from __future__ import annotations

import math
import shutil
from pathlib import Path

import pytest

from zoo._study import Cell, Scale, Study

DOCS = Path(__file__).resolve().parents[1] / "docs" / "studies"


def fake_rows(study: Study, layers: dict[str, list[float]] | None = None, names=None) -> list[dict]:
    """A report row per cell, as `read_cell` gives them: a 3-epoch history and probe records (per-layer
    values `layers[cell]` at 2 steps; a loss series that differs per cell)."""
    rows = []
    for i, cell in enumerate(study.cells):
        history = [
            {"epoch": e, "train_loss": 2.0 / (e + i), "val_acc": None, "test_acc": 0.1 * e, "lr": 0.1}
            for e in (1, 2, 3)
        ]
        probes = {}
        for probe in cell.probes:
            record = {"steps": [0, 5, 10], "series": {"loss": [2.3, 2.0 - 0.1 * i, 1.5 + 0.05 * i]}}
            values = (layers or {}).get(cell.name) if probe in ("grad_norms", "ics") else None
            record["layers"] = {"grad_norm": [values, values]} if values else {}
            if values and names and cell.name in names:
                record["names"] = names[cell.name]
            probes[probe] = record
        rows.append(
            {"cell": cell.name, "table": cell.table, "row": cell.row, "model": cell.model, "seed": cell.seed}
            | {"test_acc": 30.0 + i, "train_acc": 40.0, "train_s": 1.0, "model_mb": 2.0, "epoch": 3}
            | {"dataset": "mnist", "train_images": 100, "device": "cpu", "history": history, "probes": probes}
        )
    return rows


@pytest.fixture
def drawn(monkeypatch):
    """Every figure `zoo.studies.figures` draws, kept open (path name -> matplotlib Figure)."""
    from zoo.studies import figures

    kept = {}

    def keep(fig, path, paths):
        fig.canvas.draw()  # lay it out as saving would, so that extents are final
        kept[path.name] = fig
        paths.append(path)

    monkeypatch.setattr(figures, "_save", keep)
    yield kept
    figures._pyplot().close("all")


def visible_entries(fig) -> dict[str, object]:
    """Each legend entry of `fig` (figure and axes legends) -> the drawn artist it names; fails on an
    entry whose artist is hidden, empty or shares its look with another line of its panel."""
    from matplotlib.lines import Line2D

    legends = list(fig.legends) + [ax.get_legend() for ax in fig.axes if ax.get_legend()]
    artists = {}
    for ax in fig.axes:
        for artist in ax.lines + ax.collections:
            if not artist.get_label().startswith("_"):
                artists[artist.get_label()] = (ax, artist)
    found = {}
    for legend in legends:
        for text in legend.get_texts():
            label = text.get_text()
            assert label in artists, f"legend entry {label!r} names nothing drawn"
            ax, artist = artists[label]
            assert artist.get_visible() and (artist.get_alpha() is None or artist.get_alpha() > 0)
            if isinstance(artist, Line2D):
                ys = [y for y in artist.get_ydata() if math.isfinite(y)]
                assert ys, f"{label!r} has no finite point"
                assert artist.get_linestyle() != "None" or artist.get_marker() not in ("None", "", None)
            found[label] = artist
    for ax in fig.axes:  # within a panel, no two lines look alike
        looks = [
            (line.get_color(), line.get_marker(), line.get_linestyle(), line.get_linewidth())
            for line in ax.lines
        ]
        assert len(set(looks)) == len(looks), f"lines of {ax.get_title()!r} share a look"
    return found


def test_each_report_carries_its_studys_and_its_scales_caveats():
    from zoo.studies import list_studies, report

    study = Study(
        "careful",
        cells=(Cell("a", "mlp5"),),
        caveats=("read A with care",),
        scales={"reduced": Scale({"epochs": 1}, caveats=("B, at this scale only",))},
    )
    rows = fake_rows(study)
    text = report.markdown(study, "reduced", study.scales["reduced"], rows, [])
    assert "## Caveats\n\n- read A with care\n- B, at this scale only\n" in text
    assert text.index("## Caveats") < text.index("## results")  # read before the tables
    smoke = report.markdown(study, "smoke", study.scales["smoke"], rows, [])
    assert "read A with care" in smoke and "B, at this scale only" not in smoke
    plain = Study("plain", cells=(Cell("a", "mlp5"),))
    assert "## Caveats" not in report.markdown(plain, "smoke", plain.scales["smoke"], rows, [])
    # the built-in studies declare theirs, and each lands in its report
    declared = [(s, name) for s in list_studies() for name in s.scales if s.caveats or s.scales[name].caveats]
    assert {s.name for s, _ in declared} >= {"mlp-depth", "bn-landscape", "ics", "bn-accuracy"}
    for found, scale in declared:
        text = report.markdown(found, scale, found.scales[scale], fake_rows(found), [])
        assert all(f"- {c}" in text for c in (*found.caveats, *found.scales[scale].caveats))


def test_a_layer_figure_shows_every_run_it_lists_in_a_panel_per_table(drawn, tmp_path):
    import zoo
    from zoo.studies import figures, get_study
    from zoo.studies.probes import weight_names

    study = get_study("mlp-depth")
    names = {"mlp41-res": weight_names(zoo.create("mlp41_res"))}
    depth = {c.name: len(weight_names(zoo.create(c.model))) for c in study.cells if c.name != "mlp41-res"}
    layers = {name: [10.0 / (k + 1) for k in range(n)] for name, n in depth.items()}
    layers["mlp41-bn-decay"] = list(layers["mlp41-bn"])  # equal values: both lines must still show
    layers["mlp41-res"] = [1.0 + (k % 3) for k in range(len(names["mlp41-res"]))]
    figures.draw(study, fake_rows(study, layers, names), tmp_path)

    fig = drawn["layers-grad-norm.png"]
    assert [ax.get_title().split(" (")[0] for ax in fig.axes] == study.tables()  # a panel per table
    entries = visible_entries(fig)
    rows = {c.row for c in study.cells}
    assert {label.split(" (")[0] for label in entries if ": its" not in label} == rows
    bn, decay = (entries[f"{row} ({depth['mlp41-bn']} layers)"] for row in ("+ BN", "+ BN + lr decay"))
    assert list(bn.get_ydata()) == list(decay.get_ydata())
    assert bn.get_linewidth() > decay.get_linewidth() and bn.get_markersize() > decay.get_markersize()
    shortcuts = sum(".shortcut" in n for n in names["mlp41-res"])
    residual = next(label for label in entries if label.startswith("residual ("))
    main = len(names["mlp41-res"]) - shortcuts
    assert residual == f"residual ({len(names['mlp41-res'])} layers: {main} + {shortcuts} shortcuts)"
    assert len(entries["residual: its shortcut layers"].get_xdata()) == shortcuts > 0
    assert len(entries[residual].get_xdata()) == main


def test_per_layer_figures_keep_legends_off_the_data_and_titles_plain(drawn, tmp_path):
    from zoo.studies import figures, get_study

    study = get_study("ics")
    sizes = {"SGD lr 0.1": 11, study.tables()[1]: 22}
    layers = {
        c.name: [100.0 * (c.table == "SGD lr 0.1") + k for k in range(sizes[c.table])] for c in study.cells
    }
    figures.draw(study, fake_rows(study, layers), tmp_path)
    for name, fig in drawn.items():
        title = fig.get_suptitle() or fig.axes[0].get_title()
        what = title.split(": ", 1)[-1]
        assert study.name not in what.split(), f"{name}: {title!r} repeats the study's name"
        visible_entries(fig)
        renderer = fig.canvas.get_renderer()
        for legend in fig.legends + [ax.get_legend() for ax in fig.axes if ax.get_legend()]:
            box = legend.get_window_extent(renderer)
            for ax in fig.axes:
                assert not box.overlaps(ax.get_window_extent(renderer)), f"{name}: a legend covers data"
    fig = drawn["layers-grad-norm.png"]
    assert len(fig.axes) == 2  # VGG-A and the deep linear net on axes of their own scales
    assert fig.axes[0].get_ylim()[1] > 100 > fig.axes[1].get_ylim()[1]


def test_band_figures_say_what_the_line_and_the_band_are(drawn, tmp_path):
    from zoo.studies import figures, get_study, report

    study = get_study("bn-landscape")
    rows = fake_rows(study)
    for row in rows:  # the landscape probes' series, named as the probes name them
        row["probes"] = {"smoothness": {"steps": [0, 3], "series": {"loss": [2.3, 2.0]}, "layers": {}}}
    figures.draw(study, rows, tmp_path)
    fig = drawn["band-loss.png"]
    subtitle = fig.axes[0].get_title()
    assert "mean" in subtitle and "min-max" in subtitle
    entries = visible_entries(fig)
    lrs = ", ".join(study.tables())
    for group in ("without BN", "with BN"):
        assert f"{group}: min-max" in entries
        assert f"{group}: mean of {len(study.tables())} runs ({lrs})" in entries
    caption = report.caption(study, rows, "band-loss.png")
    assert "mean" in caption and "min-max" in caption and f"with BN: {lrs}" in caption


def test_curves_of_a_one_epoch_run_show_its_loss_per_few_steps_and_its_accuracy_values(drawn, tmp_path):
    from zoo.studies import figures, get_study

    study = get_study("bn-landscape")
    rows = fake_rows(study)
    for i, row in enumerate(rows):
        row["history"] = row["history"][:1]  # one epoch: its mean would be a single dot
        row["loss_curve"] = [[(k + 0.5) / 20, 2.3 - 0.02 * k - 0.01 * i] for k in range(20)]
    figures.draw(study, rows, tmp_path)
    table = study.tables()[0]
    fig = drawn[f"{figures.slug(table)}-curves.png"]
    visible_entries(fig)
    acc, loss = fig.axes
    members = [r for r in rows if r["table"] == table]
    assert [len(line.get_xdata()) for line in loss.get_lines()] == [20] * len(members)
    assert "few steps" in loss.get_ylabel() and 0 in loss.get_xticks()
    assert sorted(t.get_text() for t in acc.texts) == sorted(
        f"{100 * r['history'][0]['test_acc']:.1f} %" for r in members
    )
    for row in rows:  # a run that kept no per-step loss: the epoch means, as before
        row["loss_curve"] = []
    drawn.clear()
    figures.draw(study, rows, tmp_path)
    _, loss = drawn[f"{figures.slug(table)}-curves.png"].axes
    assert [len(line.get_xdata()) for line in loss.get_lines()] == [1] * len(members)
    assert loss.get_ylabel() == "training loss (epoch mean)"


def test_rewrite_redraws_a_report_from_results_json(tmp_path):
    from zoo.studies import get_study, report, rewrite

    study = get_study("mlp-depth")
    rows = fake_rows(study, {c.name: [1.0, 2.0] for c in study.cells})
    first, drawn = report.write(study, "reduced", study.scales["reduced"], rows, tmp_path)
    text = first.read_text()
    for path in (*drawn, first):
        path.unlink()
    again, redrawn = rewrite(tmp_path)
    assert again.read_text() == text and [p.name for p in redrawn] == [p.name for p in drawn]
    assert all(p.is_file() for p in redrawn)


@pytest.mark.parametrize("name", sorted(p.parent.name for p in DOCS.glob("*/results.csv")))
def test_rewrite_from_results_csv_keeps_the_figures_and_adds_the_caveats(name, tmp_path):
    """The committed reports hold results.csv and PNGs only: rewriting keeps each number and figure."""
    from zoo.studies import get_study, rewrite

    for path in (DOCS / name).iterdir():
        shutil.copy(path, tmp_path / path.name)
    before = {p.name: p.read_bytes() for p in tmp_path.glob("*.png")}
    old = (tmp_path / "report.md").read_text()
    scale = old.split("**Scale:** ", 1)[1].split(" ", 1)[0]
    path, figures = rewrite(tmp_path, name, scale)
    text = path.read_text()
    study = get_study(name)
    assert all(f"- {c}" in text for c in (*study.caveats, *study.scales[scale].caveats))
    assert sorted(p.name for p in figures) == sorted(before)  # every figure kept, none redrawn
    assert {p.name: p.read_bytes() for p in tmp_path.glob("*.png")} == before
    for pick in (lambda line: line.startswith("| "), lambda line: line.startswith("![")):
        assert [line for line in old.splitlines() if pick(line)] == [
            line for line in text.splitlines() if pick(line)
        ]
    if any(p.startswith("band-") for p in before):
        assert "min-max" in text  # the bands' caption


def test_zoo_study_report_redraws_a_copied_study_folder(tmp_path, cli):
    folder = tmp_path / "bn-accuracy"
    shutil.copytree(DOCS / "bn-accuracy", folder)
    for png in folder.glob("*.png"):
        png.unlink()
    code, out, err = cli("study", "report", folder)
    assert code == 0, err
    assert "report:" in out and sorted(p.name for p in folder.glob("*.png")) == sorted(
        p.name for p in (DOCS / "bn-accuracy").glob("*.png")
    )
    code, _, err = cli("study", "report", tmp_path / "nowhere")
    assert code == 2 and "is not a folder" in err and "Traceback" not in err


def test_rewrite_needs_to_know_the_study_and_scale(tmp_path):
    from zoo.studies import rewrite
    from zoo.studies.report import ReportError

    (tmp_path / "results.csv").write_text("cell\n")
    with pytest.raises(ReportError, match="records no study or scale"):
        rewrite(tmp_path)
    with pytest.raises(ReportError, match="no 'huge' scale"):
        rewrite(tmp_path, "ics", "huge")
