"""The recipe, weights and study hooks; figures a build contradicts; `zoo check`; plugins that exit."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys

import pytest
from plugin_factory import install_plugin, make_plugin, write_weights_manifest

import zoo
from zoo._registry import registry

RECIPE = """
TOY_RECIPE = zoo.Recipe(name="toy_recipe", source="a test", claim="nothing", epochs=1, lr=0.01)

@zoo.hookimpl
def zoo_register_models(register):
    register(spec("toynet", recipe="toy_recipe"))

@zoo.hookimpl
def zoo_register_recipes(register):
    register(TOY_RECIPE)
"""


def _warnings(caplog) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]


def test_plugin_recipe_is_listed_and_is_its_models_default(tmp_path, monkeypatch, fresh_registry, cli):
    from zoo.train import TrainOptions
    from zoo.train.config import resolve_config
    from zoo.train.recipes import get_recipe, list_recipes

    install_plugin(tmp_path, monkeypatch, RECIPE)
    assert {"fast", "mlp", "seed200", "toy_recipe"} <= set(list_recipes())
    assert get_recipe("toy_recipe").lr == 0.01 and registry().owner("recipes", "toy_recipe") == "toy"
    assert registry().owner("recipes", "seed200") == "zoo.plugins.recipes"  # built-ins: the same hook
    assert resolve_config("toynet", None, TrainOptions()).recipe.name == "toy_recipe"
    code, out, _ = cli("recipes", "--json")
    rows = {r["name"]: r for r in json.loads(out)}
    assert code == 0 and rows["toy_recipe"]["plugin"] == "toy" and rows["toy_recipe"]["models"] == ["toynet"]
    assert rows["mlp"]["models"][:1] == ["mlp22"] and rows["fast"]["models"] == ["fast_resnet9"]
    code, out, _ = cli("recipes", "toy_recipe")
    assert code == 0 and "a test" in out and "toynet" in out and "label_smoothing" in out
    code, _, err = cli("recipes", "fats")
    assert code == 2 and "did you mean fast" in err


@pytest.mark.parametrize(
    "recipe, error_text",
    [
        ('zoo.Recipe(name="bad", source="s", claim="c", lr=-1.0)', "recipe 'bad': lr = -1.0"),
        ('zoo.Recipe(name="Bad Name", source="s", claim="c")', "recipe name 'Bad Name'"),
        (
            'zoo.Recipe(name="fast", source="s", claim="c")',
            "plugin 'zoo.plugins.recipes' registered it first",
        ),
        ("'not a recipe'", "takes a zoo.Recipe"),
    ],
    ids=["unusable-value", "bad-name", "clash", "not-a-recipe"],
)
def test_bad_recipe_skips_the_whole_plugin(tmp_path, monkeypatch, fresh_registry, caplog, recipe, error_text):
    body = RECIPE.replace("register(TOY_RECIPE)", f"register({recipe})")
    install_plugin(tmp_path, monkeypatch, body)
    with caplog.at_level(logging.WARNING, logger="zoo"):
        assert "toynet" not in zoo.list_models()  # its model goes too: a plugin is all or nothing
    (warning,) = _warnings(caplog)
    assert "'toy'" in warning and error_text in warning
    assert registry().recipes()["fast"].epochs == 10


WEIGHTS = """
from pathlib import Path

@zoo.hookimpl
def zoo_register_models(register):
    register(spec("toynet"))

@zoo.hookimpl
def zoo_register_weights(register):
    register(Path(__file__).parent / "published" / "weights_manifest.json")
