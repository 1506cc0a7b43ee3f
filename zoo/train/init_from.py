"""``--init-from``: where a run's weights start — published weights (``MODEL[.TAG]``) or a zoo model
file (a ``.safetensors`` file, or a folder holding ``model.safetensors``: a run's ``best/``, what
`zoo grow` writes, anything `zoo.checkpoint.save_model` wrote).

Both are checked before any data loads. A model file must hold the run's model, with its class
count; builder options it was saved with become the run's unless the run sets them otherwise. Its
``zoo.grown_from`` is carried into the run's model files, so a release made from the run can say
what it grew from.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .._builder import create, list_models
from .._errors import ZooError
from .._registry import split_name
from ..checkpoint import CheckpointError, load_state, read_metadata, resolve_model_file
from ..weights.lookup import resolve_tag
from .options import TrainConfigError

if TYPE_CHECKING:
    from torch import nn

    from .._spec import ModelSpec

GROWN_FROM = "zoo.grown_from"


def names_a_file(value: str) -> bool:
    """Whether ``--init-from`` `value` is a path: it has a '/', ends in .safetensors, or exists and
    names no registered model (so ``lenet5`` stays the published weights even beside a folder lenet5/)."""
    if "/" in value or os.sep in value or value.endswith(".safetensors"):
        return True
    return Path(value).exists() and split_name(value)[0] not in list_models()


def resolve_init(spec: ModelSpec, value: str, options: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """(what config.json records for ``--init-from value``, the builder options the run uses).

    Published weights resolve to ``"MODEL.TAG"`` (the default tag if none); a model file to its
    absolute path, checked against its sha256 record when zoo wrote one beside it.
    """
    if names_a_file(str(value)):
        return _resolve_file(spec, str(value), options)
    base = split_name(value)[0]
    if base != spec.name:
        raise TrainConfigError(
            f"--init-from {value!r}: weights of {base!r} do not fit {spec.name!r}; give {spec.name}[.TAG] "
            f"(`zoo info {spec.name}` lists its weights) or a {spec.name} model file"
        )
    try:
        return f"{base}.{resolve_tag(value)}", options
    except ZooError as error:
        raise TrainConfigError(f"--init-from {value!r}: {error}") from None


def _resolve_file(spec: ModelSpec, value: str, options: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    try:
        file = resolve_model_file(value)
        metadata = read_metadata(file)
    except CheckpointError as error:
        raise TrainConfigError(f"--init-from {value}: {error}") from None
    found = metadata.get("zoo.model")
    if found != spec.name:
        holds = f"a {found!r} model" if found else "no zoo model (no 'zoo.model' metadata)"
        raise TrainConfigError(
            f"--init-from {value}: {file} holds {holds}, not {spec.name!r}; give a {spec.name} model "
            f"file, or {spec.name}[.TAG] for published weights"
        )
    classes = metadata.get("zoo.num_classes")
    if classes not in (None, "None", str(spec.num_classes)):
        raise TrainConfigError(
            f"--init-from {value}: {file} has a {classes}-class classifier, and {spec.name} trains on "
            f"{spec.dataset} with {spec.num_classes} classes; give a {spec.num_classes}-class model file"
        )
    try:
        saved = json.loads(metadata.get("zoo.options") or "{}")
    except ValueError:
        saved = None
    if not isinstance(saved, dict):
        raise TrainConfigError(f"--init-from {value}: {file} has malformed zoo.options metadata")
    clashes = {k: (v, options[k]) for k, v in saved.items() if k in options and options[k] != v}
    if clashes:
        described = ", ".join(f"{k} (the file's {a!r}, this run's {b!r})" for k, (a, b) in clashes.items())
        raise TrainConfigError(
            f"--init-from {value}: {file} was built with other options than this run's: {described}; "
            "drop those options (the file's are used) or give another file"
        )
    return str(file.resolve()), {**saved, **options}


def init_model(spec: ModelSpec, init: str | None, options: dict[str, Any]) -> tuple[nn.Module, str | None]:
    """Model `spec` built with `options`, with the weights `init` names (a resolved ``--init-from``:
    MODEL.TAG or a file; None: fresh), and the ``zoo.grown_from`` those came with."""
    file = init if init is not None and names_a_file(init) else None
    # With "MODEL.TAG", create loads those weights (a new classifier if the class counts differ).
    model = create(init if init and not file else spec.name, num_classes=spec.num_classes, **options)
    if file is None:
        return model, None
    try:
        model.load_state_dict(load_state(file))
    except RuntimeError as error:
        reason = str(error).splitlines()[0]
        raise TrainConfigError(f"--init-from {file} does not fit {spec.name} ({reason})") from None
    return model, read_metadata(file).get(GROWN_FROM)
