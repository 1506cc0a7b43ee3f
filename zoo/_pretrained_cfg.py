"""What a model expects as input: ``model.pretrained_cfg`` and `zoo.data_config` (as timm's
``resolve_data_config``): input size, per-channel mean and std, and the data set.

Every model `zoo.create` builds carries a ``pretrained_cfg`` dict: from the weights' own record
when pretrained, from its spec otherwise. There is no interpolation or crop: inputs are fed at
their native size.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ._errors import ZooError
from ._registry import registry, split_name
from .weights._read import normalisation_from
from .weights.lookup import manifest_entry

if TYPE_CHECKING:
    from torch import nn

    from ._spec import ModelSpec

DATA_KEYS = ("input_size", "mean", "std", "dataset")


def pretrained_cfg(
    spec: ModelSpec,
    model: nn.Module | None = None,
    *,
    tag: str | None = None,
    entry: dict[str, Any] | None = None,
    metadata: dict[str, str] | None = None,
) -> dict[str, Any]:
    """The config a model built from `spec` carries; `tag`, `entry` and `metadata` describe its weights."""
    from .data import NORMALISATION  # zoo.data loads on first use (`import zoo` stays light)

    mean, std = normalisation_from(metadata or {}) or NORMALISATION[spec.dataset]
    return {
        "architecture": spec.name,
        "tag": tag,
        "dataset": entry["dataset"] if entry else spec.dataset,
        "input_size": tuple(spec.input_size),
        "mean": tuple(mean),
        "std": tuple(std),
        "num_classes": getattr(model, "num_classes", spec.num_classes),
    }


def data_config(model: nn.Module | str) -> dict[str, Any]:
    """How to feed `model`: ``{"input_size", "mean", "std", "dataset"}``.

    `model` is a module built by `zoo.create`, or a registered name (``"name.tag"`` gives the
    data set of those weights).
    """
    if isinstance(model, str):
        spec = registry().get(model)
        _, tag, entry = manifest_entry(model) if split_name(model)[1] else (None, None, None)
        cfg = pretrained_cfg(spec, tag=tag, entry=entry)
    else:
        cfg = getattr(model, "pretrained_cfg", None)
        if not isinstance(cfg, dict) or not set(DATA_KEYS) <= set(cfg):
            raise ZooError(
                f"this {type(model).__name__} has no zoo pretrained_cfg (it was not built by zoo.create): "
                "pass its registered name instead, e.g. zoo.data_config('resnet18')"
            )
    return {key: cfg[key] for key in DATA_KEYS}


class Preprocess:
    """Turns images into the normalised float tensor a model expects (see `preprocess`).

    Takes a PIL image, an ``H x W x C`` uint8 numpy array, or a uint8 (0-255) or float (0-1) torch
    tensor ``C x H x W`` / ``N x C x H x W``; returns float32 ``C x H x W`` (``N x C x H x W`` for a
    batch), resized to the model's input size if it differs and converted to its channel count.
    """

    def __init__(
        self, input_size: tuple[int, int, int], mean: tuple[float, ...], std: tuple[float, ...]
    ) -> None:
        self.input_size = tuple(input_size)
        self.mean, self.std = tuple(mean), tuple(std)

    def __repr__(self) -> str:
        return f"Preprocess(input_size={self.input_size}, mean={self.mean}, std={self.std})"

    def __call__(self, image: Any) -> Any:
        import numpy as np  # torch and numpy load with the first image, not with `import zoo`
        import torch
        from torch.nn import functional as F

        if not isinstance(image, (torch.Tensor, np.ndarray)):  # PIL or anything numpy can read
            image = np.asarray(image)
        if isinstance(image, np.ndarray):
            # np.array copies: an array viewing a PIL image is read-only, which torch warns about.
            image = torch.from_numpy(np.array(image if image.ndim == 3 else image[..., None]))
            image = image.permute(2, 0, 1)
        if image.ndim not in (3, 4):
            raise ZooError(
                f"an image is C x H x W (or a batch N x C x H x W), got shape {tuple(image.shape)}"
            )
        batch = image if image.ndim == 4 else image[None]
        x = batch.float() / 255 if batch.dtype == torch.uint8 else batch.float()
        channels, height, width = self.input_size
        if x.shape[1] != channels:  # RGB for a grey-scale model and back
            x = x.mean(1, keepdim=True) if channels == 1 else x.expand(-1, channels, -1, -1)
        if tuple(x.shape[2:]) != (height, width):
            x = F.interpolate(x, size=(height, width), mode="bilinear", antialias=True, align_corners=False)
        mean = torch.tensor(self.mean).view(1, -1, 1, 1)
        std = torch.tensor(self.std).view(1, -1, 1, 1)
        x = (x - mean) / std
        return x if image.ndim == 4 else x[0]


def preprocess(model: nn.Module | str) -> Preprocess:
    """What to apply to an image before `model` sees it (as torchvision's ``weights.transforms()``),
    built from its `data_config`: scaled to [0, 1], resized to the input size, normalised."""
    config = data_config(model)
    return Preprocess(config["input_size"], config["mean"], config["std"])


def class_names(model: nn.Module | str) -> tuple[str, ...]:
    """The names of `model`'s classes, in the order of its outputs (the data set it was trained on)."""
    from .data import CLASS_NAMES  # zoo.data loads on first use (`import zoo` stays light)

    dataset = data_config(model)["dataset"]
    return CLASS_NAMES[dataset.removesuffix("-jpeg")]
