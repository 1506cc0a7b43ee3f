"""`load_dataset`: CIFAR-10 or MNIST from a data directory, downloaded and md5-checked when absent."""

from __future__ import annotations

import os
from pathlib import Path

from ._cifar import CLASSES as CIFAR_CLASSES
from ._cifar import MEAN as CIFAR_MEAN
from ._cifar import STD as CIFAR_STD
from ._cifar import load_cifar10
from ._mnist import CLASSES as MNIST_CLASSES
from ._mnist import MEAN as MNIST_MEAN
from ._mnist import STD as MNIST_STD
from ._mnist import load_mnist
from .array_dataset import ArrayDataset, DatasetError

_LOADERS = {"cifar10": load_cifar10, "mnist": load_mnist}
DATASETS = tuple(_LOADERS)
# Per-channel (mean, std) every loader normalises with: the one source for training, eval and model cards.
NORMALISATION = {"cifar10": (CIFAR_MEAN, CIFAR_STD), "mnist": (MNIST_MEAN, MNIST_STD)}
CLASS_NAMES = {"cifar10": CIFAR_CLASSES, "mnist": MNIST_CLASSES}  # in label order


def default_data_dir() -> Path:
    """``$ZOO_DATA_DIR`` if set, else ``<user cache dir>/zoo/data``."""
    if os.environ.get("ZOO_DATA_DIR"):
        return Path(os.environ["ZOO_DATA_DIR"]).expanduser()
    import platformdirs

    return Path(platformdirs.user_cache_dir("zoo")) / "data"


def load_dataset(
    name: str,
    split: str,
    data_dir: str | Path | None = None,
    *,
    download: bool | None = None,
    warn: bool = True,
) -> ArrayDataset:
    """Load split ``"train"`` or ``"test"`` of data set `name` (one of `DATASETS`) into memory.

    `data_dir` (default `default_data_dir()`) uses the torchvision layouts: ``<dir>/cifar-10-batches-py/``
    (or the offline copy's ``<dir>/cifar10-jpeg/cifar-10-batches-py/``) and ``<dir>/MNIST/raw/``. When
    the files are absent and downloading is allowed, the official release is downloaded there and
    md5-checked. `download`: True allows it, False forbids it, None (the default) allows it only into
    the default data dir: a directory the caller names is never written to unless asked
    (``zoo train/eval --data-dir DIR --download``). Files that parse but differ from the official
    release load with one warning and an identity other than `name` (``"cifar10-jpeg"`` or
    ``"<name>-custom-<md5 prefix>"``); a caller loading a second split of the same directory passes
    ``warn=False``, so a run warns once.

    Raises:
        DatasetError: unknown name or split, missing or malformed files, or a failed download.
    """
    if name not in _LOADERS:
        raise DatasetError(f"unknown data set {name!r}: choose one of {', '.join(DATASETS)}")
    if split not in ("train", "test"):
        raise DatasetError(f"unknown split {split!r} of {name}: choose 'train' or 'test'")
    root = Path(data_dir).expanduser() if data_dir is not None else default_data_dir()
    return _LOADERS[name](root, split, data_dir is None if download is None else download, warn)
