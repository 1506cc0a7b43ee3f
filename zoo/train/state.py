"""Training-state checkpoints: safetensors + JSON only (no pickle), switched in atomically.

Layout of a run directory ``OUT``::

    OUT/config.json                          the resolved configuration
    OUT/checkpoint/model.safetensors         zoo model file (zoo.checkpoint.save_model)
    OUT/checkpoint/training_state.safetensors optimizer state tensors, RNG states as uint8 tensors
    OUT/checkpoint/training_state.json       epoch, step, scheduler, optimizer hyper-parameters,
                                             best metric, metric history, config (written last)
    OUT/best/model.safetensors               the best-on-validation epoch's model
    OUT/metrics.jsonl, OUT/metrics.csv, OUT/*.png

A checkpoint is written whole into ``checkpoint.new/`` and then renamed into place, so a kill at
any moment leaves a complete checkpoint (old or new); `recover` finishes an interrupted switch.
"""

from __future__ import annotations

import json
import math
import os
import random
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors.torch import load_file, save_file

from .._errors import ZooError

CHECKPOINT_DIR = "checkpoint"
BEST_DIR = "best"
STATE_TENSORS = "training_state.safetensors"
STATE_JSON = "training_state.json"
STATE_FORMAT = "zoo.training_state"
STATE_VERSION = 1


class OutputDirError(ZooError, ValueError):
    """--out cannot be used as asked (not empty without --resume, nothing to resume, ...)."""


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


def _complete(directory: Path) -> bool:
    return (directory / STATE_JSON).is_file()


def recover(out: Path) -> None:
    """Finish a checkpoint switch a kill interrupted: keep the newest complete checkpoint."""
    final, new, old = out / CHECKPOINT_DIR, out / f"{CHECKPOINT_DIR}.new", out / f"{CHECKPOINT_DIR}.old"
    if new.is_dir() and _complete(new):
        if final.exists():
            shutil.rmtree(old, ignore_errors=True)
            os.replace(final, old)
        os.replace(new, final)
    elif not final.exists() and old.is_dir() and _complete(old):
        os.replace(old, final)
    shutil.rmtree(new, ignore_errors=True)
    shutil.rmtree(old, ignore_errors=True)


def save_checkpoint(
    out: Path, write_model: Callable[[Path], Any], tensors: dict[str, torch.Tensor], info: dict
) -> Path:
    """Write model + training state into a fresh directory, then switch it in by rename."""
    final, new, old = out / CHECKPOINT_DIR, out / f"{CHECKPOINT_DIR}.new", out / f"{CHECKPOINT_DIR}.old"
    shutil.rmtree(new, ignore_errors=True)
    new.mkdir(parents=True)
    write_model(new)
    save_file(tensors, str(new / STATE_TENSORS))
    # The JSON goes last: its presence marks the directory complete (see `recover`).
    (new / STATE_JSON).write_text(
        json.dumps(to_json_safe({"format": STATE_FORMAT, "version": STATE_VERSION, **info}), indent=2) + "\n"
    )
    for path in new.iterdir():
        _fsync(path)
    _fsync(new)
    if final.exists():
        shutil.rmtree(old, ignore_errors=True)
        os.replace(final, old)
    os.replace(new, final)
    _fsync(out)
    shutil.rmtree(old, ignore_errors=True)
    return final


def load_checkpoint(out: Path) -> tuple[dict[str, torch.Tensor], dict] | None:
    """The training state in ``OUT/checkpoint`` (tensors, JSON), or None when there is none."""
    directory = out / CHECKPOINT_DIR
    if not _complete(directory):
        return None
    try:
        info = from_json_safe(json.loads((directory / STATE_JSON).read_text()))
    except json.JSONDecodeError as error:
        raise OutputDirError(f"{directory / STATE_JSON} is not valid JSON ({error})") from None
    if info.get("format") != STATE_FORMAT or info.get("version") != STATE_VERSION:
        raise OutputDirError(
            f"{directory / STATE_JSON} is not a {STATE_FORMAT} v{STATE_VERSION} file "
            f"(format {info.get('format')!r}, version {info.get('version')!r})"
        )
    return load_file(str(directory / STATE_TENSORS)), info


def check_fresh_out(out: Path) -> None:
    """A new run needs an empty (or absent) --out."""
    if out.exists() and not out.is_dir():
        raise OutputDirError(f"--out {out} is a file; give a directory")
    if out.is_dir() and any(out.iterdir()):
        raise OutputDirError(
            f"--out {out} already holds files from a previous run; pass --resume to continue it, "
            f"or choose another --out"
        )
