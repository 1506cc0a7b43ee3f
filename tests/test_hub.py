"""Published weights through zoo: push, pull, verified loading, errors, offline use (tests/hub_server.py)."""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import types
from pathlib import Path

import pytest
from helpers import export_to_weights_dir
from hub_server import set_offline

torch = pytest.importorskip("torch")
pytest.importorskip("huggingface_hub")

import zoo  # noqa: E402
from zoo import hub  # noqa: E402
from zoo.checkpoint import save_model  # noqa: E402
from zoo.weights import load_manifest, weights_entry, write_entry  # noqa: E402

REPO = "zoo-test/lenet5-cifar10"
METRICS = {"top1": 61.25, "loss": 1.1, "exact_top1": 62.0, "recipe": "test recipe", "device": "cpu"}


def _lenet(seed: int) -> torch.nn.Module:
    torch.manual_seed(seed)
    return zoo.create("lenet5").eval()


@pytest.fixture
def batch() -> torch.Tensor:
    return torch.randn(8, 3, 32, 32, generator=torch.Generator().manual_seed(0))


def _checkpoint(tmp_path: Path, seed: int) -> tuple[Path, torch.nn.Module]:
    model = _lenet(seed)
    path = save_model(
        model, tmp_path / f"run{seed}", name="lenet5", extra={"dataset": "cifar10-jpeg", "epochs": 3}
    )
    return path, model


def _outputs(model: torch.nn.Module, batch: torch.Tensor) -> torch.Tensor:
    with torch.no_grad():
        return model.eval()(batch)


def _wipe_hf_cache(hub_env: Path) -> None:
    shutil.rmtree(hub_env / "hub")
    (hub_env / "hub").mkdir()


@pytest.fixture
def published(hub_server, zoo_manifest, tmp_path):
    """lenet5 pushed once: (PushResult, the model that was pushed)."""
    path, model = _checkpoint(tmp_path, seed=1)
    return hub.push("lenet5", path, REPO, tag="e3", metrics=METRICS), model


def test_push_then_pull_in_a_clean_cache_gives_the_same_bytes_and_outputs(
    published, hub_server, hub_env, batch
):
    result, model = published
    entry = weights_entry("lenet5", "e3")
    assert entry == result.entry and entry["revision"] == result.revision
    assert entry["dataset"] == "cifar10-jpeg" and entry["epochs"] == 3 and entry["params"] == 62_006
    assert entry["metrics"] == {"top1": 61.25, "loss": 1.1, "exact_top1": 62.0}
    commit = hub_server.store.repos[REPO].commits[result.revision]
    assert set(commit.files) == {".gitattributes", "model.safetensors", "config.json", "README.md"}
    published_bytes = hub_server.store.read(commit.files["model.safetensors"])
    assert entry["files"] == [
        {
            "name": "model.safetensors",
            "size": len(published_bytes),
            "sha256": hashlib.sha256(published_bytes).hexdigest(),
        }
    ]

    _wipe_hf_cache(hub_env)
    [path] = hub.pull("lenet5")["lenet5.e3"]
    assert path.read_bytes() == published_bytes
    assert torch.equal(_outputs(zoo.create("lenet5", pretrained=True), batch), _outputs(model, batch))
    assert torch.equal(_outputs(zoo.create("lenet5.e3"), batch), _outputs(model, batch))


def test_config_and_model_card_describe_the_weights(published, hub_server):
    from huggingface_hub import ModelCard

    result, _ = published
    files = hub_server.store.repos[REPO].commits[result.revision].files
    config = json.loads(hub_server.store.read(files["config.json"]))
    assert config["architecture"] == "lenet5" and config["num_classes"] == 10
    assert config["input_size"] == [3, 32, 32] and len(config["mean"]) == len(config["std"]) == 3
    assert config["zoo_version"] == zoo.__version__
    card = ModelCard(hub_server.store.read(files["README.md"]).decode())
    assert card.data.library_name == "zoo" and card.data.license == "mit"
    assert {r.metric_value for r in card.data.eval_results} == {61.25, 1.1, 62.0}
    assert 'zoo.create("lenet5.e3", pretrained=True)' in card.text and "test recipe" in card.text


