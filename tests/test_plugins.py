"""The plugin system: discovery, isolation of broken plugins, name clashes, strict/disable switches."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys

import pytest
from plugin_factory import install_plugin, make_plugin

import zoo

_install = install_plugin


GOOD = """
@zoo.hookimpl
def zoo_register_models(register):
    register(spec("toynet"))
    register(spec("toynet_wide"))
"""


def test_builtin_families_come_through_the_plugin_manager(fresh_registry):
    records = {r.name: r for r in zoo.list_plugins()}
    assert records["zoo.plugins.resnet"].builtin
    assert "resnet18" in records["zoo.plugins.resnet"].models
    assert records["zoo.plugins.lenet"].distribution == "cifar-zoo"
    assert zoo.model_info("lenet5").plugin == "zoo.plugins.lenet"


def test_third_party_plugin_registers_models(tmp_path, monkeypatch, fresh_registry):
    _install(tmp_path, monkeypatch, GOOD)
    assert zoo.list_models("toy*") == ["toynet", "toynet_wide"]
    record = next(r for r in zoo.list_plugins() if r.name == "toy")
    assert (record.distribution, record.version, record.builtin) == ("zoo-toy", "1.0", False)
    assert record.models == ["toynet", "toynet_wide"]
    assert zoo.model_info("toynet").plugin == "toy"
    assert zoo.create("toynet").num_classes == 10


@pytest.mark.parametrize(
    "body, error_text",
    [
        ("raise ImportError('needs a missing package')\n", "needs a missing package"),
        ("@zoo.hookimpl\ndef zoo_register_models(register):\n    raise RuntimeError('boom')\n", "boom"),
        (
            "@zoo.hookimpl\ndef zoo_register_models(register):\n    register(spec('toynet', params=-5))\n",
            "'params' = -5",
        ),
        ("@zoo.hookimpl\ndef zoo_register_models(register):\n    register('not a spec')\n", "ModelSpec"),
    ],
    ids=["import-error", "hook-raises", "bad-spec", "not-a-spec"],
)
def test_broken_plugin_is_skipped_with_one_warning(
    tmp_path, monkeypatch, fresh_registry, caplog, body, error_text
):
    _install(tmp_path, monkeypatch, body, entry="broken", dist="zoo-broken")
    with caplog.at_level(logging.WARNING, logger="zoo"):
        names = zoo.list_models()
    assert "resnet18" in names and "lenet5" in names  # everything else keeps working
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1
    assert "'broken'" in warnings[0] and "zoo-broken" in warnings[0] and error_text in warnings[0]
    record = next(r for r in zoo.list_plugins() if r.name == "broken")
    assert record.error and error_text in record.error and record.models == []


def test_failing_plugin_leaves_no_half_registered_models(tmp_path, monkeypatch, fresh_registry):
    body = """
@zoo.hookimpl
def zoo_register_models(register):
    register(spec("halfway"))
    raise RuntimeError("failed after one model")
"""
    _install(tmp_path, monkeypatch, body)
    assert "halfway" not in zoo.list_models()


def test_strict_mode_raises(tmp_path, monkeypatch, fresh_registry):
    _install(tmp_path, monkeypatch, "raise ImportError('nope')\n", entry="broken")
    monkeypatch.setenv("ZOO_STRICT_PLUGINS", "1")
    with pytest.raises(zoo.PluginError, match="'broken'.*nope"):
        zoo.list_models()


def test_disabled_plugins_are_not_loaded(tmp_path, monkeypatch, fresh_registry, caplog):
    _install(tmp_path, monkeypatch, "raise ImportError('must not be imported')\n", entry="broken")
    monkeypatch.setenv("ZOO_DISABLE_PLUGINS", "broken, zoo.plugins.resnet")
    with caplog.at_level(logging.WARNING, logger="zoo"):
        names = zoo.list_models()
    assert not caplog.records
    assert "resnet18" not in names and "lenet5" in names
    assert {r.name for r in zoo.list_plugins() if r.disabled} == {"broken", "zoo.plugins.resnet"}


def test_second_registration_of_a_name_is_refused_naming_both_plugins(
    tmp_path, monkeypatch, fresh_registry, caplog
):
    body = """
@zoo.hookimpl
def zoo_register_models(register):
    register(spec("resnet18"))
"""
    _install(tmp_path, monkeypatch, body, entry="clash", dist="zoo-clash")
    with caplog.at_level(logging.WARNING, logger="zoo"):
        spec = zoo.model_info("resnet18")
    assert spec.plugin == "zoo.plugins.resnet"  # built-ins load first and keep the name
    (message,) = [r.getMessage() for r in caplog.records]
    assert "'resnet18'" in message and "'clash'" in message and "'zoo.plugins.resnet'" in message
    monkeypatch.setenv("ZOO_STRICT_PLUGINS", "1")
    with pytest.raises(zoo.PluginError, match="registered it first"):
        zoo._registry.reload().names()


def test_import_zoo_is_lazy():
    code = (
        "import sys, zoo; heavy = [m for m in ('torchvision', 'huggingface_hub', 'matplotlib', "
        "'zoo.plugins.resnet', 'zoo.models.resnet') if m in sys.modules]; print(heavy)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_broken_installed_plugin_leaves_cli_working(tmp_path):
    make_plugin(tmp_path, "zoo-broken", "broken", "broken_mod", "raise ImportError('no such dependency')\n")
    env = {**os.environ, "PYTHONPATH": str(tmp_path)}
    done = subprocess.run(
        [sys.executable, "-m", "zoo", "list", "--json"], capture_output=True, text=True, env=env
    )
    assert done.returncode == 0
    assert {"lenet5", "resnet18"} <= {m["name"] for m in json.loads(done.stdout)}
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "warning" in lines[0].lower() and "'broken'" in lines[0]
    assert "zoo-broken" in lines[0] and "no such dependency" in lines[0]
    env["ZOO_STRICT_PLUGINS"] = "1"
    strict = subprocess.run([sys.executable, "-m", "zoo", "list"], capture_output=True, text=True, env=env)
    assert strict.returncode == 2 and "Traceback" not in strict.stderr
