"""Training-state checkpoints: safetensors + JSON only (no pickle), switched in atomically.

Layout of a run directory ``OUT``::

    OUT/config.json                          the resolved configuration
    OUT/checkpoint/model.safetensors         zoo model file (zoo.checkpoint.save_model)
    OUT/checkpoint/training_state.safetensors optimizer state tensors, RNG states as uint8 tensors
    OUT/checkpoint/training_state.json       epoch, step, scheduler, optimizer hyper-parameters,
                                             best metric, metric history, config, and the sha256
                                             and size of the two files above (written last)
    OUT/best/model.safetensors               the best-on-validation epoch's model
    OUT/best/model.json                      its epoch and val accuracy, its sha256 and size
    OUT/metrics.jsonl, OUT/metrics.csv, OUT/*.png

Both folders are written whole into ``<name>.new/`` and then renamed into place, so a kill at any
moment leaves a complete folder (old or new); `recover` finishes an interrupted switch. A full disk
while writing leaves the previous folder as it was. Reading checks every file against the sha256
recorded beside it (zoo.checkpoint.verify_files): a corrupted checkpoint is refused, never resumed.
"""

from __future__ import annotations

import json
import logging
import math
import os
import random
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors.torch import save_file

from .._errors import ZooError
from .._files import read_json, read_safetensors
from ..checkpoint import RECORD_FILES, CheckpointError, file_record, verify_files

logger = logging.getLogger("zoo")

CHECKPOINT_DIR = "checkpoint"
BEST_DIR = "best"
STATE_TENSORS = "training_state.safetensors"
STATE_JSON, BEST_JSON = RECORD_FILES  # each lists the sha256 of the files beside it
STATE_FORMAT = "zoo.training_state"
# 2: "files" records each file's sha256 and size; 3: a mid-epoch position ("partial_epoch"), which
# an older zoo would not understand (it would restart the epoch from weights trained partly through it).
STATE_VERSION = 3
BEST_FORMAT = "zoo.best_model"
CONFIG_FILE = "config.json"  # the resolved configuration, written first: a run to resume
LOCK_FILE = ".zoo-train.lock"  # zoo.train.rundir: the run directory's owner


class OutputDirError(ZooError, ValueError):
    """--out cannot be used as asked (not empty without --resume, nothing to resume, ...)."""


class RunWriteError(ZooError):
    """Writing a checkpoint failed (a full disk, say); the previous one was left as it was."""


def resume_command(out: Path, model: str | None) -> str:
    return f"`zoo train {model or 'MODEL'} --out {out} --resume`"


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


def write_json_atomic(path: Path, data: Any) -> None:
    """Write-then-rename, so readers never see half a file."""
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    tmp.write_text(json.dumps(to_json_safe(data), indent=2, sort_keys=True) + "\n")
    os.replace(tmp, path)


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    except OSError:  # directories cannot be fsynced on every platform
        pass
    finally:
        os.close(fd)


def _bytes(array: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(array).view(np.uint8).copy())


def capture_rng(
    gather: Callable[[torch.Tensor], list[torch.Tensor]], device: torch.device
) -> tuple[dict[str, torch.Tensor], dict]:
    """torch and CUDA (per rank, via `gather`), numpy and Python RNG states as uint8 tensors + JSON."""
    tensors = {f"rng.torch.rank{r}": t for r, t in enumerate(gather(torch.get_rng_state()))}
    if device.type == "cuda":
        cuda = gather(torch.cuda.get_rng_state(device))
        tensors.update({f"rng.cuda.rank{r}": t for r, t in enumerate(cuda)})
    kind, keys, pos, has_gauss, gauss = np.random.get_state(legacy=True)
    tensors["rng.numpy.keys"] = _bytes(np.asarray(keys, dtype=np.uint32))
    version, internal, gauss_next = random.getstate()
    tensors["rng.python.state"] = _bytes(np.asarray(internal, dtype=np.uint32))
    info = {
        "numpy": {
            "kind": kind,
            "pos": int(pos),
            "has_gauss": int(has_gauss),
            "cached_gaussian": float(gauss),
        },
        "python": {"version": version, "gauss_next": gauss_next},
    }
    return tensors, info