def test_what_a_run_changed_of_its_recipe_is_in_the_entry_and_the_card(
    hub_server, zoo_manifest, tmp_path, cli
):
    from huggingface_hub import ModelCard

    from zoo._recipe import recipe_changes
    from zoo.train.recipes import get_recipe

    used = {**get_recipe("seed200").to_dict(), "lr": 0.2, "batch_size": 256, "epochs": 7}
    changes = recipe_changes(used, get_recipe("seed200"))
    assert changes == {"batch_size": 256, "lr": 0.2}  # epochs aside: the entry states them on their own
    path, _ = _checkpoint(tmp_path, seed=1)
    result = hub.push("lenet5", path, REPO, tag="e3", metrics={**METRICS, "recipe_changes": changes})
    assert weights_entry("lenet5", "e3")["recipe_changes"] == {"batch_size": 256, "lr": 0.2}
    files = hub_server.store.repos[REPO].commits[result.revision].files
    card = ModelCard(hub_server.store.read(files["README.md"]).decode())
    assert "changed: batch_size 256, lr 0.2" in card.text
    code, out, _ = cli("info", "lenet5")
    assert code == 0 and re.search(r"weights recipe +│ test recipe \(--batch-size 256, --lr 0\.2\)", out), out


def test_second_push_makes_a_new_revision_and_the_old_one_still_loads(published, tmp_path, batch):
    first, first_model = published
    path, second_model = _checkpoint(tmp_path, seed=2)
    second = hub.push("lenet5", path, REPO, tag="e3", metrics=METRICS)
    assert second.revision != first.revision
    assert weights_entry("lenet5", "e3")["revision"] == second.revision
    assert torch.equal(_outputs(zoo.create("lenet5", pretrained=True), batch), _outputs(second_model, batch))
    write_entry("lenet5", "e3", first.entry)  # pin the manifest back to the first commit
    assert torch.equal(_outputs(zoo.create("lenet5", pretrained=True), batch), _outputs(first_model, batch))


def test_a_tampered_cache_file_is_refused_and_moved_aside(published, batch):
    _, model = published
    [path] = hub.pull("lenet5")["lenet5.e3"]
    blob = Path(os.path.realpath(path))  # the cache's snapshot entry links to a blob
    data = bytearray(blob.read_bytes())
    data[-1] ^= 0xFF  # same size: only the hash can tell
    blob.write_bytes(bytes(data))
    with pytest.raises(
        hub.ChecksumMismatchError, match=r"refusing to load .*sha256.*moved it to .*\.corrupt"
    ):
        zoo.create("lenet5", pretrained=True)
    assert not path.exists() and not blob.exists() and blob.with_name(blob.name + ".corrupt").is_file()
    # The next load fetches a fresh copy from the Hub.
    assert torch.equal(_outputs(zoo.create("lenet5", pretrained=True), batch), _outputs(model, batch))


def test_a_tampered_weights_dir_file_is_refused(published, tmp_path, monkeypatch):
    [path] = hub.pull("lenet5")["lenet5.e3"]
    folder = tmp_path / "mirror" / "lenet5-cifar10"
    folder.mkdir(parents=True)
    (folder / "model.safetensors").write_bytes(path.read_bytes()[:-10])  # truncated
    monkeypatch.setenv("ZOO_WEIGHTS_DIR", str(tmp_path / "mirror"))
    with pytest.raises(hub.ChecksumMismatchError, match="bytes.*left .* untouched"):
        zoo.create("lenet5", pretrained=True)
    # Not zoo's cache: the user's file stays where it is (zoo moves only its own downloads).
    assert (folder / "model.safetensors").is_file() and not (folder / "model.safetensors.corrupt").exists()


def test_a_server_serving_other_bytes_is_refused(published, hub_server, hub_env):
    result, _ = published
    commit = hub_server.store.repos[REPO].commits[result.revision]
    stored = commit.files["model.safetensors"]
    good = hub_server.store.blobs[stored.git_oid]
    hub_server.store.blobs[stored.git_oid] = good[:-1] + bytes([good[-1] ^ 1])  # a compromised mirror
    _wipe_hf_cache(hub_env)
    with pytest.raises(hub.ChecksumMismatchError):
        zoo.create("lenet5", pretrained=True)


def test_weights_dir_works_without_any_server(zoo_manifest, tmp_path, monkeypatch, batch):
    model = _lenet(seed=3)
    export_to_weights_dir(model, tmp_path / "weights", "lenet5-mirror", tag="mirror")
    monkeypatch.setenv("ZOO_WEIGHTS_DIR", str(tmp_path / "weights"))
    # hub_env aims HF_ENDPOINT at a closed port: any network use would fail.
    assert torch.equal(_outputs(zoo.create("lenet5", pretrained="mirror"), batch), _outputs(model, batch))