"""


def test_plugin_weights_load_from_the_plugin_folder(tmp_path, monkeypatch, fresh_registry, zoo_manifest, cli):
    write_weights_manifest(tmp_path / "published", "toynet", "cifar10-jpeg")
    install_plugin(tmp_path, monkeypatch, WEIGHTS)
    assert zoo.weight_tags("toynet") == ["cifar10-jpeg"] and zoo.list_models(pretrained=True) == ["toynet"]
    record = next(r for r in zoo.list_plugins() if r.name == "toy")
    assert record.weights == ["toynet.cifar10-jpeg"] and record.models == ["toynet"]
    model = zoo.create("toynet", pretrained=True)  # no ZOO_WEIGHTS_DIR, no Hub: the plugin's own file
    assert model.pretrained_cfg["tag"] == "cifar10-jpeg"
    assert zoo.data_config(model) == {
        "input_size": (3, 32, 32),
        "mean": model.pretrained_cfg["mean"],
        "std": model.pretrained_cfg["std"],
        "dataset": "cifar10-jpeg",
    }
    code, out, _ = cli("info", "toynet.cifar10-jpeg", "--json")
    details = json.loads(out)["weights_entry"]
    assert code == 0 and details["recipe"] == "toy_recipe" and details["metrics"] == "top1 10.00 %"


def test_plugin_weights_with_a_bad_checksum_are_refused(tmp_path, monkeypatch, fresh_registry, zoo_manifest):
    manifest = write_weights_manifest(tmp_path / "published", "toynet", "cifar10-jpeg")
    data = json.loads(manifest.read_text())
    data["models"]["toynet"]["cifar10-jpeg"]["files"][0]["sha256"] = "0" * 64
    manifest.write_text(json.dumps(data))
    install_plugin(tmp_path, monkeypatch, WEIGHTS)
    shipped = tmp_path / "published" / "toynet-cifar10-jpeg" / "model.safetensors"
    with pytest.raises(zoo.hub.ChecksumMismatchError, match="left .* untouched"):
        zoo.create("toynet", pretrained=True)
    assert shipped.is_file()  # a plugin's own file is never moved


def test_plugin_manifest_is_validated_like_the_shipped_one(tmp_path, monkeypatch, fresh_registry, caplog):
    manifest = write_weights_manifest(tmp_path / "published", "toynet", "cifar10-jpeg")
    manifest.write_text(manifest.read_text().replace('"revision": null', '"revision": "main"'))
    install_plugin(tmp_path, monkeypatch, WEIGHTS)
    with caplog.at_level(logging.WARNING, logger="zoo"):
        assert "toynet" not in zoo.list_models()
    (warning,) = _warnings(caplog)
    assert "'toy'" in warning and "entry 'toynet.cifar10-jpeg': field 'revision'" in warning


def test_plugin_may_not_replace_a_shipped_tag(tmp_path, monkeypatch, fresh_registry, caplog):
    write_weights_manifest(tmp_path / "published", "lenet5", "cifar10-jpeg")
    install_plugin(tmp_path, monkeypatch, WEIGHTS.replace('register(spec("toynet"))', "pass"))
    shipped = zoo.weights.manifest.load_base_manifest()["lenet5"]["cifar10-jpeg"]
    with caplog.at_level(logging.WARNING, logger="zoo"):
        assert zoo.weights.weights_entry("lenet5", "cifar10-jpeg") == shipped
    (warning,) = _warnings(caplog)
    assert "'lenet5.cifar10-jpeg'" in warning and "'toy'" in warning and "publishes them already" in warning


def test_plugin_registers_a_study(tmp_path, monkeypatch, fresh_registry, caplog):
    body = """
@zoo.hookimpl
def zoo_register_studies(register):
    register(zoo.Study("toy_study", description="compares nothing"))
"""
    install_plugin(tmp_path, monkeypatch, body)
    assert registry().studies()["toy_study"].description == "compares nothing"
    assert next(r for r in zoo.list_plugins() if r.name == "toy").studies == ["toy_study"]
    with pytest.raises(zoo.ZooError, match="study name 'Bad'"):
        zoo.Study("Bad")


WRONG = """
@zoo.hookimpl
def zoo_register_models(register):
    register(spec("toynet", params=123, macs=2 * 651_720))
"""


def test_figures_a_build_contradicts_are_never_shown(tmp_path, monkeypatch, fresh_registry, caplog, cli):
    install_plugin(tmp_path, monkeypatch, WRONG)
    with caplog.at_level(logging.WARNING, logger="zoo"):
        spec = zoo.model_info("toynet")
        zoo.create("toynet")
        code, out, _ = cli("info", "toynet", "--json")
        _, listed, _ = cli("list", "toy*", "--json")
    assert (spec.params, spec.macs) == (62_006, 651_720)
    assert code == 0 and json.loads(out)["params"] == 62_006 and json.loads(listed)[0]["macs"] == 651_720
    (warning,) = _warnings(caplog)  # once, naming the plugin, the figures and what to declare
    assert "'toynet' from plugin 'toy'" in warning and "declared 123" in warning
    assert "declare params=62_006" in warning and "FLOPs" in warning
    assert registry().declared("toynet").params == 123  # what `zoo check` holds to the build
    monkeypatch.setenv("ZOO_STRICT_PLUGINS", "1")
    zoo._registry.reload()
    with pytest.raises(zoo.PluginError, match="declared 123"):
        zoo.model_info("toynet")


def test_create_checks_params_of_a_builder_the_meta_device_cannot_run(
    tmp_path, monkeypatch, fresh_registry, caplog
):
    body = """
