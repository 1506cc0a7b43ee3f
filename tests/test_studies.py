"""`zoo study`: the registered studies, their smoke runs (tables, figures, probes), resume and errors."""

from __future__ import annotations

import csv
import json

import pytest
from helpers import one_error

import zoo
from zoo._study import Cell, Study, StudyError

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
BUILTIN = ("mlp-depth", "bn-accuracy", "hparams", "res9-family", "fast-resnet9", "bn-landscape", "ics")


def check_outputs(result, only_cells: list[str]) -> None:
    """The report has every seed row of every table, each figure is a PNG, probes are finite."""
    from zoo.studies import get_study
    from zoo.studies.probes import all_finite

    study = get_study(result.study)
    report = result.report.read_text()
    assert "**Scale:** smoke" in report and "**Data set:**" in report and "**Device:**" in report
    for table in study.tables():
        assert f"## {table}" in report
    for cell in study.cells:  # every row, run or not, with the seed's figure beside ours
        assert f"| {cell.row} | " in report
        if cell.seed and cell.seed != "-":
            assert f"| {cell.seed} |" in report
    assert sorted(r["cell"] for r in result.rows) == sorted(only_cells)
    assert all(0 <= r["test_acc"] <= 100 for r in result.rows)
    assert result.figures and all(
        p.read_bytes()[:8] == PNG_MAGIC and p.stat().st_size > 1000 for p in result.figures
    )
    for figure in result.figures:
        assert f"]({figure.name})" in report
    with (result.out / "results.csv").open() as handle:
        assert [r["cell"] for r in csv.DictReader(handle)] == [r["cell"] for r in result.rows]
    assert json.loads((result.out / "results.json").read_text())["scale"] == "smoke"
    for row in result.rows:
        probes = study.cells[[c.name for c in study.cells].index(row["cell"])].probes
        assert sorted(row["probes"]) == sorted(probes)
        for record in row["probes"].values():
            assert record["steps"] and all_finite(record)


def test_builtin_studies_are_registered_by_a_plugin_and_listed(cli):
    from zoo.studies import list_studies

    assert {s.name for s in list_studies()} >= set(BUILTIN)
    assert zoo.registry().owner("studies", "ics") == "zoo.plugins.studies"
    code, out, _ = cli("study", "list")
    assert code == 0 and all(name in out for name in BUILTIN)
    code, out, _ = cli("study", "show", "hparams")
    assert code == 0 and "multilabel_soft_margin" in out and "90.61" in out and "scale reduced" in out


@pytest.mark.parametrize(
    "args, message",
    [
        (("show", "mlp_depth"), "unknown study 'mlp_depth'; did you mean mlp-depth?"),
        (("run", "hparam", "--out", "OUT"), "did you mean hparams?"),
        (("run", "ics", "--out", "OUT", "--scale", "huge"), "unknown scale 'huge'"),
        (("run", "ics", "--out", "OUT", "--only", "nothing"), "--only 'nothing' matches no cell"),
    ],
)
def test_bad_study_input_exits_2_with_one_line(args, message, cli, tmp_path):
    code, _, err = cli("study", *[str(tmp_path / "out") if a == "OUT" else a for a in args])
    assert code == 2 and message in one_error(err)
    assert not (tmp_path / "out").exists()


def test_a_study_checks_its_fields():
    with pytest.raises(StudyError, match="names a cell twice"):
        Study("twice", cells=(Cell("a", "lenet5"), Cell("a", "lenet5")))
    with pytest.raises(StudyError, match="unknown pie"):
        Study("pies", figures=("pie",))
    with pytest.raises(StudyError, match="cell name 'A b'"):
        Cell("A b", "lenet5")


