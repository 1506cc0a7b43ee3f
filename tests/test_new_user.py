"""The rough edges a new user hit: help, bench defaults and warnings, plots, eval without MODEL."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

import zoo
from zoo import bench

TINY = ("--repeats", "1", "--warmup", "0", "--min-time", "0.001", "--batch-size", "2", "--device", "cpu")


def test_help_groups_commands_and_shows_names_not_types(cli):
    code, out, _ = cli("--help")
    assert code == 0 and "<bool>" not in out
    panels = [out.index(f"─ {panel} ") for panel in ("Models", "Training", "Weights")]
    assert panels == sorted(panels)
    assert out.index(" list ") < out.index(" check ") < panels[1] < out.index(" train ") < panels[2]
    for command, usage in (("eval", "zoo eval [OPTIONS] [MODEL]"), ("train", "zoo train [OPTIONS] MODEL")):
        code, out, _ = cli(command, "--help")
        assert code == 0 and usage in out and "<bool>" not in out and "{" not in out.splitlines()[1]
    _, out, _ = cli("train", "--help")
    assert "zoo recipes" in out  # where a recipe-dependent default is shown


@pytest.mark.slow
def test_bench_writes_to_the_cache_by_default_never_into_a_checkout(cli, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "benchmarks" / "results").mkdir(parents=True)  # as in a zoo checkout
    code, out, err = cli("bench", "lenet5", *TINY)
    assert code == 0, err
    assert not any((tmp_path / "benchmarks" / "results").iterdir())
    [written] = (tmp_path / "zoo-cache" / "bench").iterdir()  # ZOO_CACHE_DIR (conftest)
    assert str(written) in "".join(out.split())
    assert "±" not in out and "one timed repeat" in out  # one repeat has no spread to show
    target = tmp_path / "mine.csv"
    code, out, _ = cli("bench", "lenet5", *TINY, "--csv", target)
    assert code == 0 and len(target.read_text().splitlines()) == 1 + 3


def test_bench_warns_on_a_busy_machine(cli, monkeypatch):
    monkeypatch.setattr(os, "getloadavg", lambda: (3.0 * (os.cpu_count() or 1), 0.0, 0.0))
    code, _, err = cli("bench", "lenet5", *TINY)
    (line,) = [line for line in err.splitlines() if "warning" in line]
    assert code == 0 and "the machine is busy (load average" in line and "--threads 1" in line


def test_repeats_that_disagree_are_flagged():
    result = bench.benchmark("lenet5", repeats=1, warmup=0, min_time=0.001, modes=("latency",))
    shaky = bench.BenchResult(
        **{**result.__dict__, "measurements": (bench.Measurement("latency", 1, 100.0, 35.0, 10.0, 1),)}
    )
    assert bench.spread_warnings(result) == []
    (line,) = bench.spread_warnings(shaky)
    assert "lenet5 latency: the repeats disagree by 35 %" in line


@pytest.mark.slow
def test_plots_say_what_ran_in_the_units_the_cli_prints(tiny_cifar, tmp_path, monkeypatch):
    from matplotlib.figure import Figure

    from zoo.train import train

    figures = {}

    def savefig(fig, path, **_):  # keep the figure, by the name of the file it is for
        figures[fig.get_label()] = fig
        Path(path).write_bytes(b"")

    monkeypatch.setattr(Figure, "savefig", savefig)
    run = train(
        "lenet5", recipe="fast", out=tmp_path / "run", data_dir=tiny_cifar, epochs=2, limit_train=64,
        batch_size=16, device="cpu",
    )  # fmt: skip
    identity = run.config["dataset"]["identity"]
    for fig in figures.values():
        ax = fig.axes[0]
        assert ax.get_title() == f"lenet5, recipe fast, on {identity}" and ax.get_xlabel() == "epoch"
        assert all(float(t).is_integer() for t in ax.get_xticks())
    accuracy = figures["accuracy.png"].axes[0].get_lines()[0].get_ydata()
    assert figures["accuracy.png"].axes[0].get_ylabel() == "accuracy (%)"
    assert list(accuracy) == pytest.approx([100 * row["train_acc"] for row in run.history])
    curve, *per_epoch = figures["loss.png"].axes[0].get_lines()  # few epochs: the loss of every step
    assert curve.get_label() == "train_loss (per step)" and len(curve.get_xdata()) == 2 * 4
    assert 0 < min(curve.get_xdata()) and max(curve.get_xdata()) < 2 and len(per_epoch) == 2  # train, test
    assert figures["loss.png"].axes[0].get_xlim()[0] < 0  # from the start of training, not from epoch 1
    assert figures["loss.png"].axes[0].get_yscale() == "linear"  # a loss within one decade
    (lr,) = figures["lr.png"].axes[0].get_lines()
    assert len(lr.get_xdata()) == 2 * 4  # every step of the one-cycle schedule, not every epoch
    assert max(lr.get_ydata()) > max(lr.get_ydata()[0], lr.get_ydata()[-1])  # it rises, then falls


def test_confusion_colorbar_is_labelled(tmp_path, monkeypatch):
    from matplotlib.figure import Figure

    from zoo.evaluate import EvalResult, save_confusion_png

    figures = []
    monkeypatch.setattr(Figure, "savefig", lambda fig, *a, **k: figures.append(fig))
    result = EvalResult("cifar10", 2, 50.0, 1.0, [100.0, 0.0], ["a", "b"], [[1, 0], [1, 0]], 1.0)
    save_confusion_png(result, tmp_path / "c.png")
    assert figures[0].axes[1].get_ylabel() == "test images"


def test_eval_reads_the_model_from_the_checkpoint(cli, tiny_cifar, tmp_path):
    from zoo.checkpoint import save_model

    path = save_model(zoo.create("lenet5"), tmp_path / "run" / "checkpoint", name="lenet5")
    code, out, err = cli("eval", "--checkpoint", path.parent.parent, "--data-dir", tiny_cifar, "--json")
    assert code == 0, err
    assert json.loads(out)["model"] == "lenet5"
    code, _, err = cli("eval", "--pretrained")
    assert code == 2 and "name the MODEL to evaluate" in err


@pytest.mark.slow
def test_init_from_fine_tunes_published_weights(tiny_cifar, tmp_path, monkeypatch):
    from pathlib import Path

    from zoo.train import train

    monkeypatch.setenv("ZOO_WEIGHTS_DIR", str(Path(__file__).resolve().parents[1] / "releases"))
    options = dict(data_dir=tiny_cifar, epochs=1, limit_train=32, batch_size=32, lr=1e-9, device="cpu")
    tuned = train("lenet5", out=tmp_path / "tuned", init_from="lenet5", **options)
    scratch = train("lenet5", out=tmp_path / "scratch", **options)
    assert tuned.config["config"]["init_from"] == "lenet5.cifar10-jpeg"  # the default tag, recorded
    assert tuned.final["test_acc"] > 0.5 > scratch.final["test_acc"]  # the published 73 %, barely moved


@pytest.mark.parametrize(
    "args, expected",
    [
        (("--init-from", "mlp5"), "weights of 'mlp5' do not fit 'lenet5'"),
        (("--init-from", "lenet5.nope"), "no weights tagged 'nope' for 'lenet5'"),
    ],
)
def test_bad_init_from_exits_2_before_loading(cli, tmp_path, args, expected):
    code, _, err = cli("train", "lenet5", "--out", tmp_path / "run", *args)
    assert code == 2 and expected in err and not (tmp_path / "run").exists()
    code, _, err = cli("train", "lenet5.cifar10-jpeg", "--out", tmp_path / "run")
    assert code == 2 and "add --init-from lenet5.cifar10-jpeg" in err
