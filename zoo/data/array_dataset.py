"""`ArrayDataset`: a whole image-classification data set as two CPU tensors, and its validation split."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from .._errors import ZooError

Indices = torch.Tensor | Sequence[int] | Sequence[bool] | slice


class DatasetError(ZooError, ValueError):
    """A data set that cannot be loaded: unknown name or split, or a data directory that is missing,
    incomplete or malformed, or a download that failed or did not match its md5."""


@dataclass(frozen=True, eq=False, repr=False)
class ArrayDataset:
    """Images and labels held in memory, plus what is needed to normalise and to label results.

    Attributes:
        images: uint8 ``(N, C, H, W)`` on the CPU.
        labels: int64 ``(N,)``.
        identity: which data this is, for recording next to results: ``"cifar10"``, ``"cifar10-jpeg"``,
            ``"mnist"`` or ``"<name>-custom-<md5 prefix>"`` for files that differ from every known release.
        classes: class names, indexed by label.
        mean, std: per-channel normalisation constants in [0, 1] pixel units.
        exact_mask: bool ``(N,)``, True where the image is byte-exact (only for ``cifar10-jpeg``), else None.
    """

    images: torch.Tensor
    labels: torch.Tensor
    identity: str
    classes: tuple[str, ...]
    mean: tuple[float, ...]
    std: tuple[float, ...]
    exact_mask: torch.Tensor | None = None

    def __post_init__(self) -> None:
        images, labels = self.images, self.labels
        if images.dtype != torch.uint8 or images.dim() != 4:
            raise ValueError(f"images must be uint8 (N, C, H, W), got {images.dtype} {tuple(images.shape)}")
        if labels.dtype != torch.int64 or labels.shape != images.shape[:1]:
            raise ValueError(
                f"labels must be int64 of shape ({len(images)},), got {labels.dtype} {tuple(labels.shape)}"
            )
        channels = images.shape[1]
        if len(self.mean) != channels or len(self.std) != channels:
            raise ValueError(f"mean/std need {channels} values each, got {self.mean} / {self.std}")
        mask = self.exact_mask
        if mask is not None and (mask.dtype != torch.bool or mask.shape != labels.shape):
            raise ValueError(
                f"exact_mask must be bool ({len(labels)},), got {mask.dtype} {tuple(mask.shape)}"
            )

    def __len__(self) -> int:
        return len(self.labels)

    def __repr__(self) -> str:
        shape = "x".join(str(s) for s in self.images.shape[1:])
        return (
            f"ArrayDataset(identity={self.identity!r}, n={len(self)}, image={shape}, "
            f"classes={len(self.classes)})"
        )

    @property
    def num_classes(self) -> int:
        return len(self.classes)

    def sample(self, count: int, seed: int = 0) -> ArrayDataset:
        """A seeded random subset of `count` images, in index order: what ``--limit-train``,
        ``--limit-test`` and ``zoo eval --limit`` take (random, not the first N, so the classes stay
        roughly balanced; on cifar10-jpeg the first 1,017 test images are the byte-exact ones)."""
        if count >= len(self):
            return self
        chosen = torch.randperm(len(self), generator=torch.Generator().manual_seed(seed))
        return self.subset(chosen[:count].sort().values)

    def subset(self, indices: Indices) -> ArrayDataset:
        """The rows at `indices` (ints, a bool mask or a slice); identity, classes and mean/std are kept."""
        if not isinstance(indices, slice):
            indices = torch.as_tensor(indices)
            if indices.dtype != torch.bool:
                indices = indices.to(torch.int64)
        mask = None if self.exact_mask is None else self.exact_mask[indices]
        return ArrayDataset(
            self.images[indices], self.labels[indices], self.identity, self.classes, self.mean, self.std, mask
        )


def _count(size: float, total: int) -> int:
    if isinstance(size, bool) or not isinstance(size, (int, float)):
        raise TypeError(f"validation size must be a count or a fraction, got {size!r}")
    if isinstance(size, float):
        if not 0.0 < size < 1.0:
            raise ValueError(f"a validation fraction must lie strictly between 0 and 1, got {size}")
        size = round(size * total)
    if not 0 < size < total:
        raise ValueError(f"validation size must leave both parts non-empty: got {size} of {total} samples")
    return size


def split_validation(ds: ArrayDataset, size: float, seed: int = 0) -> tuple[ArrayDataset, ArrayDataset]:
    """Split off a class-stratified validation set: returns ``(train_part, val_part)``.

    `size` is a sample count or a fraction of `ds`. Each class contributes in proportion to its
    frequency (largest remainders settle the rounding), the rows are chosen at random under `seed`,
    and both parts keep the original order of `ds`.
    """
    n_val = _count(size, len(ds))
    generator = torch.Generator().manual_seed(seed)
    order = torch.randperm(len(ds), generator=generator)
    classes, counts = torch.unique(ds.labels, return_counts=True)
    quotas = counts.double() * n_val / len(ds)
    take = quotas.floor().long()
    shortfall = n_val - int(take.sum())
    # Equal remainders go to the lower class (stable sort): the split depends on nothing but `seed`.
    by_remainder = torch.argsort(quotas - take, descending=True, stable=True)
    take[by_remainder[:shortfall]] += 1
    shuffled_labels = ds.labels[order]
    val = torch.cat([order[shuffled_labels == c][: int(k)] for c, k in zip(classes.tolist(), take.tolist())])
    is_val = torch.zeros(len(ds), dtype=torch.bool)
    is_val[val] = True
    return ds.subset(~is_val), ds.subset(is_val)


def class_indices(path: Path, labels: np.ndarray, count: int, num_classes: int) -> np.ndarray:
    """`labels` (read from `path`) as int64, after checking they are `count` integers in 0..num_classes-1."""
    if labels.shape != (count,) or labels.dtype.kind not in "iu":
        raise DatasetError(
            f"{path}: expected {count} integer labels, got {labels.dtype} of shape {labels.shape}"
        )
    if count and (labels.min() < 0 or labels.max() >= num_classes):
        raise DatasetError(
            f"{path}: labels must lie in 0..{num_classes - 1}, found {labels.min()}..{labels.max()}"
        )
    return labels.astype(np.int64)
