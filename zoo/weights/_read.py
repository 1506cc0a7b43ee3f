"""Reading verified weights files into a state dict, and copying one into a model."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

from .._files import read_json, read_safetensors
from ._client import HubError

if TYPE_CHECKING:
    import torch
    from torch import nn

INDEX_FILE = "model.safetensors.index.json"
SINGLE_FILE = "model.safetensors"
_BROKEN = "it matches the manifest's sha256, so the published file is broken: re-publish with `zoo push`"


class WeightsShapeError(HubError):
    """The published tensors do not fit the model built (other than a resized classifier)."""


class WeightsFileError(HubError):
    """A weights file that matches the manifest's sha256 but cannot be read: the published file is broken."""


def read_weights(paths: dict[str, Path]) -> tuple[dict[str, torch.Tensor], dict[str, str]]:
    """The state dict and zoo metadata of verified files: one safetensors file, or an index and its shards.

    A file that matches the manifest but cannot be read is a `WeightsFileError` naming it.
    """
    if INDEX_FILE in paths:
        index = read_json(paths[INDEX_FILE], WeightsFileError, "a safetensors index", _BROKEN)
        weight_map = index.get("weight_map") if isinstance(index, dict) else None
        if not isinstance(weight_map, dict):
            raise WeightsFileError(f"{paths[INDEX_FILE]} has no 'weight_map' object; {_BROKEN}")
        shards = sorted(set(map(str, weight_map.values())))
        unlisted = [s for s in shards if s not in paths]
        if unlisted:  # every byte loaded must have been checked against the manifest
            raise WeightsShapeError(
                f"{paths[INDEX_FILE]} names shard(s) {', '.join(unlisted)} that the manifest "
                "does not list, so they cannot be verified; re-publish with `zoo push`"
            )
        metadata = {k: str(v) for k, v in (index.get("metadata") or {}).items()}
        files = [paths[s] for s in shards]
    else:
        metadata, files = {}, [paths[SINGLE_FILE]]
    state: dict[str, torch.Tensor] = {}
    for file in files:
        tensors, own = read_safetensors(file, WeightsFileError, _BROKEN)
        metadata = {**own, **metadata}
        state.update(tensors)
    return state, metadata


def classifier_prefix(model: nn.Module) -> str | None:
    """The state-dict prefix of ``model.get_classifier()`` (e.g. ``"fc"``), None if the model has none."""
    get = getattr(model, "get_classifier", None)
    head = get() if callable(get) else None
    if head is None:
        return None
    return next((name for name, module in model.named_modules() if module is head and name), None)


def _misfits(own: dict[str, torch.Tensor], state: dict[str, torch.Tensor], skipped: set[str]) -> str:
    """Why `state` does not load into a model whose state dict is `own`, naming the tensors."""
    shapes = [
        f"{k} (weights {list(state[k].shape)}, model {list(own[k].shape)})"
        for k in own
        if k in state and state[k].shape != own[k].shape
    ]
    groups = (
        ("shape mismatch", shapes),
        ("missing from the weights", sorted(set(own) - set(state) - skipped)),
        ("not in the model", sorted(set(state) - set(own))),
    )
    return "; ".join(
        f"{label}: {', '.join(items[:6])}{' ...' if len(items) > 6 else ''}"
        for label, items in groups
        if items
    )


def load_weights(
    model: nn.Module, state: dict[str, torch.Tensor], *, name: str, keep_classifier: bool
) -> None:
    """Copy `state` into `model`; without `keep_classifier` the classifier keeps its fresh initialisation.

    Any other missing, unexpected or differently shaped tensor is a `WeightsShapeError` naming them.
    """
    skipped: set[str] = set()
    prefix = None if keep_classifier else classifier_prefix(model)
    if prefix:
        state = {k: v for k, v in state.items() if not k.startswith(prefix + ".")}
        skipped = {k for k in model.state_dict() if k.startswith(prefix + ".")}
    # Load first, diagnose only on failure: the checks cost nothing on the usual path.
    try:
        outcome = model.load_state_dict(state, strict=False)
        fits = not outcome.unexpected_keys and set(outcome.missing_keys) <= skipped
    except RuntimeError:  # a shape mismatch raises whatever `strict` says
        fits = False
    if not fits:
        raise WeightsShapeError(
            f"the published weights of {name} do not fit the model built: "
            f"{_misfits(model.state_dict(), state, skipped)}"
            " (an option that changes the architecture cannot take these weights)"
        )


def normalisation_from(metadata: dict[str, str]) -> tuple[list[float], list[float]] | None:
    """The mean/std a weights or checkpoint file records (``zoo.mean``, ``zoo.std``), if it does."""
    try:
        mean, std = json.loads(metadata["zoo.mean"]), json.loads(metadata["zoo.std"])
    except (KeyError, ValueError):
        return None
    return (mean, std) if isinstance(mean, list) and isinstance(std, list) else None


def trained_options(metadata: dict[str, str]) -> dict | None:
    """The builder options the weights were trained with (``zoo.options``), if they say."""
    try:
        options = json.loads(metadata.get("zoo.options", "null") or "null")
    except ValueError:  # no options to compare with: the weights load as the manifest describes them
        return None
    return options if isinstance(options, dict) else None