def test_verified_files_are_not_rehashed_until_they_change(zoo_manifest, tmp_path, monkeypatch):
    path = tmp_path / "w.bin"
    path.write_bytes(b"weights")
    digest = hashlib.sha256(b"weights").hexdigest()
    calls = []
    real = zoo.weights._verify.sha256_of
    monkeypatch.setattr(zoo.weights._verify, "sha256_of", lambda p: calls.append(p) or real(p))
    monkeypatch.setattr(zoo._files, "RACY_SECONDS", 0)  # the file was written just now
    for _ in range(3):
        hub.verify_file(path, digest, 7)
    assert len(calls) == 1
    os.utime(path, ns=(1, 1))  # a rewrite shows in the stat
    hub.verify_file(path, digest, 7)
    monkeypatch.setenv("ZOO_REHASH", "1")
    hub.verify_file(path, digest, 7)
    assert len(calls) == 3


def test_other_num_classes_loads_all_but_the_classifier(published, batch):
    _, model = published
    with pytest.warns(hub.PretrainedWeightsWarning, match="classifier"):
        resized = zoo.create("lenet5", pretrained=True, num_classes=3)
    assert resized.fc.out_features == 3
    assert torch.equal(resized.forward_features(batch), model.forward_features(batch))


def test_an_architecture_change_is_an_error_naming_the_tensors(published):
    with pytest.warns(hub.PretrainedWeightsWarning, match="trained with options"):
        with pytest.raises(hub.WeightsShapeError, match=r"features\.0\.weight \(weights \[6, 3, 5, 5\]"):
            zoo.create("lenet5", pretrained=True, in_chans=1)


def test_no_published_weights(zoo_manifest):
    with pytest.raises(zoo.NoPublishedWeightsError, match="no published weights for 'resnet18'"):
        zoo.create("resnet18", pretrained=True)
    with pytest.raises(hub.NoPublishedWeightsError, match="zoo list --pretrained"):
        hub.pull("resnet18")


@pytest.mark.parametrize(
    "change, error, message",
    [
        ({"repo_id": "zoo-test/absent"}, hub.HubRepoNotFoundError, "repo zoo-test/absent not found"),
        ({"revision": "f" * 40}, hub.HubRevisionNotFoundError, "revision f{40} of zoo-test"),
        (
            {"files": [{"name": "model.safetensors.index.json", "sha256": "0" * 64, "size": 1}]},
            hub.HubFileNotFoundError,
            "file model.safetensors.index.json not found",
        ),
    ],
)
def test_missing_repo_revision_or_file(published, hub_env, change, error, message):
    _wipe_hf_cache(hub_env)
    write_entry("lenet5", "e3", {**published[0].entry, **change})
    with pytest.raises(error, match=message):
        zoo.create("lenet5", pretrained=True)


def test_private_repo_needs_the_right_token(make_hub_server, zoo_manifest, tmp_path, monkeypatch):
    make_hub_server(token="s3cret")
    path, _ = _checkpoint(tmp_path, seed=1)
    with pytest.raises(hub.HubAuthError, match="refused the credentials"):
        hub.push("lenet5", path, REPO, metrics=METRICS, token="wrong")
    hub.push("lenet5", path, REPO, metrics=METRICS, token="s3cret", private=True)
    with pytest.raises(hub.HubRepoNotFoundError, match="HF_TOKEN"):
        zoo.create("lenet5", pretrained=True)
    monkeypatch.setenv("HF_TOKEN", "wrong")
    with pytest.raises(hub.HubAuthError, match="HTTP 401"):
        zoo.create("lenet5", pretrained=True)
    monkeypatch.setenv("HF_TOKEN", "s3cret")
    assert isinstance(zoo.create("lenet5", pretrained=True), torch.nn.Module)


def test_offline_loads_from_the_cache_and_says_what_to_do_when_empty(
    published, hub_server, hub_env, monkeypatch, batch
):
    _, model = published
    hub.pull("lenet5")
    hub_server.stop()
    set_offline(monkeypatch, True)
    assert torch.equal(_outputs(zoo.create("lenet5", pretrained=True), batch), _outputs(model, batch))
    _wipe_hf_cache(hub_env)
    with pytest.raises(hub.WeightsNotCachedError, match="HF_HUB_OFFLINE=1.*zoo pull.*ZOO_WEIGHTS_DIR"):
        zoo.create("lenet5", pretrained=True)
    # Set in the environment only (after huggingface_hub was imported): still honoured.
    set_offline(monkeypatch, False)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(hub.WeightsNotCachedError):
        zoo.create("lenet5", pretrained=True)


