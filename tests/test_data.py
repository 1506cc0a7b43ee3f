"""Loading CIFAR-10 / MNIST from disk: identities, warnings, errors, the restricted unpickler, splits."""

from __future__ import annotations

import gzip
import io
import logging
import os
import pickle
import re
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

from zoo.data import (
    ArrayDataset,
    DatasetError,
    _cifar,
    _identity,
    _mnist,
    default_data_dir,
    load_dataset,
    split_validation,
)

CIFAR_JPEG = "cifar10-jpeg"


@pytest.fixture(autouse=True, scope="module")
def md5_cache(tmp_path_factory):
    """Keep the md5 cache out of the user's cache dir, shared by the module so each file is hashed once."""
    path = tmp_path_factory.mktemp("md5") / "md5-cache.json"
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(_identity, "cache_file", lambda: path)
        yield path


@pytest.fixture(scope="module")
def cifar_train(shared_data):
    return load_dataset("cifar10", "train", shared_data / CIFAR_JPEG, download=False)


@pytest.fixture(scope="module")
def mnist_train(shared_data):
    return load_dataset("mnist", "train", shared_data, download=False)


def zoo_warnings(caplog) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "zoo" and r.levelno == logging.WARNING]


def write_batch(path: Path, images: np.ndarray, labels: list[int], protocol: int = 2) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    batch = {"batch_label": "synthetic", "labels": labels, "data": images.reshape(len(labels), -1)}
    path.write_bytes(pickle.dumps(batch, protocol=protocol))


def synthetic_cifar(root: Path, n: int = 20, seed: int = 0, protocol: int = 2) -> Path:
    rng = np.random.default_rng(seed)
    images = rng.integers(0, 256, (n, 3, 32, 32), dtype=np.uint8)
    write_batch(root / "cifar-10-batches-py" / "test_batch", images, [i % 10 for i in range(n)], protocol)
    return root


# --- the offline data sets ------------------------------------------------------------------------


def test_cifar10_jpeg_test_split(shared_data, caplog):
    ds = load_dataset("cifar10", "test", shared_data / CIFAR_JPEG, download=False)
    assert ds.images.shape == (10000, 3, 32, 32) and ds.images.dtype == torch.uint8
    assert ds.labels.dtype == torch.int64
    assert torch.equal(torch.bincount(ds.labels), torch.full((10,), 1000))
    assert ds.identity == "cifar10-jpeg"
    assert ds.classes[:3] == ("airplane", "automobile", "bird") and len(ds.classes) == 10
    assert ds.mean == (0.4914, 0.4822, 0.4465) and ds.std == (0.2470, 0.2435, 0.2616)
    assert ds.exact_mask.dtype == torch.bool and int(ds.exact_mask.sum()) == 1017
    assert bool(ds.exact_mask[:1017].all())  # README: the first 1,017 rows of each batch are exact
    (message,) = zoo_warnings(caplog)
    assert "cifar-10-batches-py" in message and "'cifar10-jpeg'" in message


def test_cifar10_jpeg_train_split(cifar_train):
    ds = cifar_train
    assert ds.images.shape == (50000, 3, 32, 32)
    assert torch.equal(torch.bincount(ds.labels), torch.full((10,), 5000))
    assert int(ds.exact_mask.sum()) == 4000 + 4 * 1017  # README: 9,085 exact, 1,017 of them in test
    # README's train statistics check the plane order (R, G, B) and the (C, H, W) reshape.
    pixels = ds.images.permute(1, 0, 2, 3).reshape(3, -1).double() / 255
    assert pixels.mean(1).tolist() == pytest.approx([0.4913, 0.4821, 0.4465], abs=2e-4)
    assert pixels.std(1).tolist() == pytest.approx([0.2455, 0.2429, 0.2608], abs=2e-4)


def test_shared_root_finds_the_offline_cifar_copy(shared_data):
    ds = load_dataset("cifar10", "test", shared_data, download=False)
    assert ds.identity == "cifar10-jpeg" and len(ds) == 10000


