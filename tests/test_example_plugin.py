"""The example third-party plugin, installed with pip from its local path, checked, then uninstalled.

It adds two models, a recipe and weights it ships, each through its hook; `zoo check` passes on it
and fails, with the values to declare, on a deliberately wrong spec of the same model.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from plugin_factory import make_plugin

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "third_party_plugin"
MODELS = {"preact_resnet18", "preact_resnet10_tiny"}
WRONG = """
from zoo_preact.model import preact_resnet18

@zoo.hookimpl
def zoo_register_models(register):
    register(spec("preact_wrong", builder=preact_resnet18, params=11_172_171, macs=2 * 555_422_720))
"""


def _run(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, *args], capture_output=True, text=True, timeout=300, env=env)


def _zoo_json(*args: str) -> object:
    done = _run("-m", "zoo", *args, "--json")
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


@pytest.mark.slow
def test_example_plugin_adds_models_a_recipe_and_weights_then_disappears(tmp_path, shared_data):
    installed = _run(
        "-m", "pip", "install", "--no-deps", "--no-build-isolation", "--no-index", "-q", str(EXAMPLE)
    )
    assert installed.returncode == 0, installed.stderr
    try:
        assert MODELS <= {m["name"] for m in _zoo_json("list")}
        (record,) = [r for r in _zoo_json("plugins") if r["name"] == "preact"]
        assert record["recipes"] == ["preact_quick"] and record["error"] is None
        assert record["weights"] == ["preact_resnet10_tiny.cifar10-jpeg"]
        check = _zoo_json("check", "preact")
        assert {m["model"] for m in check["models"]} == MODELS
        assert all(m["problems"] == [] for m in check["models"]), check
        assert _zoo_json("recipes", "preact_quick")["models"] == ["preact_resnet10_tiny"]

        # The shipped weights: found in the installed package, verified, fed as their config says.
        entry = json.loads((EXAMPLE / "src/zoo_preact/weights/weights_manifest.json").read_text())
        claimed = entry["models"]["preact_resnet10_tiny"]["cifar10-jpeg"]["metrics"]["top1"]
        env = {k: v for k, v in os.environ.items() if k != "ZOO_WEIGHTS_DIR"}
        done = _run(
            "-m", "zoo", "eval", "preact_resnet10_tiny", "--pretrained", "--data-dir",
            str(shared_data / "cifar10-jpeg"), "--limit", "1000", "--json", env=env,
        )  # fmt: skip
        assert done.returncode == 0, done.stderr
        assert abs(json.loads(done.stdout)["top1"] - claimed) < 6  # 1,000 of the 10,000 images measured

        # A deliberately wrong spec of the same model: `zoo check` fails with the values to declare.
        make_plugin(tmp_path, "zoo-wrong", "wrong", "wrong_mod", WRONG)
        done = _run("-m", "zoo", "check", "wrong", "--json", env={**os.environ, "PYTHONPATH": str(tmp_path)})
        assert done.returncode == 1, done.stderr
        problems = " ".join(json.loads(done.stdout)["models"][0]["problems"])
        assert "declare params=11_172_170" in problems and "declare macs=555_422_720" in problems
        assert "FlopCounterMode reports FLOPs" in problems
    finally:
        removed = _run("-m", "pip", "uninstall", "-y", "-q", "zoo-preact")
    assert removed.returncode == 0, removed.stderr
    assert not MODELS & {m["name"] for m in _zoo_json("list")}
