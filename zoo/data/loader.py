"""`DeviceLoader`: batches straight from a uint8 data set held whole on the training device."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator

import numpy as np
import torch

from .array_dataset import ArrayDataset
from .augment import Augment, AugmentDraws, CropFlipSource, draw, erase_boxes


def _generator(*words: int) -> torch.Generator:
    # SeedSequence mixes the words into a well-spread 64-bit seed: no two (seed, epoch, stream, rank)
    # tuples share a stream, unlike arithmetic such as seed * 1000 + epoch.
    state = np.random.SeedSequence(words).generate_state(1, dtype=np.uint64)[0]
    return torch.Generator().manual_seed(int(state))


_SHUFFLE, _AUGMENT, _ALTERNATE = 0, 1, 2  # stream tags for `_generator`


class DeviceLoader:
    """Whole uint8 data set resident on `device`; batched tensor-op augmentation; no per-image PIL.

    Yields ``(x, y)``: `x` normalised with the data set's mean/std, `dtype`, ``(B, C, H, W)`` (in
    channels-last memory format if `channels_last`), `y` int64, both on `device`.

    Determinism: the order of epoch ``e`` depends only on ``(seed, e)`` and its augmentation only on
    ``(seed, e, rank)``, so a restarted run that calls ``set_epoch(e)`` replays epoch ``e`` exactly.
    As with ``DistributedSampler``, call `set_epoch` before each epoch: iterating again without it
    repeats the same epoch.

    Distributed: with `world_size` > 1 every rank takes ``indices[rank::world_size]`` of the same
    epoch permutation. When the data set does not divide evenly the permutation is *padded* by
    repeating its first samples (as ``DistributedSampler`` does), so every rank has `num_samples`
    samples and the same number of batches; `num_padded` says how many of this rank's samples (always
    its last ones) are such repeats, for evaluations that must count each image once.

    Args:
        dataset: the images and labels; copied to `device` once.
        batch_size: samples per batch.
        train: shuffle and augment (with `augment`, default ``Augment()``); eval batches come in a
            fixed order without augmentation, and passing `augment` with ``train=False`` is an error.
        shuffle: overrides the default (``train``).
        drop_last: drop this rank's last batch if it is smaller than `batch_size`.
        seed, rank, world_size: see above.
        channels_last: return `x` in channels-last memory format.
        dtype: floating dtype of `x`; normalisation is computed in float32 and then cast.
    """

    def __init__(
        self,
        dataset: ArrayDataset,
        batch_size: int,
        *,
        train: bool,
        device: str | torch.device = "cpu",
        augment: Augment | None = None,
        shuffle: bool | None = None,
        drop_last: bool = False,
        seed: int = 0,
        rank: int = 0,
        world_size: int = 1,
        channels_last: bool = False,
        dtype: torch.dtype = torch.float32,
    ) -> None:
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        if not 0 <= rank < world_size:
            raise ValueError(f"rank must lie in 0..world_size-1, got rank {rank} of world_size {world_size}")
        if seed < 0:
            raise ValueError(f"seed must be >= 0, got {seed}")
        if len(dataset) == 0:
            raise ValueError(f"cannot load batches from an empty data set ({dataset!r})")
        if not dtype.is_floating_point:
            raise ValueError(f"dtype must be a floating-point dtype, got {dtype}")
        if augment is not None and not train:
            raise ValueError("augment applies to training loaders only: pass train=True or drop augment")
        self.dataset = dataset
        self.batch_size = batch_size
        self.train = train
        self.device = torch.device(device)
        self.augment = (augment or Augment()) if train else None
        self.shuffle = train if shuffle is None else shuffle
        self.drop_last = drop_last
        self.seed, self.rank, self.world_size = seed, rank, world_size
        self.channels_last = channels_last
        self.dtype = dtype
        self.epoch = 0
        self.image_side: int | None = None  # train batches resized to this square side (None: as stored)

        self.num_samples = (len(dataset) + world_size - 1) // world_size
        # The padded positions are the last (total - len) of the padded permutation; this rank's last
        # position, world_size * (num_samples - 1) + rank, is one of them or none is.
        self.num_padded = int(world_size * (self.num_samples - 1) + rank >= len(dataset))

        self.images = dataset.images.to(self.device)
        self.labels = dataset.labels.to(self.device)
        augment = self.augment
        self._crop_flip = (
            CropFlipSource(self.images, augment.crop_padding, augment.flip, augment.padding_mode)
            if augment is not None and (augment.crop_padding or augment.flip)
            else None
        )
        mean = torch.tensor(dataset.mean, dtype=torch.float32, device=self.device).view(1, -1, 1, 1)
        std = torch.tensor(dataset.std, dtype=torch.float32, device=self.device).view(1, -1, 1, 1)
        # (x / 255 - mean) / std == x * scale - shift.
        self._scale = 1.0 / (255.0 * std)
        self._shift = mean / std

    def set_epoch(self, epoch: int) -> None:
        """Select the epoch whose order and augmentation the next iteration produces."""
        if epoch < 0:
            raise ValueError(f"epoch must be >= 0, got {epoch}")
        self.epoch = int(epoch)

    def __len__(self) -> int:
        if self.drop_last:
            return self.num_samples // self.batch_size
        return (self.num_samples + self.batch_size - 1) // self.batch_size

    def indices(self) -> torch.Tensor:
        """This rank's sample indices for the current epoch, in batch order (CPU int64)."""
        n = len(self.dataset)
        if self.shuffle:
            order = torch.randperm(n, generator=_generator(self.seed, self.epoch, _SHUFFLE))
        else:
            order = torch.arange(n)
        total = self.num_samples * self.world_size
        if total > n:
            order = order.repeat(-(-total // n))[:total]
        return order[self.rank :: self.world_size]

    def _draws(self, order: torch.Tensor) -> AugmentDraws | None:
        if self.augment is None or self.augment.is_identity:
            return None
        height, width = self.images.shape[-2:]
        generator = _generator(self.seed, self.epoch, _AUGMENT, self.rank)
        draws = draw(self.augment, len(order), height, width, generator)
        if draws.flip is not None and self.augment.flip_mode == "alternate":
            # One coin per image for the whole run (all ranks alike), inverted every other epoch.
            coins = torch.rand(len(self.dataset), generator=_generator(self.seed, _ALTERNATE)) < 0.5
            draws = dataclasses.replace(draws, flip=coins[order] ^ bool(self.epoch % 2))
        return draws.to(self.device)

    def _normalise(self, images: torch.Tensor) -> torch.Tensor:
        if self.channels_last:  # converting the uint8 batch is 4x cheaper, and float ops keep the layout
            images = images.contiguous(memory_format=torch.channels_last)
        # uint8 * float32 promotes to float32: conversion and scaling in one pass.
        x = torch.mul(images, self._scale).sub_(self._shift)
        return x if self.dtype == torch.float32 else x.to(self.dtype)

    def __iter__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        order = self.indices()
        draws = self._draws(order)
        order = order.to(self.device)
        for start in range(0, len(self) * self.batch_size, self.batch_size):
            rows = slice(start, start + self.batch_size)
            index = order[rows]
            batch_draws = draws[rows] if draws is not None else None
            if self._crop_flip is not None:
                x = self._crop_flip(index, batch_draws)
            else:
                x = self.images.index_select(0, index)
            x = self._normalise(x)
            if batch_draws is not None and batch_draws.boxes:
                x = erase_boxes(x, batch_draws.boxes)
            side = self.image_side
            if side is not None and side != x.shape[-1]:  # resized after augmenting at full size
                x = torch.nn.functional.interpolate(x, size=(side, side), mode="bilinear", antialias=True)
            yield x, self.labels.index_select(0, index)
