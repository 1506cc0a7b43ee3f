"""`convert`: checkpoints saved by the seed's, pytorch-cifar's or CIFAR-ZOO's code, as zoo model files.

The file is read with ``torch.load(weights_only=True)`` only (never the full unpickler), unwrapped
from ``{'net': ...}`` / ``{'state_dict': ...}``, stripped of DataParallel's ``module.`` prefixes,
renamed by the explicit per-family maps of `zoo.convert.layouts`, loaded strictly into the zoo
model and saved as ``model.safetensors`` (as `zoo.checkpoint.save_model` writes it), which
`zoo eval --checkpoint` and `zoo push --checkpoint` take.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch

from .._builder import create, model_info
from .._errors import ZooError
from ..checkpoint import save_model
from .layouts import LAYOUTS, NORMALISATION, SOURCES, Layout

__all__ = ["SOURCES", "ConvertError", "convert_checkpoint", "convert_state_dict", "load_source_state"]

_WRAPPERS = ("state_dict", "net", "model")  # where training scripts put the weights


class ConvertError(ZooError, ValueError):
    """A checkpoint that cannot be converted: unreadable, not tensors, or another architecture."""


def layout_for(model: str, source: str) -> Layout:
    """The key map from `source`'s code to the zoo's `model`."""

    name = model_info(model).name  # an unknown name fails here, with suggestions
    if source not in SOURCES:
        raise ConvertError(f"unknown source {source!r}; choose one of {', '.join(SOURCES)}")
    layouts = LAYOUTS.get(name, {})
    if source not in layouts:
        known = ", ".join(layouts) or "none"
        raise ConvertError(
            f"{name} has no counterpart in {source}'s code (sources it converts from: {known})"
        )
    return layouts[source]


def load_source_state(path: str | Path) -> dict[str, torch.Tensor]:
    """The tensors of a .pth / .pt / .t7 state dict, unwrapped and without ``module.`` prefixes."""
    path = Path(path)
    if not path.is_file():
        raise ConvertError(f"no checkpoint file at {path}")
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # the safe unpickler refuses code objects, modules, unknown classes
        reason = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise ConvertError(
            f"{path} is not a plain tensor checkpoint (torch.load with weights_only=True refused it: "
            f"{reason}); save model.state_dict(), not the model"
        ) from None
    while isinstance(obj, Mapping) and not _is_tensor_dict(obj):
        inner = next((obj[k] for k in _WRAPPERS if isinstance(obj.get(k), Mapping)), None)
        if inner is None:
            break
        obj = inner
    if not isinstance(obj, Mapping) or not obj or not _is_tensor_dict(obj):
        raise ConvertError(
            f"{path} holds no state dict of tensors (found {_describe(obj)}); expected model.state_dict(), "
            f"possibly inside {{'net': ...}} or {{'state_dict': ...}}"
        )
    return {k.removeprefix("module."): v for k, v in obj.items()}


def _is_tensor_dict(obj: Mapping) -> bool:
    return all(isinstance(k, str) and isinstance(v, torch.Tensor) for k, v in obj.items())


def _describe(obj: Any) -> str:
    if isinstance(obj, Mapping):
        return f"a dict with keys {', '.join(map(str, list(obj)[:5]))}" if obj else "an empty dict"
    return f"a {type(obj).__name__}"


def _rename(key: str, layout: Layout) -> str:
    path, _, leaf = key.rpartition(".")
    for pattern, target in layout.rules:
        match = re.fullmatch(pattern, path)
        if match:
            new = target.format(*match.groups()) if isinstance(target, str) else target(*match.groups())
            return f"{new}.{leaf}"
    raise ConvertError(f"unexpected tensor {key!r}: not part of {layout.code}; is this the right model?")


def convert_state_dict(
    model: str, state: Mapping[str, torch.Tensor], source: str
) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """`state` (from `source`'s code) renamed for the zoo's `model`, and the builder options that
    make the zoo model compute what the source module computes (num_classes from the classifier).

    The renamed tensors are checked against a freshly built zoo model: every key present, none
    extra, every shape equal (after the layout's transform), so a wrong architecture fails here.
    """

    layout = layout_for(model, source)
    renamed = {_rename(key, layout): tensor for key, tensor in state.items()}
    if "fc.weight" not in renamed:
        raise ConvertError(f"the checkpoint has no classifier weights: not {layout.code}")
    options = {**layout.options, "num_classes": renamed["fc.weight"].shape[0]}
    with torch.device("meta"):  # shapes only: no memory, no init work
        expected = create(model, **options).state_dict()
    for key in expected.keys() - renamed.keys():
        if key.endswith("num_batches_tracked"):  # absent from checkpoints of PyTorch < 0.4.1
            renamed[key] = torch.zeros((), dtype=torch.long)
    missing = sorted(expected.keys() - renamed.keys())
    extra = sorted(renamed.keys() - expected.keys())
    if missing or extra:
        what = f"lacks {missing[0]!r}" if missing else f"has an unexpected {extra[0]!r}"
        count = len(missing) + len(extra)
        raise ConvertError(
            f"the checkpoint {what} ({count} key(s) differ): not {layout.code} as {model} needs"
        )
    converted = {}
    for key, want in expected.items():
        tensor = renamed[key]
        if tensor.shape != want.shape and layout.transform is not None:
            tensor = layout.transform(key, tensor, want)
        if tensor.shape != want.shape:
            raise ConvertError(
                f"{key}: shape {tuple(tensor.shape)} in the checkpoint, {tuple(want.shape)} in {model}: "
                f"not {layout.code} as {model} needs"
            )
        converted[key] = tensor.to(want.dtype)
    return converted, options


def convert_checkpoint(model: str, checkpoint: str | Path, source: str, out: str | Path) -> Path:
    """Convert `checkpoint` (saved by `source`'s code) to a zoo model file in `out`; its path."""

    layout_for(model, source)  # a bad name or source fails before the file is read
    state, options = convert_state_dict(model, load_source_state(checkpoint), source)
    num_classes = options.pop("num_classes")
    net = create(model, num_classes=num_classes, **options)
    net.load_state_dict(state)
    mean, std = NORMALISATION[source]
    extra = {
        "converted_from": source,
        "source_file": Path(checkpoint).name,
        "mean": list(mean),
        "std": list(std),
    }
    return save_model(net, out, name=model, options=options, extra=extra)
