"""Builds throwaway installed-looking plugins: a module plus a *.dist-info with a `zoo` entry point.

importlib.metadata finds any dist-info directory on sys.path, so a plugin can be "installed" by
putting one directory on sys.path (in-process) or PYTHONPATH (subprocess), without pip.
"""

from __future__ import annotations

import textwrap
import uuid
from pathlib import Path

GOOD_SPEC = """
import zoo
from zoo.models.lenet import lenet5

def spec(name, **changes):
    fields = dict(name=name, family="toy", builder=lenet5, params=62_006, macs=651_720,
                  paper=zoo.Paper("t", "https://example.org"), seed="test")
    fields.update(changes)
    return zoo.ModelSpec(**fields)
"""


def make_plugin(root: Path, dist: str, entry: str, module: str, body: str, version: str = "1.0") -> Path:
    """Write `module`.py with `body`, and a distribution `dist` whose entry point `entry` loads it."""
    root.mkdir(parents=True, exist_ok=True)
    (root / f"{module}.py").write_text(textwrap.dedent(GOOD_SPEC) + textwrap.dedent(body))
    info = root / f"{dist.replace('-', '_')}-{version}.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: {version}\n")
    (info / "entry_points.txt").write_text(f"[zoo]\n{entry} = {module}\n")
    return root


def install_plugin(tmp_path: Path, monkeypatch, body: str, entry: str = "toy", dist: str = "zoo-toy") -> str:
    """Make a plugin importable in this process (sys.path); returns its module name."""
    module = f"toy_{uuid.uuid4().hex[:8]}"  # a fresh module name per test defeats the import cache
    make_plugin(tmp_path, dist, entry, module, body)
    monkeypatch.syspath_prepend(str(tmp_path))
    return module


def write_weights_manifest(folder: Path, model: str, tag: str) -> Path:
    """A schema-v1 manifest in `folder` publishing `model.tag`: LeNet-5 weights (GOOD_SPEC's builder),
    shipped beside it in ``<folder>/<repo name>/model.safetensors`` as a plugin ships them."""
    import hashlib
    import json

    import torch

    import zoo
    from zoo.checkpoint import save_model
    from zoo.models.lenet import lenet5

    torch.manual_seed(0)
    repo = f"zoo-toy/{model}-{tag}"
    weights = save_model(lenet5(), folder / repo.split("/")[1], name=model)
    data = weights.read_bytes()
    entry = {
        "repo_id": repo,
        "revision": None,
        "files": [{"name": weights.name, "sha256": hashlib.sha256(data).hexdigest(), "size": len(data)}],
        "dtype": "float32",
        "dataset": "cifar10-jpeg",
        "num_classes": 10,
        "params": 62_006,
        "metrics": {"top1": 10.0},
        "recipe": "toy_recipe",
        "epochs": 0,
        "date": "2026-01-01",
        "zoo_version": zoo.__version__,
    }
    manifest = folder / "weights_manifest.json"
    manifest.write_text(json.dumps({"schema_version": 1, "models": {model: {tag: entry}}}))
    return manifest
