"""The ``feature-maps`` study: what the first two layers of FastResNet9, ResNet9 and ResNet18 make of
one image (seed 001's feature-map figures). It trains nothing: each model's published weights are used
when there are some (``ZOO_WEIGHTS_DIR``, the Hub cache or the Hub), a fresh initialisation otherwise,
and the report says which.
"""

from __future__ import annotations

import logging
import math
from pathlib import Path
from typing import Any

import torch
from torch import nn

from .._builder import create
from .._errors import ZooError
from .._pretrained_cfg import data_config

logger = logging.getLogger("zoo")

MODELS = ("fast_resnet9", "resnet9", "resnet18")
LAYERS = 2  # the first and second convolutions
MAX_CHANNELS = 64  # maps shown per layer


class FeatureMapsError(ZooError, ValueError):
    """The image to look at cannot be read: a missing or unreadable file, a test index out of range."""


def load_image(image: str | int | Path | None, data_dir: str | Path | None) -> tuple[torch.Tensor, str]:
    """(uint8 3x32x32 image, what it is): a CIFAR-10 test-set index (default 0) or an image file
    (any size or mode PIL reads; converted to RGB and resized to 32x32)."""
    if image is None or isinstance(image, int) or str(image).isdigit():
        from ..data import load_dataset  # only for a test-set index, not for an image file

        index = int(image or 0)
        test = load_dataset("cifar10", "test", data_dir)
        if not 0 <= index < len(test.labels):
            raise FeatureMapsError(
                f"--image {index}: the CIFAR-10 test set has images 0 to {len(test.labels) - 1}"
            )
        label = test.classes[int(test.labels[index])]
        return test.images[index].clone(), f"{test.identity} test image {index} ({label})"
    from PIL import Image, UnidentifiedImageError

    path = Path(image)
    try:
        with Image.open(path) as opened:
            rgb = opened.convert("RGB").resize((32, 32), Image.Resampling.BICUBIC)
    except (OSError, UnidentifiedImageError) as error:
        raise FeatureMapsError(
            f"--image {str(path)!r} cannot be read as an image ({error}); give an image file (PNG, JPEG, "
            "...) or a CIFAR-10 test-set index"
        ) from None
    pixels = torch.frombuffer(bytearray(rgb.tobytes()), dtype=torch.uint8).view(32, 32, 3)
    return pixels.permute(2, 0, 1).contiguous(), f"{path.name} (resized to 32x32)"


def _model(name: str) -> tuple[nn.Module, str]:
    try:
        model = create(name, pretrained=True)
        return model, f"published weights {name}.{model.pretrained_cfg['tag']}"
    except ZooError as error:
        logger.info("feature-maps: %s without published weights (%s)", name, str(error).splitlines()[0])
        return create(name), "untrained (fresh initialisation: no published weights found)"


def first_convs(net: nn.Module, count: int = LAYERS) -> list[nn.Conv2d]:
    """The first `count` convolutions in forward order (FastResNet9's frozen whitening included)."""
    return [m for m in net.modules() if isinstance(m, nn.Conv2d)][:count]


def feature_maps(net: nn.Module, x: torch.Tensor) -> list[torch.Tensor]:
    """The outputs (C x H x W) of `first_convs` for the batch of one `x`, in eval mode."""
    captured: list[torch.Tensor] = []
    handles = [
        m.register_forward_hook(lambda _m, _a, output: captured.append(output[0].detach().float()))
        for m in first_convs(net)
    ]
    try:
        with torch.no_grad():
            net.eval()(x)
    finally:
        for handle in handles:
            handle.remove()
    return captured


def mosaic(maps: torch.Tensor, pad: int = 1) -> torch.Tensor:
    """C x H x W maps as one square grid image, each map scaled to [0, 1] on its own (NaN padding)."""
    c, h, w = maps.shape
    side = math.ceil(math.sqrt(c))
    low = maps.amin(dim=(1, 2), keepdim=True)
    span = (maps.amax(dim=(1, 2), keepdim=True) - low).clamp_min(1e-12)
    scaled = (maps - low) / span
    grid = torch.full((side * (h + pad) - pad, side * (w + pad) - pad), float("nan"))
    for i in range(c):
        r, k = divmod(i, side)
        grid[r * (h + pad) : r * (h + pad) + h, k * (w + pad) : k * (w + pad) + w] = scaled[i]
    return grid


def _draw(name: str, pixels: torch.Tensor, maps: list[torch.Tensor], what: str, path: Path) -> None:
    from .figures import _pyplot

    plt = _pyplot()
    fig, axes = plt.subplots(
        1, 1 + len(maps), figsize=(3 + 5 * len(maps), 5.2), width_ratios=[0.6] + [1] * len(maps)
    )
    axes[0].imshow(pixels.permute(1, 2, 0).numpy())
    axes[0].set_title("input (32x32)", fontsize="small")
    for i, (ax, layer) in enumerate(zip(axes[1:], maps, strict=True)):
        shown = layer[:MAX_CHANNELS]
        ax.imshow(mosaic(shown).numpy(), cmap="viridis", interpolation="nearest")
        title = f"layer {i + 1}: {shown.shape[0]} of {layer.shape[0]} maps, {layer.shape[1]}x{layer.shape[2]}"
        ax.set_title(f"{title}\n(each map scaled to its own range)", fontsize="small")
    for ax in axes:
        ax.axis("off")
    fig.suptitle(f"{name} ({what})", fontsize="medium")
    fig.tight_layout(rect=(0, 0, 1, 0.93))  # room for the title
    fig.savefig(path, dpi=90)
    plt.close(fig)


def run(study, out: Path, scale: str, data_dir, device, image=None) -> list[dict[str, Any]]:
    """Draw OUT/feature-maps-MODEL.png for each of MODELS; the report's rows (which weights, which image)."""
    pixels, what = load_image(image, data_dir)
    rows = []
    for name in MODELS:
        model, weights = _model(name)
        config = data_config(model)
        mean, std = torch.tensor(config["mean"]).view(3, 1, 1), torch.tensor(config["std"]).view(3, 1, 1)
        x = (pixels.float().div(255) - mean) / std
        maps = feature_maps(model, x.unsqueeze(0))
        figure = f"feature-maps-{name}.png"
        _draw(name, pixels, maps, weights, out / figure)
        shapes = ", ".join(f"{m.shape[0]}x{m.shape[1]}x{m.shape[2]}" for m in maps)
        rows.append(
            {
                "cell": name,
                "table": "feature maps",
                "row": name,
                "model": name,
                "value": f"{weights}; layer outputs {shapes}",
                "dataset": what,
                "device": "cpu",
                "figure": figure,
                "history": [],
                "probes": {},
            }
        )
    return rows
