"""The CLI over the library: output shapes, exit codes, one-line errors."""

from __future__ import annotations

import dataclasses
import json

import pytest

import zoo


def test_list_json_has_exact_counts(cli):
    code, out, _ = cli("list", "--json")
    assert code == 0
    rows = {r["name"]: r for r in json.loads(out)}
    assert rows["lenet5"]["params"] == 62_006
    assert rows["resnet18"]["params"] == 11_173_962
    assert set(rows) == set(zoo.list_models())
    assert rows["resnet18"]["input_size"] == [3, 32, 32]
    assert rows["lenet5"]["weights"] == ["cifar10-jpeg"]
    no_weights = zoo.list_models(pretrained=False)[0]
    assert rows[no_weights]["weights"] == []


def test_list_table_pattern_and_family(cli):
    code, out, _ = cli("list", "res*")
    assert code == 0 and "resnet18" in out and "lenet5" not in out
    code, out, _ = cli("list", "--family", "lenet", "--json")
    assert [r["name"] for r in json.loads(out)] == ["lenet5"]


def test_info_json_and_table(cli):
    code, out, _ = cli("info", "resnet18", "--json")
    info = json.loads(out)
    assert code == 0 and info["params"] == 11_173_962 and info["plugin"] == "zoo.plugins.resnet"
    assert info["paper"]["url"] == "https://arxiv.org/abs/1512.03385"
    code, out, _ = cli("info", "lenet5")
    assert code == 0 and "62,006" in out


def test_plugins_json(cli):
    code, out, _ = cli("plugins", "--json")
    records = {r["name"]: r for r in json.loads(out)}
    assert code == 0 and "lenet5" in records["zoo.plugins.lenet"]["models"]
    assert records["zoo.plugins.lenet"]["error"] is None


def test_version(cli):
    code, out, _ = cli("--version")
    assert code == 0 and out.strip() == f"zoo {zoo.__version__}"


@pytest.mark.parametrize(
    "args, expected",
    [
        (("info", "resnet19"), "did you mean resnet18"),
        (("list", "--bogus"), "No such option: --bogus"),
        (("lst",), "Did you mean 'list'?"),
        (("list", "--family", "nope"), "unknown family 'nope'"),
        (("info",), "Missing argument"),
    ],
)
def test_bad_input_exits_2_with_one_line(cli, args, expected):
    code, out, err = cli(*args)
    assert code == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1 and expected in lines[0] and lines[0].startswith("zoo: error:")
    assert "Traceback" not in err + out


def test_zoo_train_flags_are_the_options_table():
    # zoo.train.options.COMMAND_LINE is what `zoo campaign` builds command lines from: one table.
    import typer

    from zoo.cli import app
    from zoo.train.options import COMMAND_LINE, NEGATABLE, TrainOptions, flag

    command = typer.main.get_command(app).commands["train"]
    options = {p.name: p for p in command.params if p.param_type_name == "option"}
    own = {"out", "recipe", "resume"}  # the run's folder and recipe
    assert set(options) - own == set(COMMAND_LINE)
    recipe_fields = {f.name for f in dataclasses.fields(zoo.Recipe)} - {"name", "source", "claim"}
    assert recipe_fields <= set(COMMAND_LINE)  # every hyper-parameter of a recipe can be set from the shell
    for name in COMMAND_LINE:
        param = options[name]
        assert flag(name, 1)[0] in param.opts and name in {
            f.name for f in TrainOptions.__dataclass_fields__.values()
        }
        if name in NEGATABLE:
            assert flag(name, False) == param.secondary_opts


def test_every_flag_of_every_command_reads_as_a_flag(cli):
    import typer

    from zoo.cli import app

    def commands(group, path):
        for name, command in group.commands.items():
            yield [*path, name]
            if hasattr(command, "commands"):
                yield from commands(command, [*path, name])

    for path in commands(typer.main.get_command(app), []):
        code, out, _ = cli(*path, "--help")
        assert code == 0 and "<bool>" not in out, f"zoo {' '.join(path)} --help shows a flag as <bool>"


def test_zoo_check_names_plugins_and_models_alike(cli):
    code, out, _ = cli("check", "lenet", "--json")  # a built-in plugin by its short name
    assert code == 0 and [row["model"] for row in json.loads(out)["models"]] == ["lenet5"]
    code, _, err = cli("check", "zoo.plugins.vggg")
    assert code == 2 and "did you mean plugin zoo.plugins.vgg?" in err and "`zoo plugins`" in err
    code, _, err = cli("check", "resnt18")
    assert code == 2 and "did you mean model resnet18?" in err


def test_zoo_train_recipe_flags_reach_the_run(cli, tiny_cifar, tmp_path):
    # the flags generated from the options table set the run's recipe (config.json records it)
    out = tmp_path / "run"
    code, _, err = cli(
        "train", "lenet5", "--out", out, "--data-dir", tiny_cifar, "--epochs", "1", "--limit-train", "64",
        "--limit-test", "32", "--batch-size", "32", "--cutout", "4", "--no-flip", "--ema-momentum", "0.5",
        "--ema-every", "2", "--bn-lr-scale", "8", "--onecycle-hold", "0.1", "--scheduler", "onecycle",
    )  # fmt: skip
    assert code == 0, err
    recipe = json.loads((out / "config.json").read_text())["config"]["recipe"]
    given = {"cutout": 4, "flip": False, "ema_momentum": 0.5, "ema_every": 2, "bn_lr_scale": 8.0}
    assert {k: recipe[k] for k in given} == given
    assert (recipe["onecycle_hold"], recipe["scheduler"]) == (0.1, "onecycle")
