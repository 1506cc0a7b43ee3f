"""Checkpoint files: zoo model files and the training-state folders `zoo train` writes (never pickle).

A model file is ``model.safetensors`` whose header metadata holds ``zoo.model`` (registered
name), ``zoo.num_classes``, ``zoo.options`` (JSON of the `create` overrides) and free-form
``zoo.*`` provenance (epoch, dataset identity, zoo version). `zoo eval --checkpoint` and `zoo push
--checkpoint` read one.

A run directory ``OUT`` holds two folders, each written whole into ``<name>.new/`` and then renamed
into place, so a kill at any moment leaves a complete folder (old or new) and `recover` finishes an
interrupted switch; a write that fails (a full disk) leaves the previous folder as it was::

    OUT/checkpoint/model.safetensors          the model file
    OUT/checkpoint/training_state.safetensors optimizer state tensors, RNG states as uint8 tensors
    OUT/checkpoint/training_state.json        the rest of the training state (JSON), and the sha256
                                              and size of the two files above (written last)
    OUT/best/model.safetensors, model.json    the best-on-validation epoch's model, and its record

Reading a model file or a training state checks each file against the sha256 its folder's JSON
recorded: a file changed since zoo wrote it is refused, never loaded or resumed. Every file is
written whole, then renamed (zoo._files); a failure is a `WriteFailedError` naming the file.
"""

from __future__ import annotations

import errno
import json
import logging
import math
import os
import re
import shutil
from collections.abc import Callable
from functools import lru_cache
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import save_file
from torch import nn

from ._builder import create
from ._errors import ZooError
from ._files import (
    DISK_FULL,
    fsync_path,
    read_json,
    read_safetensors,
    settled,
    sha256_of,
    stat_signature,
    write_with,
)

logger = logging.getLogger("zoo")

MODEL_FILE = "model.safetensors"
CHECKPOINT_DIR = "checkpoint"
BEST_DIR = "best"
STATE_TENSORS = "training_state.safetensors"
# The JSONs that record the files of a run's folder: checkpoint/training_state.json, best/model.json.
RECORD_FILES = STATE_JSON, BEST_JSON = ("training_state.json", "model.json")
STATE_FORMAT = "zoo.training_state"
# 2: "files" records each file's sha256 and size; 3: a mid-epoch position ("partial_epoch"), which
# an older zoo would not understand (it would restart the epoch from weights trained partly through it).
STATE_VERSION = 3
BEST_FORMAT = "zoo.best_model"
_FOLDERS = {CHECKPOINT_DIR: STATE_JSON, BEST_DIR: BEST_JSON}  # each folder and the JSON written last
_HINT = "give a model file that `zoo train` (or zoo.checkpoint.save_model) wrote"
_RESUME_HINT = "resume needs the files zoo wrote; start a new run with another --out"


class CheckpointError(ZooError, ValueError):
    """A checkpoint path that is missing, is not a zoo model file, or changed since zoo wrote it."""


class WriteFailedError(ZooError):
    """A file could not be written (a full disk, a quota, a read-only disk); what it was to replace,
    if anything, is as it was. `path` names the file, `reason` gives the system's words, `errno` its code."""

    exit_code = 1

    def __init__(self, path: Path, reason: str, code: int | None) -> None:
        super().__init__(f"could not write {path} ({reason})")
        self.path, self.reason, self.errno = Path(path), reason, code

    @property
    def disk_full(self) -> bool:
        return self.errno in DISK_FULL


def write_file(path: Path, write: Callable[[Path], Any]) -> None:
    """``zoo._files.write_with(path, write)``, a failure raised as `WriteFailedError` naming `path`."""
    try:
        write_with(path, write)
    except OSError as error:
        raise WriteFailedError(path, error.strerror or str(error), error.errno) from None
    except SafetensorError as error:  # safetensors reports I/O errors as "... (os error 28)"
        found = re.search(r"os error (\d+)", str(error))
        code = int(found.group(1)) if found else errno.EIO
        raise WriteFailedError(path, os.strerror(code), code) from None


def write_json(path: Path, data: Any) -> None:
    """Write `data` as JSON (inf and nan kept, see `to_json_safe`), whole or not at all."""
    text = json.dumps(to_json_safe(data), indent=2, sort_keys=True) + "\n"
    write_file(path, lambda tmp: tmp.write_text(text, encoding="utf-8"))


