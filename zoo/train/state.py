"""What a training state is made of besides the model: RNG states and optimizer state, split into
tensors (for the safetensors file) and JSON-safe values. zoo.checkpoint writes and reads the files;
zoo.train.resume decides what goes in."""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import Any

import numpy as np
import torch


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
