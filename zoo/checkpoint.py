"""Model files: safetensors with the metadata needed to rebuild the model (never pickle).

A model file is ``model.safetensors`` whose header metadata holds ``zoo.model`` (registered
name), ``zoo.num_classes``, ``zoo.options`` (JSON of the `create` overrides) and free-form
``zoo.*`` provenance (epoch, dataset identity, zoo version). `zoo train` writes one per
checkpoint; `zoo eval --checkpoint` and `zoo push --checkpoint` read it.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from safetensors.torch import load_file, save_file
from torch import nn

from ._errors import ZooError

MODEL_FILE = "model.safetensors"


class CheckpointError(ZooError, ValueError):
    """A checkpoint path that is missing or is not a zoo model file."""


def _atomic_save(tensors: dict, path: Path, metadata: dict[str, str]) -> None:
    # Write-then-rename: a crash mid-write never leaves a truncated file under the real name.
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    save_file(tensors, str(tmp), metadata=metadata)
    os.replace(tmp, path)


def save_model(
    model: nn.Module,
    path: str | Path,
    *,
    name: str,
    options: dict[str, Any] | None = None,
    extra: dict[str, Any] | None = None,
) -> Path:
    """Save `model`'s state dict to `path` (a file, or a directory to hold model.safetensors)."""
    path = Path(path)
    if path.suffix != ".safetensors":
        path = path / MODEL_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    num_classes = getattr(model, "num_classes", None)
    metadata = {
        "format": "pt",
        "zoo.model": name,
        "zoo.num_classes": str(num_classes),
        "zoo.options": json.dumps(options or {}, sort_keys=True),
    }
    metadata.update(
        {f"zoo.{k}": v if isinstance(v, str) else json.dumps(v) for k, v in (extra or {}).items()}
    )
    # clone() gives shared or non-contiguous tensors their own storage, which safetensors requires.
    state = {k: v.detach().cpu().contiguous().clone() for k, v in model.state_dict().items()}
    _atomic_save(state, path, metadata)
    return path


def resolve_model_file(path: str | Path) -> Path:
    """`path` itself if it is a file, else the model.safetensors inside it (or inside its checkpoint/)."""
    path = Path(path)
    for candidate in (path, path / MODEL_FILE, path / "checkpoint" / MODEL_FILE):
        if candidate.is_file():
            return candidate
    raise CheckpointError(
        f"no model file at {path}: expected a .safetensors file or a directory holding {MODEL_FILE}"
    )


def read_metadata(path: str | Path) -> dict[str, str]:
    """The safetensors header metadata of a model file, without loading tensors."""
    from safetensors import safe_open

    with safe_open(str(resolve_model_file(path)), framework="pt") as f:
        return dict(f.metadata() or {})


def load_model(path: str | Path, **overrides: Any) -> tuple[nn.Module, dict[str, str]]:
    """Rebuild the registered model a zoo model file describes and load its weights."""
    from . import create

    file = resolve_model_file(path)
    metadata = read_metadata(file)
    if "zoo.model" not in metadata:
        raise CheckpointError(f"{file} has no 'zoo.model' metadata: it was not written by zoo")
    options = {**json.loads(metadata.get("zoo.options", "{}")), **overrides}
    num_classes = metadata.get("zoo.num_classes")
    if num_classes not in (None, "None") and "num_classes" not in options:
        options["num_classes"] = int(num_classes)
    model = create(metadata["zoo.model"], **options)
    model.load_state_dict(load_file(str(file)))
    return model, metadata
