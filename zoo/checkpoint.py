"""Model files: safetensors with the metadata needed to rebuild the model (never pickle).

A model file is ``model.safetensors`` whose header metadata holds ``zoo.model`` (registered
name), ``zoo.num_classes``, ``zoo.options`` (JSON of the `create` overrides) and free-form
``zoo.*`` provenance (epoch, dataset identity, zoo version). `zoo train` writes one per
checkpoint; `zoo eval --checkpoint` and `zoo push --checkpoint` read it.

The folders `zoo train` writes (``checkpoint/``, ``best/``) hold a JSON (`RECORD_FILES`) whose
``files`` lists the sha256 and size of each file beside it. Reading a model file checks it against
that record first: a file changed since zoo wrote it is refused, not loaded.
"""

from __future__ import annotations

import json
import os
from functools import lru_cache
from pathlib import Path
from typing import Any

from safetensors.torch import save_file
from torch import nn

from ._builder import create
from ._errors import ZooError
from ._files import read_json, read_safetensors, settled, sha256_of, stat_signature

MODEL_FILE = "model.safetensors"
# The JSONs that record the files of a run's folder: checkpoint/training_state.json, best/model.json.
RECORD_FILES = ("training_state.json", "model.json")
_HINT = "give a model file that `zoo train` (or zoo.checkpoint.save_model) wrote"


class CheckpointError(ZooError, ValueError):
    """A checkpoint path that is missing, is not a zoo model file, or changed since zoo wrote it."""


def file_record(directory: Path, names: list[str]) -> dict[str, dict[str, Any]]:
    """``{name: {"sha256", "size"}}`` of files in `directory`, for a folder's JSON record."""
    return {n: {"sha256": sha256_of(directory / n), "size": (directory / n).stat().st_size} for n in names}


@lru_cache(maxsize=32)
def _digest(path: str, signature: tuple[int, ...]) -> str:
    return sha256_of(path)


def _sha256(path: Path) -> str:
    # Hashed once per process while the file is unchanged (resume and eval read a file more than once).
    stat = path.stat()
    if not settled(stat):
        return sha256_of(path)
    return _digest(str(path), tuple(stat_signature(stat)))


def verify_files(directory: Path, files: Any, record: Path, error: type[ZooError] = CheckpointError) -> None:
    """Check the files of `directory` against ``files`` (from the JSON `record`); refuse any that changed."""
    if not isinstance(files, dict):
        raise error(f"{record} lists no sha256 of the files beside it: {_HINT}")
    for name, expected in files.items():
        path = directory / name
        try:
            size = path.stat().st_size
            found = "size" if size != expected["size"] else ""
            found = found or ("sha256" if _sha256(path) != expected["sha256"] else "")
        except FileNotFoundError:
            raise error(f"{path} is missing, though {record} lists it: restore it, or train again") from None
        except (OSError, TypeError, KeyError) as failure:
            raise error(f"cannot check {path} against {record} ({failure}): {_HINT}") from None
        if found:
            raise error(
                f"{path} is corrupted: its {found} differs from what {record} recorded when zoo wrote "
                "it; refusing to use it (nothing was loaded or overwritten): restore it from a copy, or "
                "train again"
            )


def verify_model_file(file: Path) -> None:
    """Check `file` against the JSON record of its folder, when zoo wrote one (see `RECORD_FILES`)."""
    for name in RECORD_FILES:
        record = file.parent / name
        if record.is_file():
            data = read_json(record, CheckpointError, f"the record zoo writes beside {file.name}")
            files = data.get("files") if isinstance(data, dict) else None
            if isinstance(files, dict) and file.name in files:
                verify_files(file.parent, {file.name: files[file.name]}, record)
                return


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
    """The safetensors header metadata of a (verified) model file, without loading tensors."""
    file = resolve_model_file(path)
    verify_model_file(file)
    return read_safetensors(file, CheckpointError, _HINT, tensors=False)[1]


def load_state(path: str | Path) -> dict:
    """The state dict in a (verified) model file."""
    file = resolve_model_file(path)
    verify_model_file(file)
    return read_safetensors(file, CheckpointError, _HINT)[0]


def load_model(path: str | Path, **overrides: Any) -> tuple[nn.Module, dict[str, str]]:
    """Rebuild the registered model a zoo model file describes and load its weights."""
    file = resolve_model_file(path)
    metadata = read_metadata(file)
    if "zoo.model" not in metadata:
        raise CheckpointError(f"{file} has no 'zoo.model' metadata: it was not written by zoo")
    try:
        options = {**json.loads(metadata.get("zoo.options", "{}")), **overrides}
        num_classes = metadata.get("zoo.num_classes")
        if num_classes not in (None, "None") and "num_classes" not in options:
            options["num_classes"] = int(num_classes)
    except (ValueError, TypeError) as error:
        raise CheckpointError(f"{file}: malformed zoo.options / zoo.num_classes metadata ({error})") from None
    model = create(metadata["zoo.model"], **options)
    try:
        model.load_state_dict(load_state(file))
    except RuntimeError as error:
        reason = str(error).splitlines()[0]
        raise CheckpointError(f"{file} does not fit {metadata['zoo.model']} ({reason}): {_HINT}") from None
    return model, metadata
