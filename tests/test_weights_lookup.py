"""Where published weights come from for people who did not clone the repository, and what zoo says.

A pip install ships the manifest but no weight files: `zoo pull --from DIR` copies a folder of
exported releases into zoo's cache, verified; a run inside a checkout finds its releases/ alone;
`zoo list --pretrained` and `zoo info` say where each model's weights would load from.
"""

from __future__ import annotations

import json
import logging
import shutil
import warnings
from pathlib import Path

import pytest

import zoo
from zoo.weights import lookup, manifest

REPO = Path(__file__).resolve().parents[1]
RELEASE = "lenet5-cifar10-jpeg"  # the smallest published weights (249 kB)


@pytest.fixture()
def installed(tmp_path, monkeypatch):
    """zoo as a pip install sees it: the shipped manifest alone, away from any checkout."""
    site = tmp_path / "site-packages" / "zoo"
    site.mkdir(parents=True)
    shutil.copy(REPO / "weights_manifest.json", site / "weights_manifest.json")
    monkeypatch.setattr(manifest, "_shipped_manifest_path", lambda: site / "weights_manifest.json")
    for name in ("ZOO_MANIFEST", "ZOO_WEIGHTS_DIR", "HF_HUB_OFFLINE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("ZOO_CACHE_DIR", str(tmp_path / "cache"))
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    return tmp_path


def _releases_copy(where: Path) -> Path:
    folder = where / "releases"
    shutil.copytree(REPO / "releases" / RELEASE, folder / RELEASE)
    return folder


def test_a_pip_install_says_how_to_get_weights_and_pull_from_fills_the_cache(installed, cli):
    with pytest.raises(zoo.weights.NotOnHubError, match="zoo pull --from DIR"):
        zoo.create("lenet5", pretrained=True)
    code, out, _ = cli("list", "--pretrained", "--json")
    row = next(r for r in json.loads(out) if r["name"] == "lenet5")
    assert code == 0 and row["weights_entry"]["from"].startswith("not reachable")

    releases = _releases_copy(installed / "download")
    code, out, err = cli("pull", "lenet5", "--from", releases)
    assert code == 0, err
    cached = installed / "cache" / "weights" / RELEASE / "model.safetensors"
    assert cached.read_bytes() == (releases / RELEASE / "model.safetensors").read_bytes()
    shutil.rmtree(releases)  # the copy in the cache is what loads from now on
    model = zoo.create("lenet5", pretrained=True)
    assert model.pretrained_cfg["tag"] == "cifar10-jpeg"
    entry = lookup.manifest_entry("lenet5")[2]
    assert lookup.source_of(entry) == f"zoo's weights cache ({installed / 'cache' / 'weights'})"


def test_pull_from_refuses_a_tampered_copy_and_leaves_it_alone(installed, cli):
    releases = _releases_copy(installed / "download")
    weights = releases / RELEASE / "model.safetensors"
    data = bytearray(weights.read_bytes())
    data[-1] ^= 0xFF
    weights.write_bytes(bytes(data))
    code, _, err = cli("pull", "lenet5", "--from", releases)
    assert code == 1 and "refusing to load" in err and "left" in err and "untouched" in err
    assert weights.read_bytes() == bytes(data)
    assert not (installed / "cache" / "weights" / RELEASE / "model.safetensors").exists()


@pytest.mark.parametrize("what", ["missing-folder", "folder-without-the-release"])
def test_pull_from_a_wrong_folder_is_one_line_and_exit_2(installed, cli, what):
    folder = installed / what
    if what != "missing-folder":
        folder.mkdir()
    code, _, err = cli("pull", "lenet5", "--from", folder)
    assert code == 2 and err.count("\n") == 1 and f"--from {folder}" in err


def test_a_run_inside_a_checkout_finds_its_releases(installed, monkeypatch, caplog):
    checkout = installed / "clone"
    _releases_copy(checkout)
    shutil.copy(REPO / "weights_manifest.json", checkout / "weights_manifest.json")
    (checkout / "src").mkdir()
    monkeypatch.chdir(checkout / "src")  # anywhere inside it
    monkeypatch.setattr(lookup, "_ANNOUNCED", set())
    with caplog.at_level(logging.INFO, logger="zoo"):
        zoo.create("lenet5", pretrained=True)
        zoo.create("lenet5", pretrained=True)
    said = [r.getMessage() for r in caplog.records if "releases" in r.getMessage()]
    assert len(said) == 1 and str(checkout / "releases") in said[0] and "ZOO_WEIGHTS_DIR" in said[0]
    entry = lookup.manifest_entry("lenet5")[2]
    assert lookup.source_of(entry, short=True) == "releases/"


def test_zoo_info_shows_the_default_weights_score_and_where_they_come_from(installed, cli):
    _releases_copy(installed / "work")  # the working directory is a checkout
    shutil.copy(REPO / "weights_manifest.json", installed / "work" / "weights_manifest.json")
    code, out, _ = cli("info", "lenet5", "--json")
    details = json.loads(out)["weights_entry"]
    published = json.loads((REPO / "weights_manifest.json").read_text())["models"]["lenet5"]["cifar10-jpeg"]
    assert code == 0 and details["tag"] == "cifar10-jpeg"
    assert details["top-1"] == f"{published['metrics']['top1']:.2f} % (cifar10-jpeg)"
    assert details["from"].startswith("the checkout's releases/")
    code, out, _ = cli("info", zoo.list_models(pretrained=False)[0], "--json")  # no weights: nothing to show
    assert code == 0 and "weights_entry" not in json.loads(out)


def test_the_renamed_error_keeps_a_warning_alias():
    with pytest.warns(DeprecationWarning, match="NoPublishedWeightsError"):
        old = zoo.NoPretrainedWeightsError
    assert old is zoo.NoPublishedWeightsError and issubclass(old, zoo.ZooError)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert zoo.NoPublishedWeightsError  # the new name is silent


def test_every_error_class_of_zoo_is_a_zoo_error():
    # Every error a user can meet is a ZooError: the CLI turns exactly those into one line (exit 2, or
    # the class's exit_code), never a traceback. Found by walking the package, not by a list to keep.
    import importlib
    import inspect
    import pkgutil

    errors = {}
    for info in pkgutil.walk_packages(zoo.__path__, "zoo."):
        if info.name.startswith(("zoo.plugins", "zoo.cli", "zoo.__main__")):
            continue
        module = importlib.import_module(info.name)
        for name, value in vars(module).items():
            error = inspect.isclass(value) and issubclass(value, Exception) and not issubclass(value, Warning)
            if error and value.__module__ == info.name:  # defined here, not imported
                errors[f"{info.name}.{name}"] = value
    assert len(errors) > 30
    assert [n for n, e in errors.items() if not issubclass(e, zoo.ZooError)] == []
