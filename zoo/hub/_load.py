"""Building a model with its published weights: what ``zoo.create(name, pretrained=True)`` runs."""

from __future__ import annotations

import json
import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .._files import read_json, read_safetensors
from .._pretrained_cfg import pretrained_cfg
from ._errors import WeightsFileError, WeightsShapeError
from ._fetch import fetch_files, manifest_entry

if TYPE_CHECKING:
    import torch
    from torch import nn

    from .._spec import ModelSpec

INDEX_FILE = "model.safetensors.index.json"
SINGLE_FILE = "model.safetensors"
_BROKEN = "it matches the manifest's sha256, so the published file is broken: re-publish with `zoo push`"


class PretrainedWeightsWarning(UserWarning):
    """Published weights loaded with a change: a new classifier, or options they were not trained with."""


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


def load_pretrained(
    spec: ModelSpec,
    tag: str,
    *,
    num_classes: int | None = None,
    options: dict[str, Any] | None = None,
    token: str | bool | None = None,
) -> nn.Module:
    """Build `spec`'s model with `options` and load its published weights `tag` (verified first).

    With a `num_classes` other than the weights', everything but the classifier is loaded and the
    classifier keeps its fresh initialisation (a `PretrainedWeightsWarning` says so).
    """
    _, _, entry = manifest_entry(spec.name, tag)
    options = dict(spec.kwargs if options is None else options)
    state, metadata = read_weights(fetch_files(entry, token=token))
    try:
        trained = json.loads(metadata.get("zoo.options", "null") or "null")
    except ValueError:  # no options to compare with: the weights load as the manifest describes them
        trained = None
    if isinstance(trained, dict):
        trained = {**spec.kwargs, **trained}
        trained.pop("num_classes", None)
        if trained != options:
            warnings.warn(
                f"{spec.name}.{tag} was trained with options {trained}, it is built with {options}",
                PretrainedWeightsWarning,
                stacklevel=3,
            )
    weights_classes = entry["num_classes"]
    num_classes = weights_classes if num_classes is None else num_classes
    model = spec.builder(num_classes=num_classes, **options)
    keep = num_classes == weights_classes
    if not keep:
        warnings.warn(
            f"{spec.name}.{tag} has a {weights_classes}-class classifier; loaded all weights but the "
            f"classifier, which is freshly initialised for {num_classes} classes",
            PretrainedWeightsWarning,
            stacklevel=3,
        )
    load_weights(model, state, name=f"{spec.name}.{tag}", keep_classifier=keep)
    model.pretrained_cfg = pretrained_cfg(spec, model, tag=tag, entry=entry, metadata=metadata)
    return model
