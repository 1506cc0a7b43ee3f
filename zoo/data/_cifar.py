"""CIFAR-10 in the torchvision layout: ``<data_dir>/cifar-10-batches-py/`` holding the pickled batches."""

from __future__ import annotations

import codecs
import importlib
import io
import pickle
from pathlib import Path

import numpy as np
import torch

from ._download import DOWNLOAD_HINT, fetch, move_into_place, staging_dir
from ._identity import file_md5s, identify, warn_if_unofficial
from .array_dataset import ArrayDataset, DatasetError, class_indices

BATCHES_DIR = "cifar-10-batches-py"
META_FILE = "batches.meta"
SPLIT_FILES = {"train": tuple(f"data_batch_{i}" for i in range(1, 6)), "test": ("test_batch",)}
RELEASE_FILES = (*SPLIT_FILES["train"], *SPLIT_FILES["test"], META_FILE)
EXACT_MASK_FILE = "exact_mask.npz"
CLASSES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")
MEAN = (0.4914, 0.4822, 0.4465)
STD = (0.2470, 0.2435, 0.2616)
IMAGE_SHAPE = (3, 32, 32)

# The official release's md5s, as torchvision.datasets.CIFAR10 lists them (a test keeps the two in step);
# copied so that recognising a directory does not cost a torchvision import on every load.
OFFICIAL_MD5S = {
    "batches.meta": "5ff9c542aee3614f3951f8cda6e48888",
    "data_batch_1": "c99cafc152244af753f735de768cd75f",
    "data_batch_2": "d4bba439e000b95fd0a9bffe97cbabec",
    "data_batch_3": "54ebc095f3ab1f0389bbae665268c751",
    "data_batch_4": "634d18415352ddfa80567beed471001a",
    "data_batch_5": "482c414d41f54cd18b22e5b47cb7c3cb",
    "test_batch": "40351d587109b95175f43aff81a1287e",
}
# The offline reconstruction in shared/data/cifar10-jpeg (see its README): original labels, order and
# batches.meta, 9,085 byte-exact images and the rest recovered from JPEG copies. Results measured on it
# are labelled "cifar10-jpeg", never "cifar10".
CIFAR10_JPEG_MD5S = {
    "batches.meta": "5ff9c542aee3614f3951f8cda6e48888",
    "data_batch_1": "201637d87208783862554b7606be181f",
    "data_batch_2": "7bf6f1035acd349b7cc7a28cfe8569dc",
    "data_batch_3": "6780800fd37b14b85c84f523a553dd98",
    "data_batch_4": "40660f65fc512b569fc29463cd07c65b",
    "data_batch_5": "e144d244739961931be08647419440c8",
    "test_batch": "e25f98d332ecdbe9286f88234eb3e757",
}


def _numpy_core(module: str):
    try:  # numpy >= 2 keeps these in numpy._core; pickles may name either path
        return importlib.import_module(f"numpy._core.{module}")
    except ImportError:  # numpy 1.x
        return importlib.import_module(f"numpy.core.{module}")


def _reconstruct():
    return _numpy_core("multiarray")._reconstruct


def _frombuffer():
    return _numpy_core("numeric")._frombuffer


# Everything a CIFAR batch pickle may refer to by name: the pieces numpy uses to rebuild an ndarray
# (protocol 2 as in the official release, protocol 5 via _frombuffer), and _codecs.encode, with which
# Python 3 writes bytes at protocol 2.
_ALLOWED_GLOBALS = {
    ("numpy.core.multiarray", "_reconstruct"): _reconstruct,
    ("numpy._core.multiarray", "_reconstruct"): _reconstruct,
    ("numpy.core.numeric", "_frombuffer"): _frombuffer,
    ("numpy._core.numeric", "_frombuffer"): _frombuffer,
    ("numpy", "ndarray"): lambda: np.ndarray,
    ("numpy", "dtype"): lambda: np.dtype,
    ("_codecs", "encode"): lambda: codecs.encode,
}


class RestrictedUnpickler(pickle.Unpickler):
    """Unpickler for CIFAR batch files that can build dicts, lists, strings and numpy arrays, nothing else.

    A pickle can name any importable callable and have it called while loading (``os.system`` with
    a shell command, say), so ``pickle.load`` on a file from a user's data directory or a download
    would run whatever it says. Resolving only the numpy array constructors keeps a hostile file inert.
    """

    def find_class(self, module: str, name: str):
        resolve = _ALLOWED_GLOBALS.get((module, name))
        if resolve is None:
            raise pickle.UnpicklingError(
                f"refusing to load {module}.{name}: CIFAR-10 batch files only hold numpy arrays and lists"
            )
        return resolve()


def _unpickle(path: Path, data: bytes) -> dict[str, object]:
    try:
        # latin1 decodes the Python 2 strings of the official release (and leaves bytes keys readable).
        loaded = RestrictedUnpickler(io.BytesIO(data), encoding="latin1").load()
    except (
        pickle.UnpicklingError,
        EOFError,
        ValueError,
        TypeError,
        KeyError,
        IndexError,
        AttributeError,
    ) as e:
        raise DatasetError(f"{path} is not a readable CIFAR-10 pickle: {e}") from e
    if not isinstance(loaded, dict):
        raise DatasetError(f"{path} is not a CIFAR-10 pickle: it holds a {type(loaded).__name__}, not a dict")
    return {key.decode("latin1") if isinstance(key, bytes) else key: value for key, value in loaded.items()}