def restore_rng(tensors: dict[str, torch.Tensor], info: dict, rank: int, device: torch.device) -> bool:
    """Restore this rank's RNG states; False when the checkpoint has none for `rank`."""
    own = tensors.get(f"rng.torch.rank{rank}")
    if own is not None:
        torch.set_rng_state(own)
    cuda = tensors.get(f"rng.cuda.rank{rank}")
    if cuda is not None and device.type == "cuda":
        torch.cuda.set_rng_state(cuda, device)
    keys = tensors["rng.numpy.keys"].numpy().view(np.uint32)
    n = info["numpy"]
    np.random.set_state((n["kind"], keys, n["pos"], n["has_gauss"], n["cached_gaussian"]))
    internal = tuple(int(v) for v in tensors["rng.python.state"].numpy().view(np.uint32))
    random.setstate((info["python"]["version"], internal, info["python"]["gauss_next"]))
    return own is not None


def optimizer_state(optimizer: torch.optim.Optimizer) -> tuple[dict[str, torch.Tensor], dict]:
    """Optimizer state split into tensors (``optimizer.<param>.<key>``) and JSON-safe rest."""
    state = optimizer.state_dict()
    tensors, scalars = {}, {}
    for index, entries in state["state"].items():
        for key, value in entries.items():
            if isinstance(value, torch.Tensor):
                tensors[f"optimizer.{index}.{key}"] = value.detach().cpu().contiguous().clone()
            else:
                scalars.setdefault(str(index), {})[key] = value
    return tensors, {"param_groups": state["param_groups"], "scalars": scalars}


def load_optimizer_state(
    optimizer: torch.optim.Optimizer, tensors: dict[str, torch.Tensor], info: dict
) -> None:
    per_param: dict[int, dict[str, Any]] = {}
    for name, value in tensors.items():
        if name.startswith("optimizer."):
            _, index, key = name.split(".", 2)
            per_param.setdefault(int(index), {})[key] = value
    for index, entries in info["scalars"].items():
        per_param.setdefault(int(index), {}).update(entries)
    groups = []
    for fresh, saved in zip(optimizer.param_groups, info["param_groups"]):
        # JSON turned tuples (Adam's betas) into lists; give them back the type the optimizer built.
        groups.append({k: tuple(v) if isinstance(fresh.get(k), tuple) else v for k, v in saved.items()})
    optimizer.load_state_dict({"state": per_param, "param_groups": groups})


_FOLDERS = ((CHECKPOINT_DIR, STATE_JSON), (BEST_DIR, BEST_JSON))  # each folder and the JSON written last


def recover(out: Path) -> None:
    """Finish a folder switch a kill interrupted: keep the newest complete checkpoint/ and best/."""
    for name, marker in _FOLDERS:
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


def _saved_epoch(final: Path, marker: str) -> str:
    try:
        return f"{final} still holds epoch {json.loads((final / marker).read_text())['epoch']}, untouched"
    except (OSError, ValueError, KeyError, TypeError):
        return f"no earlier {final.name}/ was complete"