def test_unreachable_hub_suggests_offline_mode(published, hub_server, hub_env, monkeypatch):
    from huggingface_hub.utils import _http

    hub_server.stop()
    _wipe_hf_cache(hub_env)
    # The client retries a failed connection with exponential back-off; skip the sleeping.
    monkeypatch.setattr(_http, "time", types.SimpleNamespace(sleep=lambda seconds: None))
    with pytest.raises(hub.HubUnreachableError, match="cannot reach .*HF_HUB_OFFLINE=1.*ZOO_WEIGHTS_DIR"):
        zoo.create("lenet5", pretrained=True)


def test_lfs_upload_path(make_hub_server, zoo_manifest, hub_env, tmp_path, batch):
    server = make_hub_server(upload_mode="lfs")
    path, model = _checkpoint(tmp_path, seed=4)
    result = hub.push("lenet5", path, REPO, metrics=METRICS)
    assert result.tag == "cifar10-jpeg"  # no tag given, none published yet: the data set identity
    stored = server.store.repos[REPO].commits[result.revision].files["model.safetensors"]
    assert stored.lfs_sha256 == result.entry["files"][0]["sha256"]
    assert any(p.endswith("/info/lfs/objects/batch") for p in server.paths_requested("POST"))
    _wipe_hf_cache(hub_env)
    assert torch.equal(_outputs(zoo.create("lenet5", pretrained=True), batch), _outputs(model, batch))


def test_sharded_upload_round_trips_and_stale_shards_go(published, hub_server, hub_env, tmp_path, batch):
    path, model = _checkpoint(tmp_path, seed=5)
    sharded = hub.push("lenet5", path, REPO, tag="e3", metrics=METRICS, max_shard_size=100_000)
    names = [f["name"] for f in sharded.entry["files"]]
    assert "model.safetensors.index.json" in names and len(names) >= 3
    files = hub_server.store.repos[REPO].commits[sharded.revision].files
    assert "model.safetensors" not in files  # the unsharded file of the first push was deleted
    _wipe_hf_cache(hub_env)
    assert torch.equal(_outputs(zoo.create("lenet5", pretrained=True), batch), _outputs(model, batch))
    single = hub.push("lenet5", path, REPO, tag="e3", metrics=METRICS)
    assert not [p for p in hub_server.store.repos[REPO].commits[single.revision].files if "-of-" in p]


def test_push_refuses_a_checkpoint_of_another_model_or_without_metrics(hub_server, zoo_manifest, tmp_path):
    path, _ = _checkpoint(tmp_path, seed=1)
    with pytest.raises(hub.PushError, match="holds weights of 'lenet5', not 'resnet18'"):
        hub.push("resnet18", path, REPO, metrics=METRICS)
    with pytest.raises(hub.PushError, match="no measured top-1"):
        hub.push("lenet5", path, REPO)
    assert not hub_server.store.repos and load_manifest() == {}


def test_zoo_push_without_metrics_is_bad_input_exit_2(hub_server, zoo_manifest, tmp_path, cli):
    path, _ = _checkpoint(tmp_path, seed=1)
    code, _, err = cli("push", "lenet5", "--checkpoint", path, "--repo-id", REPO)
    assert code == 2 and err.count("\n") == 1 and "no measured top-1" in err and "--metrics" in err
    assert not hub_server.store.repos


def test_push_reads_zoo_eval_json(hub_server, zoo_manifest, tmp_path):
    path, _ = _checkpoint(tmp_path, seed=1)
    eval_json = tmp_path / "eval.json"
    eval_json.write_text(
        json.dumps(
            {
                "identity": "cifar10-jpeg",
                "top1": 63.0,
                "top1_no_tta": 61.0,
                "tta": "flip",
                "loss": 1.0,
                "exact_top1": 64.0,
                "num_images": 10000,
            }
        )
    )
    entry = hub.push("lenet5", path, REPO, metrics=eval_json).entry
    assert entry["metrics"] == {"top1": 61.0, "top1_tta": 63.0, "loss": 1.0, "exact_top1": 64.0}


def test_cli_push_and_pull(hub_server, zoo_manifest, hub_env, tmp_path, capsys):
    from zoo.cli import main

    path, _ = _checkpoint(tmp_path, seed=1)
    metrics = tmp_path / "metrics.json"
    metrics.write_text(json.dumps(METRICS))
    with pytest.raises(SystemExit) as exit_info:
        main(["push", "lenet5", "--checkpoint", str(path), "--repo-id", REPO, "--metrics", str(metrics)])
    assert exit_info.value.code == 0
    revision = weights_entry("lenet5", "cifar10-jpeg")["revision"]
    assert f"commit {revision}" in capsys.readouterr().out
    _wipe_hf_cache(hub_env)
    with pytest.raises(SystemExit) as exit_info:
        main(["pull", "--all"])
    assert exit_info.value.code == 0 and "sha256 verified" in capsys.readouterr().out
    with pytest.raises(SystemExit) as exit_info:
        main(["pull", "lenet5", "--tag", "nope"])
    assert exit_info.value.code == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "no weights tagged 'nope'" in err