def test_mnist_from_gz(shared_data, mnist_train, caplog):
    test = load_dataset("mnist", "test", shared_data, download=False)
    assert not zoo_warnings(caplog)
    assert test.identity == mnist_train.identity == "mnist"
    assert mnist_train.images.shape == (60000, 1, 28, 28) and test.images.shape == (10000, 1, 28, 28)
    assert mnist_train.mean == (0.1307,) and mnist_train.std == (0.3081,)
    pixels = mnist_train.images.double() / 255
    assert pixels.mean().item() == pytest.approx(0.1307, abs=1e-4)
    assert pixels.std().item() == pytest.approx(0.3081, abs=1e-4)
    assert torch.bincount(test.labels).tolist() == [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]


def test_mnist_uncompressed_files_are_still_official(shared_data, tmp_path, caplog):
    raw = tmp_path / "MNIST" / "raw"
    raw.mkdir(parents=True)
    for stem in _mnist.SPLIT_FILES["test"]:
        with gzip.open(shared_data / "MNIST" / "raw" / f"{stem}.gz") as f:
            (raw / stem).write_bytes(f.read())
    ds = load_dataset("mnist", "test", tmp_path, download=False)
    reference = load_dataset("mnist", "test", shared_data, download=False)
    assert ds.identity == "mnist" and not zoo_warnings(caplog)
    assert torch.equal(ds.images, reference.images) and torch.equal(ds.labels, reference.labels)


def test_embedded_md5s_match_torchvision():
    from torchvision.datasets import CIFAR10, MNIST

    cifar = {**dict(CIFAR10.train_list + CIFAR10.test_list), CIFAR10.meta["filename"]: CIFAR10.meta["md5"]}
    assert _cifar.OFFICIAL_MD5S == cifar
    assert {k: v for k, v in _mnist.OFFICIAL_MD5S.items() if k.endswith(".gz")} == dict(MNIST.resources)


def test_jpeg_md5s_match_the_shared_md5sums(shared_data):
    listed = dict(line.split()[::-1] for line in (shared_data / "MD5SUMS").read_text().splitlines())
    for name, md5 in _cifar.CIFAR10_JPEG_MD5S.items():
        assert listed[f"cifar10-jpeg/cifar-10-batches-py/{name}"] == md5


# --- custom directories and the md5 cache ---------------------------------------------------------


def test_custom_cifar_files_get_a_custom_identity(tmp_path, caplog):
    first = load_dataset("cifar10", "test", synthetic_cifar(tmp_path / "a"), download=False)
    (message,) = zoo_warnings(caplog)
    assert re.fullmatch(r"cifar10-custom-[0-9a-f]{8}", first.identity)
    assert str(tmp_path / "a") in message and first.identity in message
    assert first.exact_mask is None and len(first) == 20
    assert first.classes == _cifar.CLASSES  # no batches.meta: the standard names
    # The identity names the content, not the place; different content gets a different one.
    shutil.copytree(tmp_path / "a", tmp_path / "b")
    assert load_dataset("cifar10", "test", tmp_path / "b", download=False).identity == first.identity
    other = load_dataset("cifar10", "test", synthetic_cifar(tmp_path / "c", seed=1), download=False)
    assert other.identity != first.identity


def test_unofficial_files_warn_once_per_directory(tmp_path, caplog, monkeypatch):
    root = synthetic_cifar(tmp_path / "a")
    for split in ("test", "test"):  # a second command on the same directory: no second warning
        load_dataset("cifar10", split, root, download=False)
    (message,) = zoo_warnings(caplog)
    assert "once per directory" in message and "ZOO_QUIET_DATA_WARNING=1" in message
    monkeypatch.setenv("ZOO_QUIET_DATA_WARNING", "1")
    load_dataset("cifar10", "test", synthetic_cifar(tmp_path / "b", seed=1), download=False)
    assert len(zoo_warnings(caplog)) == 1


@pytest.mark.parametrize("protocol", [2, 4, 5])
def test_cifar_files_written_by_any_pickle_protocol_load(tmp_path, protocol):
    ds = load_dataset("cifar10", "test", synthetic_cifar(tmp_path, protocol=protocol), download=False)
    rng = np.random.default_rng(0)
    assert np.array_equal(ds.images.numpy(), rng.integers(0, 256, (20, 3, 32, 32), dtype=np.uint8))


def test_md5_cache_follows_rewritten_files(tmp_path, md5_cache):
    root = synthetic_cifar(tmp_path)
    before = load_dataset("cifar10", "test", root, download=False).identity
    batch = root / "cifar-10-batches-py" / "test_batch"
    assert str(batch.resolve()) in md5_cache.read_text()
    stat = batch.stat()
    synthetic_cifar(tmp_path, seed=5)  # same size, new content
    os.utime(batch, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))
    assert load_dataset("cifar10", "test", root, download=False).identity != before


