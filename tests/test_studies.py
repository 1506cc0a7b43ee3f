"""`zoo study`: the registered studies, their smoke runs (tables, figures, probes), resume and errors."""

from __future__ import annotations

import csv
import json

import pytest
import torch
from helpers import one_error

import zoo
from zoo._study import Cell, Study, StudyError

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
BUILTIN = (
    "mlp-depth",
    "bn-accuracy",
    "hparams",
    "res9-family",
    "fast-resnet9",
    "bn-landscape",
    "ics",
    "feature-maps",
)


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
        # smoke runs are short: each row carries its per-step loss, [fractional epoch, loss] points
        assert row["loss_curve"] and all(0 < x <= row["history"][-1]["epoch"] for x, _ in row["loss_curve"])
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
    with pytest.raises(StudyError, match="bands_by 'column'"):
        Study("bands", bands_by="column")
    with pytest.raises(StudyError, match="caveats must be a tuple of non-empty strings"):
        Study("one", caveats="a string is not a tuple of them")


def test_landscape_bands_group_each_row_across_the_lrs(monkeypatch, tmp_path):
    """Santurkar et al.'s band: with BN and without BN, each the min-max over the lrs (tables)."""
    from zoo.studies import figures, get_study

    groups = {}
    monkeypatch.setattr(figures, "_bands", lambda plt, study, found, out: groups.update(found) or [])
    study = get_study("bn-landscape")
    history = [{"epoch": 1, "test_acc": 0.1, "train_loss": 2.0, "lr": 0.1}]
    rows = [
        {"cell": c.name, "table": c.table, "row": c.row, "history": history, "probes": {}}
        for c in study.cells
    ]
    figures.draw(study, rows, tmp_path)
    assert sorted(groups) == ["with BN", "without BN"]
    assert all(sorted(r["table"] for r in g) == sorted(study.tables()) for g in groups.values())


def test_mlp_depth_smoke_probes_gradient_norms_and_resumes(shared_data, tmp_path, cli):
    from zoo.studies import run

    out = tmp_path / "mlp-depth"
    result = run("mlp-depth", out, data_dir=shared_data, only=["mlp5-he"])
    check_outputs(result, ["mlp5-he"])
    assert (out / "layers-grad-norm.png").is_file() and (out / "5-layers-curves.png").is_file()
    record = result.rows[0]["probes"]["grad_norms"]
    assert len(record["layers"]["grad_norm"][0]) == len(record["names"]) == 5  # one per layer, named
    assert record["names"][-1] == "fc"
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
def test_ics_smoke_measures_every_layer_and_the_layer_input_distributions(tiny_cifar, shared_data, tmp_path):
    from zoo.studies import run

    data = tmp_path / "data"  # the tiny CIFAR-10 for VGG-A beside MNIST for the DLN
    data.mkdir()
    (data / "cifar-10-batches-py").symlink_to(tiny_cifar / "cifar-10-batches-py")
    (data / "MNIST").symlink_to(shared_data / "MNIST")
    result = run("ics", tmp_path / "s", data_dir=data)
    cells = ["sgd-lr-0p1-vgg", "sgd-lr-0p1-vgg-bn", "sgd-lr-0p1-vgg-noisy-bn", "dln", "dln-bn"]
    check_outputs(result, cells)
    rows = {r["cell"]: r for r in result.rows}
    vgg = rows["sgd-lr-0p1-vgg"]["probes"]["ics"]["layers"]
    assert len(vgg["ics_l2"][0]) == 11 and all(-1 <= c <= 1 for c in vgg["ics_cos"][0])  # 8 conv + 3 fc
    assert len(rows["dln"]["probes"]["ics"]["layers"]["ics_l2"][0]) == 22  # mlp22's Linear layers
    quantiles = rows["sgd-lr-0p1-vgg-noisy-bn"]["probes"]["activations"]["quantiles"]
    assert len(quantiles["values"][0]) == 11 and all(q == sorted(q) for q in quantiles["values"][0])
    config = json.loads((tmp_path / "s" / "runs" / "dln" / "config.json").read_text())
    assert config["config"]["model_kwargs"] == {"act": "identity", "init": "lecun"}
    for name in ("layers-ics-cos.png", "distributions.png"):
        assert (tmp_path / "s" / name).is_file()


