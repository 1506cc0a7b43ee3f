"""What a model expects as input: ``model.pretrained_cfg`` and `zoo.data_config` (as timm's
``resolve_data_config``): input size, per-channel mean and std, and the data set.

Every model `zoo.create` builds carries a ``pretrained_cfg`` dict: from the weights' own record
when pretrained, from its spec otherwise. There is no interpolation or crop: inputs are fed at
their native size.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ._errors import ZooError

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
    from .data import NORMALISATION
    from .hub._card import normalisation_from

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
        from ._builder import resolve_weights_tag
        from ._manifest import weights_entry
        from ._registry import registry, split_name

        spec = registry().get(model)
        tag = resolve_weights_tag(model, True) if split_name(model)[1] else None
        cfg = pretrained_cfg(spec, tag=tag, entry=weights_entry(spec.name, tag) if tag else None)
    else:
        cfg = getattr(model, "pretrained_cfg", None)
        if not isinstance(cfg, dict) or not set(DATA_KEYS) <= set(cfg):
            raise ZooError(
                f"this {type(model).__name__} has no zoo pretrained_cfg (it was not built by zoo.create): "
                "pass its registered name instead, e.g. zoo.data_config('resnet18')"
            )
    return {key: cfg[key] for key in DATA_KEYS}
