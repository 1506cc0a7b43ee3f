"""Exported releases: export -> ZOO_WEIGHTS_DIR -> push_folder, and the rehearsal of every real release.

The rehearsal pushes each releases/<repo-name>/ folder listed in the real weights_manifest.json to
the local test hub, loads it through `zoo.create(..., pretrained=True)` into an empty cache, evaluates
it on the offline data and checks the accuracy the manifest claims.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
import torch

import zoo
from zoo import hub
from zoo.checkpoint import save_model
from zoo.data import NORMALISATION
from zoo.weights import load_manifest, weights_entry

REPO_ROOT = Path(__file__).resolve().parents[1]
RELEASES = REPO_ROOT / "releases"
REAL_MANIFEST = json.loads((REPO_ROOT / "weights_manifest.json").read_text())


def _exported(tmp_path: Path) -> tuple[Path, torch.nn.Module]:
    torch.manual_seed(3)
    model = zoo.create("lenet5").eval()
    ckpt = save_model(model, tmp_path / "run", name="lenet5", extra={"dataset": "cifar10-jpeg", "epochs": 1})
    folder = tmp_path / "exported" / "lenet5-test"  # not releases/ beside the manifest: zoo would find that
    hub.export("lenet5", ckpt, folder, "zoo-test/lenet5-test", tag="t1", metrics={"top1": 12.5})
    return folder, model


def test_export_writes_the_push_files_offline_and_loads_from_weights_dir(zoo_manifest, tmp_path, monkeypatch):
    folder, model = _exported(tmp_path)
    assert sorted(p.name for p in folder.iterdir()) == ["README.md", "config.json", "model.safetensors"]
    entry = weights_entry("lenet5", "t1")
    assert entry["revision"] is None and entry["metrics"] == {"top1": 12.5}
    with pytest.raises(
        hub.NotOnHubError, match="not on the Hub yet.*zoo pull --from DIR.*lenet5-test/.*ZOO_WEIGHTS_DIR"
    ):
        zoo.create("lenet5", pretrained=True)
    monkeypatch.setenv("ZOO_WEIGHTS_DIR", str(folder.parent))
    loaded = zoo.create("lenet5", pretrained=True)
    for key, value in model.state_dict().items():
        assert torch.equal(loaded.state_dict()[key], value), key
    monkeypatch.delenv("ZOO_WEIGHTS_DIR")
    folder.parent.rename(tmp_path / "releases")  # a checkout's layout: releases/ beside its manifest
    assert zoo.create("lenet5", pretrained=True).pretrained_cfg["tag"] == "t1"
    with pytest.raises(hub.PushError, match="not empty"):
        hub.export(
            "lenet5",
            tmp_path / "run",
            tmp_path / "releases" / "lenet5-test",
            "zoo-test/lenet5-test",
            metrics={"top1": 1.0},
        )


def test_push_folder_uploads_the_exported_bytes_and_pins_the_commit(hub_server, zoo_manifest, tmp_path):
    folder, model = _exported(tmp_path)
    result = hub.push_folder("lenet5.t1", folder)
    assert result.revision and len(result.revision) == 40
    assert weights_entry("lenet5", "t1")["revision"] == result.revision
    loaded = zoo.create("lenet5", pretrained=True)  # no ZOO_WEIGHTS_DIR: from the hub
    assert all(torch.equal(loaded.state_dict()[k], v) for k, v in model.state_dict().items())


def test_push_folder_refuses_bytes_that_differ_from_the_export(hub_server, zoo_manifest, tmp_path):
    folder, _ = _exported(tmp_path)
    data = bytearray((folder / "model.safetensors").read_bytes())
    data[-1] ^= 0xFF
    (folder / "model.safetensors").write_bytes(bytes(data))
    with pytest.raises(hub.PushError, match="not the file the manifest entry lenet5.t1 records"):
        hub.push_folder("lenet5", folder)
    assert not any("/commit/" in path for _, path in hub_server.requests), "nothing may be committed"


RELEASED = [
    (model, tag)
    for model, tags in REAL_MANIFEST["models"].items()
    for tag, entry in tags.items()
    if (RELEASES / hub.repo_dir_name(entry["repo_id"])).is_dir()
]


def _published_through_the_hub(model, tag, zoo_manifest):
    """Push the release folder to the test hub as it is; its entry, now with a pinned revision."""
    entry = REAL_MANIFEST["models"][model][tag]
    zoo_manifest.write_text(json.dumps({"schema_version": 1, "models": {model: {tag: entry}}}))
    folder = RELEASES / hub.repo_dir_name(entry["repo_id"])
    assert sorted(p.name for p in folder.iterdir()) >= ["README.md", "config.json"]
    assert all(p.stat().st_size < 100 * 10**6 for p in folder.iterdir()), "release files stay < 100 MB"
    config = json.loads((folder / "config.json").read_text())
    mean, std = NORMALISATION[zoo.model_info(model).dataset]
    assert (config["mean"], config["std"]) == (list(mean), list(std)), "config.json states the training input"
    hub.push_folder(f"{model}.{tag}", folder)
    assert load_manifest()[model][tag]["revision"] is not None
    assert "ZOO_WEIGHTS_DIR" not in os.environ  # the weights come from the hub into an empty cache
    return entry


def _data_dir(entry, shared_data):
    return shared_data / "cifar10-jpeg" if entry["dataset"] == "cifar10-jpeg" else shared_data


# Releases exported with a `rehearsal` figure are rehearsed on those sampled test images here, and on the
# whole test set in the slow lane: the quick lane does not grow by minutes with every large model.
QUICK = [(m, t) for m, t in RELEASED if "rehearsal" in REAL_MANIFEST["models"][m][t]]


def _reproduces_the_published_figures(model, tag, entry, shared_data):
    from zoo.evaluate import evaluate_model

    result = evaluate_model(f"{model}.{tag}", pretrained=True, data_dir=_data_dir(entry, shared_data))
    assert result.identity == entry["dataset"]
    # Same bytes, same data, same CPU kernels: the figure reproduces (one image = 0.01 points of slack
    # for a borderline logit on a different CPU).
    assert abs(result.top1 - entry["metrics"]["top1"]) <= 0.011
    if "exact_top1" in entry["metrics"]:
        assert abs(result.exact_top1 - entry["metrics"]["exact_top1"]) <= 0.11


@pytest.mark.skipif(not RELEASED, reason="no release folder under releases/ yet")
@pytest.mark.parametrize("model, tag", RELEASED, ids=[f"{m}.{t}" for m, t in RELEASED])
def test_release_rehearsal(model, tag, hub_server, zoo_manifest, shared_data):
    from zoo.evaluate import evaluate_model

    entry = _published_through_the_hub(model, tag, zoo_manifest)
    if "rehearsal" not in entry:
        _reproduces_the_published_figures(model, tag, entry, shared_data)
        return
    quick = entry["rehearsal"]
    data_dir = _data_dir(entry, shared_data)
    result = evaluate_model(f"{model}.{tag}", pretrained=True, data_dir=data_dir, limit=quick["images"])
    assert result.identity == entry["dataset"]
    assert abs(result.top1 - quick["top1"]) <= 100 / quick["images"] + 0.001  # one image of slack


# The whole-test-set check of a release costs 10,000 forward passes: a minute or two on a 2-core AVX2
# CPU up to fast_resnet9's size (the slow lane of .ci/run; all of them ~7 minutes there), two minutes
# and more from resnet18 up (136 s there; resnext29_8x64d ~15 minutes), which CI leaves to
# `pytest -m whole_test_set` (the export measured those figures on the whole test set already).
WHOLE_SET_IN_CI_MACS = 400 * 10**6


def _whole_set_lane(model, tag):
    cheap = zoo.model_info(model).macs <= WHOLE_SET_IN_CI_MACS
    lane = pytest.mark.slow if cheap else pytest.mark.whole_test_set
    return pytest.param(model, tag, marks=lane, id=f"{model}.{tag}")


@pytest.mark.skipif(not QUICK, reason="no release has a quick rehearsal figure yet")
@pytest.mark.parametrize("model, tag", [_whole_set_lane(m, t) for m, t in QUICK])
def test_release_rehearsal_on_the_whole_test_set(model, tag, hub_server, zoo_manifest, shared_data):
    entry = _published_through_the_hub(model, tag, zoo_manifest)
    _reproduces_the_published_figures(model, tag, entry, shared_data)