# JSON has no inf/nan (ReduceLROnPlateau keeps `best = inf`): they travel as tagged strings.
def to_json_safe(obj: Any) -> Any:
    if isinstance(obj, float) and not math.isfinite(obj):
        return {"$float": repr(obj)}
    if isinstance(obj, dict):
        return {str(k): to_json_safe(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [to_json_safe(v) for v in obj]
    if isinstance(obj, torch.Tensor):
        raise TypeError("tensors belong in the safetensors file, not in JSON")
    return obj


def from_json_safe(obj: Any) -> Any:
    if isinstance(obj, dict):
        if set(obj) == {"$float"}:
            return float(obj["$float"])
        return {k: from_json_safe(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [from_json_safe(v) for v in obj]
    return obj


def save_tensors(
    tensors: dict[str, torch.Tensor], path: Path, metadata: dict[str, str] | None = None
) -> None:
    """Write a safetensors file, whole or not at all (`write_file`)."""
    write_file(path, lambda tmp: save_file(tensors, str(tmp), metadata=metadata))


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
    save_tensors(state, path, metadata)
    return path


def resolve_model_file(path: str | Path) -> Path:
    """`path` itself if it is a file, else the model.safetensors inside it (or inside its checkpoint/)."""
    path = Path(path)
    for candidate in (path, path / MODEL_FILE, path / CHECKPOINT_DIR / MODEL_FILE):
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


# --- the folders of a run directory ----------------------------------------------------------------


def recover(out: Path) -> None:
    """Finish a folder switch a kill interrupted: keep the newest complete checkpoint/ and best/."""
    for name, marker in _FOLDERS.items():
        final, new, old = out / name, out / f"{name}.new", out / f"{name}.old"
        if (new / marker).is_file():
            if final.exists():
                shutil.rmtree(old, ignore_errors=True)
                os.replace(final, old)
            os.replace(new, final)
        elif not final.exists() and (old / marker).is_file():
            os.replace(old, final)
        shutil.rmtree(new, ignore_errors=True)
        shutil.rmtree(old, ignore_errors=True)


def write_folder(out: Path, name: str, write: Callable[[Path], Any], info: dict) -> Path:
    """Write ``OUT/<name>`` whole, then switch it in by rename (see the module doc).

    `write` fills ``<name>.new/``; the folder's JSON goes last, holding `info` and the sha256 and
    size of every file `write` made. A failure removes the partial folder and is a `WriteFailedError`
    naming the file as it would have been called in ``OUT/<name>``; the previous folder is untouched.
    """
    marker = _FOLDERS[name]
    final, new, old = out / name, out / f"{name}.new", out / f"{name}.old"
    shutil.rmtree(new, ignore_errors=True)
    try:
        new.mkdir(parents=True)
        write(new)
        files = file_record(new, sorted(p.name for p in new.iterdir()))
        # The JSON goes last: its presence marks the directory complete (see `recover`).
        write_json(new / marker, {**info, "files": files})
        fsync_path(new)
    except (WriteFailedError, OSError) as error:
        shutil.rmtree(new, ignore_errors=True)
        if isinstance(error, OSError):  # mkdir, or reading back what was written
            error = WriteFailedError(Path(error.filename or new), error.strerror or str(error), error.errno)
        shown = final / error.path.relative_to(new) if error.path.is_relative_to(new) else error.path
        raise WriteFailedError(shown, error.reason, error.errno) from None
    if final.exists():
        shutil.rmtree(old, ignore_errors=True)
        os.replace(final, old)
    os.replace(new, final)
    fsync_path(out)
    shutil.rmtree(old, ignore_errors=True)
    return final


def save_checkpoint(
    out: Path, write_model: Callable[[Path], Any], tensors: dict[str, torch.Tensor], info: dict
) -> Path:
    """Write model + training state into ``OUT/checkpoint`` (`write_folder`)."""

    def write(directory: Path) -> None:
        write_model(directory)
        save_tensors(tensors, directory / STATE_TENSORS)

    info = {"format": STATE_FORMAT, "version": STATE_VERSION, **info}
    return write_folder(out, CHECKPOINT_DIR, write, info)


def save_best(out: Path, write_model: Callable[[Path], Any], info: dict) -> Path:
    """Write the best epoch's model into ``OUT/best`` (`write_folder`); `info`: epoch, val_acc, model."""
    return write_folder(out, BEST_DIR, write_model, {"format": BEST_FORMAT, **info})


def read_state_record(out: Path) -> dict | None:
    """The JSON of ``OUT/checkpoint`` as written (not checked against its files), None when absent."""
    record = out / CHECKPOINT_DIR / STATE_JSON
    if not record.is_file():
        return None
    info = from_json_safe(read_json(record, CheckpointError, f"the {STATE_FORMAT} JSON", _RESUME_HINT))
    return info if isinstance(info, dict) else {}


def load_checkpoint(out: Path) -> tuple[dict[str, torch.Tensor], dict] | None:
    """The training state in ``OUT/checkpoint`` (tensors, JSON), or None when there is none.

    Every file is checked against the sha256 the JSON recorded before anything is loaded.
    """
    info = read_state_record(out)
    if info is None:
        return None
    directory, record = out / CHECKPOINT_DIR, out / CHECKPOINT_DIR / STATE_JSON
    version = info.get("version")
    if info.get("format") != STATE_FORMAT or version not in (1, 2, STATE_VERSION):
        raise CheckpointError(
            f"{record} is not a {STATE_FORMAT} v{STATE_VERSION} file (format {info.get('format')!r}, "
            f"version {version!r}); {_RESUME_HINT}"
        )
    if version == 1:
        logger.warning("%s was written by an older zoo: its files carry no sha256 to check", record)
    else:
        verify_files(directory, info.get("files"), record, CheckpointError)
    return read_safetensors(directory / STATE_TENSORS, CheckpointError, _RESUME_HINT)[0], info