# --- errors ------------------------------------------------------------------------------------------


def test_missing_cifar_dir_names_path_and_files(tmp_path):
    with pytest.raises(DatasetError, match="data_batch_1") as info:
        load_dataset("cifar10", "train", tmp_path / "nowhere", download=False)
    assert str(tmp_path / "nowhere" / "cifar-10-batches-py") in str(info.value)


def test_incomplete_cifar_dir_names_missing_file(tmp_path):
    synthetic_cifar(tmp_path)
    with pytest.raises(DatasetError, match="data_batch_1.*missing") as info:
        load_dataset("cifar10", "train", tmp_path, download=False)
    assert str(tmp_path) in str(info.value)


def test_missing_mnist_dir_names_path_and_files(tmp_path):
    with pytest.raises(DatasetError, match="t10k-images-idx3-ubyte") as info:
        load_dataset("mnist", "test", tmp_path, download=False)
    assert str(tmp_path / "MNIST" / "raw") in str(info.value)


@pytest.mark.parametrize(
    "content",
    [b"not a pickle at all", pickle.dumps([1, 2, 3]), pickle.dumps({"labels": [0], "data": "pixels"})],
    ids=["garbage", "not-a-dict", "no-array"],
)
def test_malformed_cifar_batch(tmp_path, content):
    path = tmp_path / "cifar-10-batches-py" / "test_batch"
    path.parent.mkdir()
    path.write_bytes(content)
    with pytest.raises(DatasetError, match=re.escape(str(path))):
        load_dataset("cifar10", "test", tmp_path, download=False)


def test_truncated_cifar_batch(shared_data, tmp_path):
    path = tmp_path / "cifar-10-batches-py" / "test_batch"
    path.parent.mkdir()
    path.write_bytes((shared_data / CIFAR_JPEG / "cifar-10-batches-py" / "test_batch").read_bytes()[:100000])
    with pytest.raises(DatasetError, match=re.escape(str(path))):
        load_dataset("cifar10", "test", tmp_path, download=False)


def test_cifar_labels_out_of_range(tmp_path):
    write_batch(tmp_path / "cifar-10-batches-py" / "test_batch", np.zeros((2, 3072), np.uint8), [3, 10])
    with pytest.raises(DatasetError, match=r"0\.\.9, found 3\.\.10"):
        load_dataset("cifar10", "test", tmp_path, download=False)


@pytest.mark.parametrize("damage", ["truncate", "bad-magic", "bad-gzip"])
def test_malformed_mnist_file(shared_data, tmp_path, damage):
    raw = tmp_path / "MNIST" / "raw"
    shutil.copytree(shared_data / "MNIST" / "raw", raw)
    path = raw / "t10k-labels-idx1-ubyte.gz"
    path.chmod(0o644)
    data = gzip.decompress(path.read_bytes())
    if damage == "truncate":
        path.write_bytes(gzip.compress(data[:-10]))
    elif damage == "bad-magic":
        path.write_bytes(gzip.compress(b"\x00\x00\x0d\x01" + data[4:]))
    else:
        path.write_bytes(path.read_bytes()[:2000])
    with pytest.raises(DatasetError, match=re.escape(str(path))):
        load_dataset("mnist", "test", tmp_path, download=False)


class _RunsShellCommand:
    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return os.system, (f"touch {self.marker}",)


def test_hostile_pickle_is_refused(tmp_path):
    marker = tmp_path / "pwned"
    path = tmp_path / "cifar-10-batches-py" / "test_batch"
    path.parent.mkdir()
    path.write_bytes(pickle.dumps({"data": _RunsShellCommand(marker), "labels": [0]}, protocol=2))
    with pytest.raises(DatasetError, match=r"refusing to load (posix|os)\.system"):
        load_dataset("cifar10", "test", tmp_path, download=False)
    assert not marker.exists()


class _Calls:
    def __init__(self, target):
        self.target = target

    def __reduce__(self):
        return self.target, ("1",)


