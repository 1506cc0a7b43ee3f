"""Downloads without internet: the real MNIST files (and a tiny CIFAR archive) served from 127.0.0.1."""

from __future__ import annotations

import functools
import hashlib
import io
import pickle
import shutil
import socket
import tarfile
import threading
from contextlib import contextmanager
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np
import pytest

from zoo.data import DatasetError, _identity, load_dataset

MNIST_TEST = ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz")


class _Handler(SimpleHTTPRequestHandler):
    def log_message(self, format, *args):  # keep pytest output clean
        pass

    def do_GET(self):
        self.server.requested.append(self.path)
        super().do_GET()


@contextmanager
def serving(directory: Path):
    """An HTTP server for `directory` on a free local port, in a thread, shut down on exit."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_Handler, directory=str(directory)))
    server.requested = []
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/", server.requested
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def closed_port_url() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}/"


@pytest.fixture(autouse=True)
def offline(monkeypatch, tmp_path):
    """No proxy between us and 127.0.0.1; md5 cache in tmp."""
    for name in ("http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("no_proxy", "127.0.0.1,localhost")
    monkeypatch.setattr(_identity, "cache_file", lambda: tmp_path / "md5-cache.json")


def md5(path: Path) -> str:
    return hashlib.md5(path.read_bytes()).hexdigest()


def leftovers(directory: Path) -> list[str]:
    return [p.name for p in directory.rglob(".download-*")]


def test_mnist_download_is_md5_verified(shared_data, tmp_path, monkeypatch, caplog):
    from torchvision.datasets import MNIST

    with serving(shared_data / "MNIST" / "raw") as (url, requested):
        monkeypatch.setattr(MNIST, "mirrors", [closed_port_url(), url])  # the first mirror is down
        ds = load_dataset("mnist", "test", tmp_path / "data", download=True)
    assert ds.identity == "mnist" and len(ds) == 10000 and not caplog.records
    raw = tmp_path / "data" / "MNIST" / "raw"
    assert sorted(p.name for p in raw.iterdir()) == sorted(MNIST_TEST)
    official = dict(MNIST.resources)
    assert all(md5(raw / name) == official[name] for name in MNIST_TEST)
    # Only the test split was fetched (torchvision GETs each URL twice: redirect probe, then download).
    assert set(requested) == {f"/{name}" for name in MNIST_TEST}
    assert not leftovers(tmp_path)
    # Present now: a second load downloads nothing.
    monkeypatch.setattr(MNIST, "mirrors", [closed_port_url()])
    assert load_dataset("mnist", "test", tmp_path / "data", download=True).identity == "mnist"


def test_tampered_mnist_download_is_refused(shared_data, tmp_path, monkeypatch):
    from torchvision.datasets import MNIST

    served = tmp_path / "served"
    shutil.copytree(shared_data / "MNIST" / "raw", served)
    tampered = served / MNIST_TEST[0]
    tampered.chmod(0o644)
    data = bytearray(tampered.read_bytes())
    data[5000] ^= 0xFF
    tampered.write_bytes(bytes(data))
    with serving(served) as (url, _):
        monkeypatch.setattr(MNIST, "mirrors", [url])
        with pytest.raises(DatasetError, match=f"{MNIST_TEST[0]}.*md5 mismatch"):
            load_dataset("mnist", "test", tmp_path / "data", download=True)
    raw = tmp_path / "data" / "MNIST" / "raw"
    assert not (raw / MNIST_TEST[0]).exists() and not leftovers(tmp_path)


def test_unreachable_mirror_is_a_clear_error(tmp_path, monkeypatch):
    from torchvision.datasets import MNIST

    dead = closed_port_url()
    monkeypatch.setattr(MNIST, "mirrors", [dead])
    with pytest.raises(DatasetError, match=f"could not download {MNIST_TEST[0]}") as info:
        load_dataset("mnist", "test", tmp_path, download=True)
    assert dead in str(info.value)
    assert "without network, point --data-dir" in str(info.value)  # the way out on an offline machine


def tiny_cifar_archive(path: Path) -> str:
    """A cifar-10-python.tar.gz holding only a 10-image test_batch; returns its md5."""
    rng = np.random.default_rng(0)
    batch = {"labels": list(range(10)), "data": rng.integers(0, 256, (10, 3072), dtype=np.uint8)}
    payload = pickle.dumps(batch, protocol=2)
    with tarfile.open(path, "w:gz") as tar:
        info = tarfile.TarInfo("cifar-10-batches-py/test_batch")
        info.size = len(payload)
        tar.addfile(info, io.BytesIO(payload))
    return md5(path)


@pytest.mark.parametrize("tamper", [False, True])
def test_cifar_download_extracts_into_place(tmp_path, monkeypatch, caplog, tamper):
    from torchvision.datasets import CIFAR10

    served = tmp_path / "served"
    served.mkdir()
    archive_md5 = tiny_cifar_archive(served / CIFAR10.filename)
    with serving(served) as (url, _):
        monkeypatch.setattr(CIFAR10, "url", url + CIFAR10.filename)
        monkeypatch.setattr(CIFAR10, "tgz_md5", "0" * 32 if tamper else archive_md5)
        if tamper:
            with pytest.raises(DatasetError, match="md5 mismatch"):
                load_dataset("cifar10", "test", tmp_path / "data", download=True)
        else:
            ds = load_dataset("cifar10", "test", tmp_path / "data", download=True)
    assert not leftovers(tmp_path)
    if tamper:
        assert not (tmp_path / "data" / "cifar-10-batches-py").exists()
        return
    assert len(ds) == 10 and ds.identity.startswith("cifar10-custom-")
    assert len([r for r in caplog.records if r.name == "zoo"]) == 1
    assert (tmp_path / "data" / "cifar-10-batches-py" / "test_batch").is_file()