VALID_ENTRY = {
    "repo_id": "zoo-test/lenet5",
    "revision": "c" * 40,
    "dtype": "float32",
    "dataset": "cifar10-jpeg",
    "files": [{"name": "model.safetensors", "sha256": "d" * 64, "size": 10}],
    "num_classes": 10,
    "params": 62_006,
    "metrics": {"top1": 70.0, "loss": 0.9},
    "recipe": "r",
    "epochs": 5,
    "device": "cpu",
    "date": "2025-01-02",
    "zoo_version": "0.1.0",
}


@pytest.mark.parametrize(
    "change, field",
    [
        ({"revision": "main"}, "'revision' must be a full 40-hex-digit"),
        (
            {"files": [{"name": "model.safetensors", "sha256": "xyz", "size": 10}]},
            "'files[0].sha256' must be 64",
        ),
        ({"files": [{"name": "../model.safetensors", "sha256": "d" * 64, "size": 10}]}, "'files[0].name'"),
        (
            {"files": [{"name": "weights.bin", "sha256": "d" * 64, "size": 10}]},
            "'files' must be a list holding",
        ),
        ({"dataset": "cifar100"}, "'dataset' must be one of cifar10, cifar10-jpeg, mnist"),
        ({"dtype": None}, "'dtype' must be one of"),
        ({"metrics": {"loss": 1.0}}, "'metrics.top1' is missing"),
        ({"metrics": {"top1": "high"}}, "'metrics.top1' must be a number"),
        ({"metrics": {"top1": 1.0, "top5": 2.0}}, "'metrics.top5' must be one of the known metrics"),
        ({"epochs": -1}, "'epochs' must be a non-negative int"),
        (
            {"recipe_changes": {"lr": [0.1, 0.2]}},
            "'recipe_changes' must be an object of the hyper-parameters",
        ),
        ({"reipe": "typo"}, "'reipe' is not in the schema"),
        ({"params": True}, "'params' must be a positive int"),
    ],
)
def test_a_malformed_manifest_entry_is_one_error_naming_entry_and_field(zoo_manifest, change, field):
    document = {
        "schema_version": 1,
        "models": {"lenet5": {"good": VALID_ENTRY, "bad": {**VALID_ENTRY, **change}}},
    }
    zoo_manifest.write_text(json.dumps(document))
    with pytest.raises(zoo.ManifestError, match=f"entry 'lenet5.bad': field {re.escape(field)}"):
        zoo.create("lenet5", pretrained=True)


def test_a_missing_field_and_a_wrong_schema_version_are_named(zoo_manifest):
    entry = {k: v for k, v in VALID_ENTRY.items() if k != "dataset"}
    zoo_manifest.write_text(json.dumps({"schema_version": 1, "models": {"lenet5": {"t": entry}}}))
    with pytest.raises(zoo.ManifestError, match="entry 'lenet5.t': field 'dataset' is missing"):
        load_manifest()
    zoo_manifest.write_text(json.dumps({"schema_version": 2, "models": {}}))
    with pytest.raises(zoo.ManifestError, match="'schema_version' is 2, this zoo reads version 1"):
        zoo.weight_tags("lenet5")
    zoo_manifest.write_text("{not json")
    with pytest.raises(zoo.ManifestError, match="not valid JSON"):
        load_manifest()


def test_the_shipped_manifest_is_valid(monkeypatch):
    from zoo._weights_entry import validate_manifest
    from zoo.weights import manifest_path

    monkeypatch.delenv("ZOO_MANIFEST", raising=False)
    validate_manifest(json.loads(manifest_path().read_text()), str(manifest_path()))


def test_write_entry_keeps_the_default_tag_first(zoo_manifest):
    write_entry("lenet5", "first", VALID_ENTRY)
    write_entry("lenet5", "second", {**VALID_ENTRY, "epochs": 9})
    write_entry("lenet5", "first", {**VALID_ENTRY, "epochs": 7})
    assert zoo.weight_tags("lenet5") == ["first", "second"]
    assert weights_entry("lenet5", "first")["epochs"] == 7
    with pytest.raises(zoo.ManifestError, match="field 'date'"):
        write_entry("lenet5", "third", {**VALID_ENTRY, "date": "yesterday"})
    assert zoo.weight_tags("lenet5") == ["first", "second"]