def odd(num_classes=10):
    import torch
    model = lenet5(num_classes=num_classes)
    torch.ones(1, device=model.fc.weight.device).item()  # no value on the meta device
    return model

@zoo.hookimpl
def zoo_register_models(register):
    register(spec("toynet", builder=odd, params=123))
"""
    install_plugin(tmp_path, monkeypatch, body)
    with caplog.at_level(logging.WARNING, logger="zoo"):
        assert zoo.model_info("toynet").params == 123  # not built yet: nothing contradicts it
        zoo.create("toynet", num_classes=5)  # not the spec's configuration: no verdict
        assert not _warnings(caplog)
        zoo.create("toynet")
    assert zoo.model_info("toynet").params == 62_006 and "declared 123" in _warnings(caplog)[0]


def test_zoo_check_reports_what_to_declare(tmp_path, monkeypatch, fresh_registry, cli):
    both = WRONG.replace("macs=2 * 651_720))", 'macs=2 * 651_720))\n    register(spec("toynet_ok"))')
    install_plugin(tmp_path, monkeypatch, both)
    code, out, _ = cli("check", "toy", "--json")
    rows = {r["model"]: r for r in json.loads(out)["models"]}
    assert code == 1 and rows["toynet_ok"]["problems"] == []
    assert rows["toynet"]["measured"] == {"params": 62_006, "macs": 651_720}
    problems = " ".join(rows["toynet"]["problems"])
    assert "declare params=62_006" in problems and "declare macs=651_720" in problems
    code, out, _ = cli("check", "toynet_ok")
    assert code == 0 and "ok" in out
    code, _, err = cli("check", "toynett")
    assert code == 2 and "did you mean model toynet?" in err


def test_zoo_check_without_a_third_party_plugin_says_what_to_name(fresh_registry, cli):
    code, _, err = cli("check")
    assert code == 2 and "name a PLUGIN or MODEL" in err


def test_plugin_calling_sys_exit_is_isolated(tmp_path):
    make_plugin(tmp_path, "zoo-exits", "exits", "exits_mod", "import sys\nsys.exit(3)\n")
    env = {**os.environ, "PYTHONPATH": str(tmp_path)}
    done = subprocess.run(
        [sys.executable, "-m", "zoo", "list", "--json"], capture_output=True, text=True, env=env
    )
    assert done.returncode == 0 and "lenet5" in {m["name"] for m in json.loads(done.stdout)}
    (line,) = done.stderr.strip().splitlines()
    assert "'exits'" in line and "SystemExit: 3" in line


def test_hook_calling_sys_exit_is_isolated(tmp_path, monkeypatch, fresh_registry, caplog):
    body = "import sys\n\n@zoo.hookimpl\ndef zoo_register_recipes(register):\n    sys.exit('bye')\n"
    install_plugin(tmp_path, monkeypatch, body)
    with caplog.at_level(logging.WARNING, logger="zoo"):
        assert "lenet5" in zoo.list_models()
    assert "SystemExit: bye" in _warnings(caplog)[0]


def test_data_config_of_a_name_and_of_a_foreign_module():
    from torch import nn

    assert zoo.data_config("mlp5")["input_size"] == (1, 28, 28)
    assert zoo.data_config("mlp5")["dataset"] == "mnist"
    assert zoo.create("lenet5").pretrained_cfg["tag"] is None
    with pytest.raises(zoo.ZooError, match="not built by zoo.create"):
        zoo.data_config(nn.Linear(2, 2))


def test_submodules_load_on_first_access():
    code = (
        "import sys, zoo; before = 'torch' in sys.modules; loader = zoo.data.load_dataset; "
        "print(before, callable(loader), zoo.train.list_recipes is not None)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["False", "True", "True"]
