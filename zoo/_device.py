"""Choosing a torch device from a user's word for it, and describing it for people."""

from __future__ import annotations

import platform
from pathlib import Path

import torch

from ._errors import ZooError


class DeviceError(ZooError, ValueError):
    """A device name this machine cannot run on."""


def resolve_device(name: str | None, index: int | None = None) -> torch.device:
    """A device from ``auto``/None (the GPU if any), ``cpu``, ``cuda``, ``cuda:N`` or ``mps``, checked here.

    `index` picks the GPU for a plain ``cuda``/``auto`` (a DDP rank's local GPU).
    """
    auto = name in (None, "auto")
    try:
        device = torch.device(("cuda" if torch.cuda.is_available() else "cpu") if auto else name)
    except RuntimeError:
        raise DeviceError(
            f"device {name!r} is not a device name: use auto, cpu, cuda, cuda:N or mps"
        ) from None
    if device.type == "cuda":
        count = torch.cuda.device_count() if torch.cuda.is_available() else 0
        wanted = device.index if device.index is not None else (index or 0)
        if wanted >= count:
            raise DeviceError(
                f"device {name}: this machine has {count} CUDA GPU(s) (wanted GPU {wanted}); use --device cpu"
            )
        device = torch.device("cuda", wanted)
    elif device.type == "mps" and not torch.backends.mps.is_available():
        raise DeviceError(f"device {name}: MPS is not available here; use --device cpu")
    elif device.type not in ("cpu", "cuda", "mps"):
        raise DeviceError(f"device {name}: zoo runs on cpu, cuda or mps, not {device.type}")
    return device


def cpu_model() -> str:
    """The CPU's marketing name where the OS tells it, else the architecture."""
    try:  # Linux names the CPU here; platform.processor() is often empty or just the arch there
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown cpu"


def device_description(device: torch.device) -> str:
    """The GPU name, or the CPU model and thread count: what ran a benchmark or a training."""
    if device.type == "cuda":
        return f"{torch.cuda.get_device_name(device)} ({device})"
    if device.type == "cpu":
        return f"{cpu_model()} ({torch.get_num_threads()} threads)"
    return f"{device} on {platform.machine()}"