def write_folder(out: Path, name: str, write: Callable[[Path], Any], info: dict) -> Path:
    """Write ``OUT/<name>`` whole, then switch it in by rename (see the module doc).

    `write` fills ``<name>.new/``; the folder's JSON goes last, holding `info` and the sha256 and
    size of every file `write` made. An OSError (a full disk) removes the partial folder and is
    raised as a `RunWriteError` saying that the previous folder was left as it was.
    """
    marker = dict(_FOLDERS)[name]
    final, new, old = out / name, out / f"{name}.new", out / f"{name}.old"
    try:
        shutil.rmtree(new, ignore_errors=True)
        new.mkdir(parents=True)
        write(new)
        files = file_record(new, sorted(p.name for p in new.iterdir()))
        # The JSON goes last: its presence marks the directory complete (see `recover`).
        (new / marker).write_text(json.dumps(to_json_safe({**info, "files": files}), indent=2) + "\n")
        for path in new.iterdir():
            _fsync(path)
        _fsync(new)
    except OSError as error:
        shutil.rmtree(new, ignore_errors=True)
        model = info.get("model") or info.get("config", {}).get("model")
        raise RunWriteError(
            f"could not write {final} ({error.strerror or error}); {_saved_epoch(final, marker)}: "
            f"free space (or fix the cause), then continue with {resume_command(out, model)}"
        ) from None
    if final.exists():
        shutil.rmtree(old, ignore_errors=True)
        os.replace(final, old)
    os.replace(new, final)
    _fsync(out)
    shutil.rmtree(old, ignore_errors=True)
    return final


def save_checkpoint(
    out: Path, write_model: Callable[[Path], Any], tensors: dict[str, torch.Tensor], info: dict
) -> Path:
    """Write model + training state into ``OUT/checkpoint`` (`write_folder`)."""

    def write(directory: Path) -> None:
        write_model(directory)
        save_file(tensors, str(directory / STATE_TENSORS))

    info = {"format": STATE_FORMAT, "version": STATE_VERSION, **info}
    return write_folder(out, CHECKPOINT_DIR, write, info)


def save_best(out: Path, write_model: Callable[[Path], Any], info: dict) -> Path:
    """Write the best epoch's model into ``OUT/best`` (`write_folder`); `info`: epoch, val_acc, model."""
    return write_folder(out, BEST_DIR, write_model, {"format": BEST_FORMAT, **info})


_RESUME_HINT = "resume needs the files zoo wrote; start a new run with another --out"


def load_checkpoint(out: Path) -> tuple[dict[str, torch.Tensor], dict] | None:
    """The training state in ``OUT/checkpoint`` (tensors, JSON), or None when there is none.

    Every file is checked against the sha256 the JSON recorded before anything is loaded.
    """
    directory = out / CHECKPOINT_DIR
    record = directory / STATE_JSON
    if not record.is_file():
        return None
    info = from_json_safe(read_json(record, OutputDirError, f"the {STATE_FORMAT} JSON", _RESUME_HINT))
    info = info if isinstance(info, dict) else {}
    version = info.get("version")
    if info.get("format") != STATE_FORMAT or version not in (1, 2, STATE_VERSION):
        raise OutputDirError(
            f"{record} is not a {STATE_FORMAT} v{STATE_VERSION} file (format {info.get('format')!r}, "
            f"version {version!r}); {_RESUME_HINT}"
        )
    if version == 1:
        logger.warning("%s was written by an older zoo: its files carry no sha256 to check", record)
    else:
        verify_files(directory, info.get("files"), record, CheckpointError)
    return read_safetensors(directory / STATE_TENSORS, CheckpointError, _RESUME_HINT)[0], info


def saved_config(out: Path) -> dict[str, Any]:
    """The configuration of the run in `out`, for --resume."""
    path = out / CONFIG_FILE
    if not path.is_file():
        raise OutputDirError(f"--resume: nothing to resume in {out} (no {CONFIG_FILE}); run without --resume")
    saved = read_json(path, OutputDirError, "the run config zoo writes", _RESUME_HINT)
    if not isinstance(saved, dict) or not isinstance(saved.get("config"), dict):
        raise OutputDirError(f"--resume: {path} is not a zoo run config (no 'config' object)")
    return saved["config"]


def check_fresh_out(out: Path) -> None:
    """A new run needs an empty (or absent) --out (the lock of a run claiming it aside)."""
    if out.exists() and not out.is_dir():
        raise OutputDirError(f"--out {out} is a file; give a directory")
    if out.is_dir() and any(p.name != LOCK_FILE for p in out.iterdir()):
        raise OutputDirError(
            f"--out {out} already holds files from a previous run; pass --resume to continue it, "
            f"or choose another --out"
        )