def test_activations_probe_leaves_weights_statistics_and_random_state_as_they_were():
    from zoo.studies.probes import QUANTILES, make_probe
    from zoo.train.loop import TrainStep

    torch.manual_seed(0)
    net = zoo.create("vgg11_bn", noisy_bn=True).train()
    x, y = torch.randn(4, 3, 32, 32), torch.tensor([0, 1, 2, 3])
    loss_fn = torch.nn.CrossEntropyLoss()
    loss = loss_fn(net(x), y)
    loss.backward()
    state = {k: v.clone() for k, v in net.state_dict().items()}
    rng = torch.get_rng_state()
    probe = make_probe("activations", every=1)
    probe(TrainStep(net, x, y, loss, loss_fn, torch.optim.SGD(net.parameters(), lr=0.1), 0, 0))
    assert torch.equal(torch.get_rng_state(), rng)  # the noisy BN's draws did not move the run's RNG
    assert all(torch.equal(v, net.state_dict()[k]) for k, v in state.items())
    record = probe.to_dict()
    assert record["steps"] == [0] and record["quantiles"]["q"] == list(QUANTILES)
    first = record["quantiles"]["values"][0][0]  # the first conv's input: the image itself
    expected = torch.quantile(x.reshape(-1), torch.tensor(QUANTILES)).tolist()
    assert first == pytest.approx(expected, abs=1e-5)


@pytest.mark.slow
def test_feature_maps_draws_each_models_first_two_layers(tiny_cifar, tmp_path, cli, zoo_manifest):
    from PIL import Image

    # zoo_manifest: an empty manifest, so no published weights: fresh initialisations
    picture = tmp_path / "cat.png"
    Image.new("RGB", (50, 40), (200, 30, 30)).save(picture)
    code, stdout, _ = cli("study", "run", "feature-maps", "--out", tmp_path / "f", "--image", picture)
    assert code == 0 and stdout.count("untrained") == 3
    report = (tmp_path / "f" / "report.md").read_text()
    assert "cat.png (resized to 32x32)" in report
    assert "fast_resnet9 | untrained" in report and "27x32x32, 64x32x32" in report  # whitening, then 1x1
    assert "resnet18 | untrained" in report and "64x32x32, 64x32x32" in report
    for model in ("fast_resnet9", "resnet9", "resnet18"):
        figure = tmp_path / "f" / f"feature-maps-{model}.png"
        assert figure.read_bytes()[:8] == PNG_MAGIC and f"]({figure.name})" in report

    code, _, _ = cli(
        "study", "run", "feature-maps", "--out", tmp_path / "g", "--image", "7", "--data-dir", tiny_cifar
    )
    assert code == 0 and "test image 7" in (tmp_path / "g" / "report.md").read_text()
    code, _, err = cli(
        "study", "run", "feature-maps", "--out", tmp_path / "h", "--image", "999999", "--data-dir", tiny_cifar
    )
    assert code == 2 and "test set has images 0 to 248" in one_error(err)
    code, _, err = cli(
        "study", "run", "feature-maps", "--out", tmp_path / "i", "--image", str(tmp_path / "f" / "report.md")
    )
    assert code == 2 and "cannot be read as an image" in one_error(err)
    code, _, err = cli("study", "run", "ics", "--out", tmp_path / "j", "--image", "3")
    assert code == 2 and "--image is for studies that look at one image" in one_error(err)


def test_fast_resnet9_ladder_rungs_say_what_they_train():
    """Each rung's label names what it adds; its settings must hold whatever the `fast` recipe becomes."""
    from dataclasses import replace

    from zoo.studies import get_study
    from zoo.train.recipes import get_recipe

    cells = [c for c in get_study("fast-resnet9").cells if c.table == "10 epochs" and c.recipe == "fast"]
    trained = {c.row: replace(get_recipe("fast"), **c.options) for c in cells}
    seed_rungs = [r for row, r in trained.items() if "Page's final" not in row]
    assert len(seed_rungs) == 4 and all(r.lr == 0.4 and r.ema_momentum == 0 for r in seed_rungs)
    assert all(r.bn_lr_scale == 1 and not r.bn_weight_frozen for r in seed_rungs)
    for row, recipe in trained.items():
        assert recipe.epochs == 10 and recipe.scheduler == "onecycle" and recipe.batch_size == 512, row
    plain, smoothing, cutout, fast_net, page = trained.values()
    assert (plain.label_smoothing, plain.cutout, plain.tta) == (0.0, 0, False)
    assert (smoothing.label_smoothing, smoothing.cutout, smoothing.tta) == (0.2, 0, False)
    assert (cutout.label_smoothing, cutout.cutout, cutout.tta) == (0.2, 8, True) and fast_net == cutout
    assert page == get_recipe("fast")