def _parse_batch(path: Path, data: bytes) -> tuple[np.ndarray, np.ndarray]:
    batch = _unpickle(path, data)
    images, labels = batch.get("data"), batch.get("labels")
    if not isinstance(images, np.ndarray) or images.dtype != np.uint8 or images.ndim != 2:
        got = f"{images.dtype} {images.shape}" if isinstance(images, np.ndarray) else type(images).__name__
        raise DatasetError(f"{path}: 'data' must be a uint8 array of shape (N, 3072), got {got}")
    if images.shape[1] != int(np.prod(IMAGE_SHAPE)):
        raise DatasetError(f"{path}: 'data' must be a uint8 array of shape (N, 3072), got {images.shape}")
    if not isinstance(labels, list):
        raise DatasetError(f"{path}: 'labels' must be a list, got {type(labels).__name__}")
    return images, class_indices(path, np.asarray(labels), len(images), len(CLASSES))


def _read_classes(root: Path) -> tuple[str, ...]:
    path = root / META_FILE
    if not path.is_file():
        return CLASSES
    names = _unpickle(path, path.read_bytes()).get("label_names")
    if not isinstance(names, list) or len(names) != len(CLASSES):
        raise DatasetError(f"{path}: 'label_names' must list {len(CLASSES)} class names, got {names!r}")
    return tuple(n.decode() if isinstance(n, bytes) else str(n) for n in names)


def _read_exact_mask(path: Path, names: tuple[str, ...], sizes: list[int]) -> torch.Tensor:
    try:
        with np.load(path, allow_pickle=False) as arrays:
            parts = [arrays[name] for name in names]
    except (OSError, ValueError, KeyError) as e:
        raise DatasetError(f"{path}: expected one boolean array per batch file {names}: {e}") from e
    if [p.shape for p in parts] != [(n,) for n in sizes] or any(p.dtype != np.bool_ for p in parts):
        raise DatasetError(f"{path}: expected boolean arrays of lengths {sizes} for {names}")
    return torch.from_numpy(np.concatenate(parts))


def find_batches_dir(data_dir: Path) -> Path | None:
    """``<data_dir>/cifar-10-batches-py``, or the offline layout's ``cifar10-jpeg/cifar-10-batches-py``."""
    for candidate in (data_dir / BATCHES_DIR, data_dir / "cifar10-jpeg" / BATCHES_DIR):
        if candidate.is_dir():
            return candidate
    return None


def _download(data_dir: Path) -> Path:
    from torchvision.datasets import CIFAR10

    with staging_dir(data_dir) as staging:
        fetch([CIFAR10.url], staging, CIFAR10.filename, CIFAR10.tgz_md5, extract=True)
        move_into_place(staging / BATCHES_DIR, data_dir / BATCHES_DIR)
    return data_dir / BATCHES_DIR


def load_cifar10(data_dir: Path, split: str, download: bool, warn: bool = True) -> ArrayDataset:
    """Read a CIFAR-10 split (downloading the release into `data_dir` first if it is absent and allowed)."""
    root = find_batches_dir(data_dir)
    expected = f"{data_dir / BATCHES_DIR}/ holding {', '.join(RELEASE_FILES)} (the torchvision layout)"
    if root is None:
        if not download:
            raise DatasetError(f"no CIFAR-10 data in {data_dir}: expected {expected}; {DOWNLOAD_HINT}")
        root = _download(data_dir)
    names = SPLIT_FILES[split]
    missing = [name for name in names if not (root / name).is_file()]
    if missing:
        raise DatasetError(f"{root} is incomplete: {', '.join(missing)} missing; expected {expected}")
    contents = {name: (root / name).read_bytes() for name in names}
    batches = [_parse_batch(root / name, contents[name]) for name in names]
    images = torch.from_numpy(np.concatenate([b[0] for b in batches]).reshape(-1, *IMAGE_SHAPE))
    labels = torch.from_numpy(np.concatenate([b[1] for b in batches]))

    present = {name: root / name for name in RELEASE_FILES if (root / name).is_file()}
    md5s = file_md5s(present, contents)
    identity = identify(md5s, {"cifar10": OFFICIAL_MD5S, "cifar10-jpeg": CIFAR10_JPEG_MD5S}, "cifar10")
    exact_mask, note = None, ""
    if identity == "cifar10-jpeg":
        mask_path = root.parent / EXACT_MASK_FILE
        if mask_path.is_file():
            exact_mask = _read_exact_mask(mask_path, names, [len(b[1]) for b in batches])
        else:
            note = f" (no {mask_path}: exact_mask unavailable)"
    if warn:
        warn_if_unofficial(root, "cifar10", identity, note)
    return ArrayDataset(images, labels, identity, _read_classes(root), MEAN, STD, exact_mask)
