"""The data a run trains and evaluates on: the model's data set, limited and split as configured."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch

from .config import TrainConfig, TrainConfigError
from .distributed import DistContext


@dataclass
class RunData:
    """Device loaders plus what config.json and the model file record about the data."""

    train: Any  # zoo.data.DeviceLoader
    eval: Any  # the validation split when one is carved out, else the test split
    test: Any
    eval_split: str  # "val" or "test"
    identity: str
    sizes: dict[str, int]
    normalisation: tuple[tuple[float, ...], tuple[float, ...]]  # (mean, std) the loaders applied

    @property
    def has_val(self) -> bool:
        return self.eval_split == "val"


def _validation_size(val_size: float) -> int | float:
    return int(val_size) if val_size >= 1 else float(val_size)


def build_data(
    config: TrainConfig, dataset: str, num_classes: int, ctx: DistContext, device: torch.device
) -> RunData:
    """Load `dataset`, apply --limit-train then the validation split, and shard it over the ranks."""
    from zoo.data import Augment, DeviceLoader, load_dataset, split_validation

    recipe = config.recipe
    download = config.download or None  # None: only into the default data dir
    train_ds = load_dataset(dataset, "train", config.data_dir, download=download)
    test_ds = load_dataset(dataset, "test", config.data_dir, download=download, warn=False)  # warned once
    if train_ds.num_classes != num_classes:
        raise TrainConfigError(
            f"{config.model} predicts {num_classes} classes, but {train_ds.identity} has "
            f"{train_ds.num_classes}"
        )
    if config.limit_train is not None:
        if config.limit_train > len(train_ds):
            raise TrainConfigError(
                f"limit_train = {config.limit_train} exceeds the {len(train_ds)} training images of "
                f"{train_ds.identity}"
            )
        train_ds = train_ds.sample(config.limit_train, config.seed)
    if config.limit_test is not None:
        test_ds = test_ds.sample(config.limit_test, config.seed)
    val_ds = None
    if recipe.val_size:
        try:
            train_ds, val_ds = split_validation(train_ds, _validation_size(recipe.val_size), seed=config.seed)
        except ValueError as error:
            raise TrainConfigError(f"val_size = {recipe.val_size!r}: {error}") from None
    if recipe.batch_size % ctx.world_size:
        raise TrainConfigError(
            f"batch_size = {recipe.batch_size} (the global batch) must divide evenly over "
            f"{ctx.world_size} processes"
        )
    per_rank = recipe.batch_size // ctx.world_size
    common = dict(device=device, rank=ctx.rank, world_size=ctx.world_size, channels_last=config.channels_last)
    augment = Augment(
        crop_padding=recipe.crop_padding, flip=recipe.flip, cutout=recipe.cutout,
        padding_mode=recipe.padding_mode, flip_mode=recipe.flip_mode,
    )  # fmt: skip
    train = DeviceLoader(
        train_ds,
        per_rank,
        train=True,
        augment=augment,
        seed=config.seed,
        # Whole batches only (a batch of one breaks BatchNorm), unless the subset is smaller than one batch.
        drop_last=len(train_ds) >= recipe.batch_size,
        **common,
    )
    eval_batch = max(2 * per_rank, 1024)  # evaluation keeps no activations: big batches are cheap
    test = DeviceLoader(test_ds, eval_batch, train=False, **common)
    evaluation = DeviceLoader(val_ds, eval_batch, train=False, **common) if val_ds is not None else test
    sizes = {"train": len(train_ds), "val": len(val_ds) if val_ds is not None else 0, "test": len(test_ds)}
    return RunData(
        train,
        evaluation,
        test,
        "val" if val_ds is not None else "test",
        train_ds.identity,
        sizes,
        (train_ds.mean, train_ds.std),
    )
