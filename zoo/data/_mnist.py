"""MNIST in the torchvision layout: ``<data_dir>/MNIST/raw/`` holding the four idx files, gzipped or not."""

from __future__ import annotations

import gzip
import struct
import zlib
from pathlib import Path

import numpy as np
import torch

from ._download import DOWNLOAD_HINT, fetch, move_into_place, staging_dir
from ._identity import file_md5s, identify, warn_if_unofficial
from .array_dataset import ArrayDataset, DatasetError, class_indices

RAW_DIR = Path("MNIST") / "raw"
SPLIT_FILES = {  # (images, labels), named without the .gz suffix
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}
CLASSES = tuple(str(digit) for digit in range(10))
MEAN = (0.1307,)
STD = (0.3081,)

# md5s of the official files: the .gz ones as torchvision.datasets.MNIST.resources lists them (a test
# keeps the two in step; copied so that recognising a directory costs no torchvision import), and
# those of the decompressed files, so a directory of gunzipped originals is still recognised as "mnist".
OFFICIAL_MD5S = {
    "train-images-idx3-ubyte.gz": "f68b3c2dcbeaaa9fbdd348bbdeb94873",
    "train-labels-idx1-ubyte.gz": "d53e105ee54ea40749a09fcbcd1e9432",
    "t10k-images-idx3-ubyte.gz": "9fb629c4189551a2d022fa330f9573f3",
    "t10k-labels-idx1-ubyte.gz": "ec29112dd5afa0611ce80d1b7f02629c",
    "train-images-idx3-ubyte": "6bbc9ace898e44ae57da46a324031adb",
    "train-labels-idx1-ubyte": "a25bea736e30d166cdddb491f175f624",
    "t10k-images-idx3-ubyte": "2646ac647ad5339dbf082846283269ea",
    "t10k-labels-idx1-ubyte": "27ae3e4e09519cfbb04c329615203637",
}
_IDX_UBYTE = 0x08  # idx type code for unsigned bytes, the only one MNIST uses


def _find(raw: Path, stem: str) -> Path | None:
    for path in (raw / f"{stem}.gz", raw / stem):
        if path.is_file():
            return path
    return None


def parse_idx(path: Path, data: bytes, ndim: int) -> np.ndarray:
    """The uint8 array in an idx file's bytes (gzip-compressed or not), checking it has `ndim` dims."""
    if data[:2] == b"\x1f\x8b":
        try:
            data = gzip.decompress(data)
        except (OSError, EOFError, zlib.error) as e:
            raise DatasetError(f"{path} is not a readable gzip file: {e}") from e
    if len(data) < 4 or data[:3] != bytes([0, 0, _IDX_UBYTE]) or data[3] != ndim:
        raise DatasetError(
            f"{path} is not an idx file of {ndim}-d unsigned bytes (header {data[:4].hex() or 'empty'}, "
            f"expected 000008{ndim:02x})"
        )
    header = 4 + 4 * ndim
    if len(data) < header:
        raise DatasetError(f"{path} is truncated: {len(data)} bytes, shorter than its {header}-byte header")
    shape = struct.unpack(f">{ndim}I", data[4:header])
    if len(data) - header != int(np.prod(shape)):
        raise DatasetError(f"{path}: header promises shape {shape} but {len(data) - header} bytes follow it")
    return np.frombuffer(data, dtype=np.uint8, offset=header).reshape(shape).copy()


def _download(raw: Path, stems: list[str]) -> None:
    from torchvision.datasets import MNIST

    md5s = dict(MNIST.resources)
    with staging_dir(raw) as staging:
        for stem in stems:
            filename = f"{stem}.gz"
            fetch([f"{mirror}{filename}" for mirror in MNIST.mirrors], staging, filename, md5s[filename])
            move_into_place(staging / filename, raw / filename)


def load_mnist(data_dir: Path, split: str, download: bool, warn: bool = True) -> ArrayDataset:
    """Read an MNIST split (downloading missing files into `data_dir` first if allowed)."""
    raw = data_dir / RAW_DIR
    stems = SPLIT_FILES[split]
    missing = [stem for stem in stems if _find(raw, stem) is None]
    if missing and download:
        _download(raw, missing)
    elif missing:
        raise DatasetError(
            f"no MNIST {split} data in {raw}: {', '.join(f'{s}[.gz]' for s in missing)} missing "
            f"(torchvision layout <data_dir>/MNIST/raw/); {DOWNLOAD_HINT}"
        )
    image_path, label_path = (_find(raw, stem) for stem in stems)
    contents = {path.name: path.read_bytes() for path in (image_path, label_path)}
    images = parse_idx(image_path, contents[image_path.name], ndim=3)
    labels = class_indices(
        label_path, parse_idx(label_path, contents[label_path.name], ndim=1), len(images), len(CLASSES)
    )

    release = (_find(raw, stem) for stem in (*SPLIT_FILES["train"], *SPLIT_FILES["test"]))
    md5s = file_md5s({path.name: path for path in release if path is not None}, contents)
    identity = identify(md5s, {"mnist": OFFICIAL_MD5S}, "mnist")
    if warn:
        warn_if_unofficial(raw, "mnist", identity)
    images = torch.from_numpy(images).unsqueeze(1)  # (N, 1, 28, 28)
    return ArrayDataset(images, torch.from_numpy(labels), identity, CLASSES, MEAN, STD)
