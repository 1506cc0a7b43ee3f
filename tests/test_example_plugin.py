"""The example third-party plugin, installed with pip from its local path, then uninstalled."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "third_party_plugin"


def _run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, *args], capture_output=True, text=True, timeout=300)


def _listed() -> set[str]:
    done = _run("-m", "zoo", "list", "--json")
    assert done.returncode == 0, done.stderr
    return {m["name"] for m in json.loads(done.stdout)}


@pytest.mark.slow
def test_example_plugin_appears_and_disappears(tmp_path):
    installed = _run(
        "-m", "pip", "install", "--no-deps", "--no-build-isolation", "--no-index", "-q", str(EXAMPLE)
    )
    assert installed.returncode == 0, installed.stderr
    try:
        assert "preact_resnet18" in _listed()
        check = _run(
            "-c",
            "import torch, zoo; from zoo._measure import count_params;"
            "m = zoo.create('preact_resnet18', num_classes=4).eval();"
            "s = zoo.model_info('preact_resnet18');"
            "print(tuple(m(torch.zeros(2, 3, 32, 32)).shape),"
            " count_params(zoo.create('preact_resnet18')) == s.params, s.plugin)",
        )
        assert check.returncode == 0, check.stderr
        assert check.stdout.split() == ["(2,", "4)", "True", "preact"]
    finally:
        removed = _run("-m", "pip", "uninstall", "-y", "-q", "zoo-preact")
    assert removed.returncode == 0, removed.stderr
    assert "preact_resnet18" not in _listed()
