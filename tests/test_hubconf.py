"""hubconf.py: torch.hub entry points for every registered model, weights from ZOO_WEIGHTS_DIR."""

from __future__ import annotations

from pathlib import Path

import pytest
from helpers import export_to_weights_dir

torch = pytest.importorskip("torch")
pytest.importorskip("huggingface_hub")

import zoo  # noqa: E402

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
    torch.manual_seed(7)
    source = zoo.create("lenet5").eval()
    export_to_weights_dir(source, tmp_path / "weights", "lenet5-hubconf", tag="hubconf")
    monkeypatch.setenv("ZOO_WEIGHTS_DIR", str(tmp_path / "weights"))
    model = torch.hub.load(str(REPO_DIR), "lenet5", source="local", pretrained=True).eval()
    x = torch.randn(4, 3, 32, 32, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        assert torch.equal(model(x), source(x))
    fresh = torch.hub.load(str(REPO_DIR), "lenet5", source="local", num_classes=3)
    assert fresh.fc.out_features == 3