def test_mlp_depth_smoke_probes_gradient_norms_and_resumes(shared_data, tmp_path, cli):
    from zoo.studies import run

    out = tmp_path / "mlp-depth"
    result = run("mlp-depth", out, data_dir=shared_data, only=["mlp5-he"])
    check_outputs(result, ["mlp5-he"])
    assert (out / "layers-grad-norm.png").is_file() and (out / "5-layers-curves.png").is_file()
    assert len(result.rows[0]["probes"]["grad_norms"]["layers"]["grad_norm"][0]) == 5  # one per layer
    report = result.report.read_text()
    assert "| He init | " in report and "| 97.74 |" in report and "| randn init | not run |" in report

    code, _, err = cli("study", "run", "mlp-depth", "--out", out, "--data-dir", shared_data)
    assert code == 2 and "--resume" in one_error(err)  # a used --out is refused
    done = (out / "runs" / "mlp5-he" / "result.json").stat().st_mtime_ns
    code, stdout, _ = cli(
        "study", "run", "mlp-depth", "--out", out, "--data-dir", shared_data, "--resume", "--only", "mlp5-*"
    )
    assert code == 0 and "He init" in stdout and "randn init" in stdout and "report:" in stdout
    assert (out / "runs" / "mlp5-he" / "result.json").stat().st_mtime_ns == done  # skipped, not rerun
    assert "| randn init | not run |" not in (out / "report.md").read_text()


@pytest.mark.slow
def test_bn_accuracy_smoke(tiny_cifar, tmp_path):
    from zoo.studies import run

    result = run("bn-accuracy", tmp_path / "s", data_dir=tiny_cifar, only=["SGD lr 0.1"])
    check_outputs(result, ["sgd-lr-0p1-vgg", "sgd-lr-0p1-vgg-bn"])
    assert "| without BN | " in result.report.read_text() and "| 82.8 |" in result.report.read_text()


@pytest.mark.slow
def test_hparams_smoke_trains_a_shared_baseline_once(tiny_cifar, tmp_path):
    from zoo.studies import run

    cells = ["loss-ce", "weight-decay-0p0005", "schedule-cosine"]
    result = run("hparams", tmp_path / "s", data_dir=tiny_cifar, only=cells)
    check_outputs(result, cells)
    assert sorted(p.name for p in (tmp_path / "s" / "runs").iterdir()) == ["loss-ce", "schedule-cosine"]
    assert (tmp_path / "s" / "schedule-lr.png").is_file()


@pytest.mark.slow
def test_res9_family_smoke_varies_the_stem(tiny_cifar, tmp_path):
    from zoo.studies import run

    result = run("res9-family", tmp_path / "s", data_dir=tiny_cifar, only=["model-simp_res9", "stem-7x7"])
    check_outputs(result, ["model-simp_res9", "stem-7x7"])
    config = json.loads((tmp_path / "s" / "runs" / "stem-7x7" / "config.json").read_text())
    assert config["config"]["model_kwargs"] == {"stem": "7x7"}


@pytest.mark.slow
def test_fast_resnet9_smoke(tiny_cifar, tmp_path):
    from zoo.studies import run

    result = run("fast-resnet9", tmp_path / "s", data_dir=tiny_cifar, only=["resnet9-10", "fast-resnet9-10"])
    check_outputs(result, ["resnet9-10", "fast-resnet9-10"])


@pytest.mark.slow
def test_bn_landscape_smoke_probes_smoothness_and_landscape(tiny_cifar, tmp_path):
    from zoo.studies import run

    result = run("bn-landscape", tmp_path / "s", data_dir=tiny_cifar, only=["lr-0p1-*"])
    check_outputs(result, ["lr-0p1-vgg", "lr-0p1-vgg-bn"])
    for name in ("loss", "grad-predictiveness", "beta-smoothness", "loss-range", "grad-change"):
        assert (tmp_path / "s" / f"band-{name}.png").is_file()


@pytest.mark.slow
def test_ics_smoke_measures_every_layer(tiny_cifar, tmp_path):
    from zoo.studies import run

    result = run("ics", tmp_path / "s", data_dir=tiny_cifar)
    check_outputs(result, ["sgd-lr-0p1-vgg", "sgd-lr-0p1-vgg-bn"])
    record = result.rows[0]["probes"]["ics"]["layers"]
    assert len(record["ics_l2"][0]) == 11 and all(
        -1 <= c <= 1 for c in record["ics_cos"][0]
    )  # VGG-A: 8 conv + 3 fc
    assert (tmp_path / "s" / "layers-ics-cos.png").is_file()