@pytest.mark.parametrize("target", [eval, getattr, pickle.loads, np.load])
def test_restricted_unpickler_refuses_callables(target):
    payload = pickle.dumps(_Calls(target), protocol=4)
    with pytest.raises(pickle.UnpicklingError, match="refusing to load"):
        _cifar.RestrictedUnpickler(io.BytesIO(payload)).load()


def test_unknown_name_or_split():
    with pytest.raises(DatasetError, match="cifar10, mnist"):
        load_dataset("imagenet", "train")
    with pytest.raises(DatasetError, match="'val'"):
        load_dataset("cifar10", "val")


def test_default_data_dir(monkeypatch, tmp_path):
    monkeypatch.setenv("ZOO_DATA_DIR", str(tmp_path))
    assert default_data_dir() == tmp_path
    monkeypatch.delenv("ZOO_DATA_DIR")
    assert default_data_dir().parts[-2:] == ("zoo", "data")


# --- ArrayDataset and split_validation -----------------------------------------------------------


def toy_dataset(n: int = 1000, classes: int = 10) -> ArrayDataset:
    index = torch.arange(n)
    images = torch.stack([index % 256, index // 256], 1).to(torch.uint8).view(n, 1, 1, 2)
    return ArrayDataset(
        images, index % classes, "toy", tuple(map(str, range(classes))), (0.5,), (0.25,), index % 3 == 0
    )


def row_ids(ds: ArrayDataset) -> list[int]:
    pixels = ds.images.view(len(ds), 2).long()
    return (pixels[:, 0] + 256 * pixels[:, 1]).tolist()


def test_subset_keeps_metadata_and_slices_mask():
    ds = toy_dataset()
    part = ds.subset([5, 3, 9])
    assert row_ids(part) == [5, 3, 9] and part.labels.tolist() == [5, 3, 9]
    assert part.exact_mask.tolist() == [False, True, True]
    assert (part.identity, part.classes, part.mean, part.std) == (ds.identity, ds.classes, ds.mean, ds.std)
    assert len(ds.subset(torch.arange(1000) < 10)) == 10


def test_array_dataset_checks_its_fields():
    with pytest.raises(ValueError, match="uint8"):
        ArrayDataset(torch.zeros(2, 1, 2, 2), torch.zeros(2, dtype=torch.long), "x", ("a",), (0.5,), (0.2,))
    with pytest.raises(ValueError, match="mean/std"):
        ArrayDataset(
            torch.zeros(2, 3, 2, 2, dtype=torch.uint8),
            torch.zeros(2, dtype=torch.long),
            "x",
            ("a",),
            (0.5,),
            (0.2,),
        )


@pytest.mark.parametrize("size, expected", [(100, 100), (0.25, 250), (7, 7)])
def test_split_validation_sizes_disjoint_and_covering(size, expected):
    ds = toy_dataset()
    train, val = split_validation(ds, size, seed=3)
    assert len(val) == expected and len(train) == 1000 - expected
    assert sorted(row_ids(train) + row_ids(val)) == list(range(1000))
    assert row_ids(train) == sorted(row_ids(train))  # original order kept
    counts = torch.bincount(val.labels, minlength=10)
    assert int(counts.max() - counts.min()) <= 1  # stratified: balanced classes stay balanced
    assert val.identity == "toy" and val.exact_mask is not None


def test_split_validation_is_deterministic_under_seed():
    ds = toy_dataset()
    assert row_ids(split_validation(ds, 100, seed=1)[1]) == row_ids(split_validation(ds, 100, seed=1)[1])
    assert row_ids(split_validation(ds, 100, seed=1)[1]) != row_ids(split_validation(ds, 100, seed=2)[1])


def test_split_validation_stratifies_unbalanced_classes():
    labels = torch.cat([torch.zeros(900, dtype=torch.long), torch.ones(100, dtype=torch.long)])
    ds = ArrayDataset(
        torch.zeros(1000, 1, 1, 1, dtype=torch.uint8), labels, "toy", ("a", "b"), (0.5,), (0.2,)
    )
    _, val = split_validation(ds, 0.1)
    assert torch.bincount(val.labels).tolist() == [90, 10]


@pytest.mark.parametrize("size", [0, 1000, 0.0, 1.0, -5, True, "10"])
def test_split_validation_rejects_bad_sizes(size):
    with pytest.raises((ValueError, TypeError)):
        split_validation(toy_dataset(), size)
