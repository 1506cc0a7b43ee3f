"""Shared fixtures. Data lives in ../shared/data beside the checkout (ZOO_TEST_DATA overrides)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
# The release tooling (scripts/zoo_release/) is not part of the installed package; tests import it.
sys.path.insert(0, str(REPO / "scripts"))

from hub_server import hub_env, hub_server, make_hub_server, zoo_manifest  # noqa: E402, F401  (fixtures for all tests)

if os.environ.get("PYTEST_XDIST_WORKER"):
    # Two workers on two cores: one thread each, for them and the zoo processes they start. Two
    # PyTorch processes of two OpenMP threads each on two cores spin-wait on each other (up to 10x
    # slower, benchmarks/RESULTS.md), so the default of one thread per core would not do.
    os.environ["OMP_NUM_THREADS"] = "1"
    import torch

    torch.set_num_threads(1)

SHARED_DATA = Path(os.environ.get("ZOO_TEST_DATA", REPO.parent / "shared" / "data"))


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The read-only offline data sets (MNIST/raw, cifar10-jpeg/)."""
    if not SHARED_DATA.is_dir():
        pytest.skip(f"offline data not found at {SHARED_DATA} (set ZOO_TEST_DATA)")
    return SHARED_DATA


@pytest.fixture
def fresh_registry():
    """A registry reloaded from the current environment, restored afterwards."""
    from zoo import _registry

    old = _registry._REGISTRY
    yield _registry.reload()
    _registry._REGISTRY = old


@pytest.fixture
def cli(capsys):
    """Run the `zoo` CLI in-process: ``code, out, err = cli("list", "--json")``."""
    from zoo.cli import main

    def run(*args) -> tuple[int, str, str]:
        capsys.readouterr()
        with pytest.raises(SystemExit) as exit_info:
            main([str(a) for a in args])
        out, err = capsys.readouterr()
        return exit_info.value.code or 0, out, err

    return run


@pytest.fixture(autouse=True)
def _zoo_cache_in_tmp(tmp_path, monkeypatch):
    """zoo's cache (verified files, data warnings already given, bench CSVs) is the test's own, for
    this process and its subprocesses: never the user's, and no test sees what another remembered."""
    monkeypatch.setenv("ZOO_CACHE_DIR", str(tmp_path / "zoo-cache"))


@pytest.fixture(autouse=True, scope="session")
def _md5_cache_in_tmp(tmp_path_factory):
    """Data-set checksum caching goes to the test session's tmp dir, not the user's cache."""
    from zoo.data import _identity

    path = tmp_path_factory.getbasetemp() / "md5-cache.json"
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(_identity, "cache_file", lambda: path)
        yield


@pytest.fixture(scope="session")
def tiny_cifar(shared_data, tmp_path_factory) -> Path:
    """A CIFAR-10 directory with the first 100 images of each train batch and 249 test images."""
    from helpers import write_tiny_cifar

    return write_tiny_cifar(shared_data / "cifar10-jpeg", tmp_path_factory.mktemp("tiny-cifar"))
