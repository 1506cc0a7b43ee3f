"""hubconf.py: torch.hub entry points for every registered model, weights from ZOO_WEIGHTS_DIR."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("huggingface_hub")

import zoo  # noqa: E402
from zoo._manifest import write_entry  # noqa: E402

REPO_DIR = Path(__file__).resolve().parents[1]


def _hubconf():
    import importlib.util

    spec = importlib.util.spec_from_file_location("hubconf", REPO_DIR / "hubconf.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_every_registered_model_is_an_entry_point():
    module = _hubconf()
    # What torch.hub.list does with a downloaded repo's hubconf (it takes no local path).
    entries = [name for name in dir(module) if callable(getattr(module, name)) and not name.startswith("_")]
    assert sorted(entries) == zoo.list_models()
    assert module.dependencies == ["torch", "safetensors"]
    assert "params" in module.lenet5.__doc__ and module.lenet5.__name__ == "lenet5"


def test_unknown_entry_point_is_refused():
    with pytest.raises(RuntimeError, match="Cannot find callable"):
        torch.hub.load(str(REPO_DIR), "no_such_model", source="local")


def test_load_with_weights_from_zoo_weights_dir(zoo_manifest, tmp_path, monkeypatch):
    from huggingface_hub import save_torch_state_dict

    torch.manual_seed(7)
    source = zoo.create("lenet5").eval()
    folder = tmp_path / "weights" / "lenet5-hubconf"
    folder.mkdir(parents=True)
    save_torch_state_dict(source.state_dict(), folder)
    data = (folder / "model.safetensors").read_bytes()
    write_entry(
        "lenet5",
        "hubconf",
        {
            "repo_id": "zoo-test/lenet5-hubconf",
            "revision": "b" * 40,
            "dtype": "float32",
            "dataset": "cifar10",
            "files": [
                {"name": "model.safetensors", "sha256": hashlib.sha256(data).hexdigest(), "size": len(data)}
            ],
            "num_classes": 10,
            "params": 62_006,
            "metrics": {"top1": 50.0},
            "date": "2025-01-01",
            "zoo_version": "0.1.0",
        },
    )
    monkeypatch.setenv("ZOO_WEIGHTS_DIR", str(tmp_path / "weights"))
    model = torch.hub.load(str(REPO_DIR), "lenet5", source="local", pretrained=True).eval()
    x = torch.randn(4, 3, 32, 32, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        assert torch.equal(model(x), source(x))
    fresh = torch.hub.load(str(REPO_DIR), "lenet5", source="local", num_classes=3)
    assert fresh.fc.out_features == 3
