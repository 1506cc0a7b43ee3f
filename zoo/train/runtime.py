"""How a run executes on its device: autocast precision and memory format, chosen by measurement.

`--precision auto` (the default) picks bf16 autocast where the device computes bf16 natively
(CPUs with AVX-512-BF16 or AMX, CUDA GPUs with bf16) and full precision elsewhere; fp16 with loss
scaling is used on CUDA GPUs without bf16. `channels_last` defaults to on for convolutional
models on CPU and CUDA. benchmarks/cpu_training.py measured both against a plain fp32
loop on the 2-core dev CPU (benchmarks/RESULTS.md): bf16 + channels_last trains resnet18 2.4x and
fast_resnet9 1.8x faster there, alexnet (little matrix work) only 1.06x.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass

import torch

from .._errors import ZooError
from .._recipe import freeze_stages, resize_stages
from .._registry import suggest
from .choices import PRECISIONS
from .options import TrainConfigError

_DTYPES = {"fp32": None, "bf16": torch.bfloat16, "fp16": torch.float16}


class PrecisionError(ZooError, ValueError):
    """A precision the device cannot run."""


@dataclass(frozen=True)
class Precision:
    """The autocast dtype (None: full precision) and whether fp16 needs a gradient scaler."""

    device_type: str
    dtype: torch.dtype | None

    @property
    def name(self) -> str:
        return {None: "fp32", torch.bfloat16: "bf16", torch.float16: "fp16"}[self.dtype]

    def autocast(self) -> contextlib.AbstractContextManager:
        if self.dtype is None:
            return contextlib.nullcontext()
        return torch.autocast(self.device_type, dtype=self.dtype)

    def make_scaler(self) -> torch.amp.GradScaler | None:
        return torch.amp.GradScaler(self.device_type) if self.dtype == torch.float16 else None


def native_bf16(device: torch.device) -> bool:
    """Whether `device` computes bf16 matrix products in hardware (so autocast pays)."""
    if device.type == "cuda":
        return torch.cuda.is_bf16_supported()
    if device.type == "cpu":
        cpu = torch.cpu
        checks = ("_is_avx512_bf16_supported", "_is_amx_tile_supported")
        return any(getattr(cpu, name, lambda: False)() for name in checks)
    return False


def choose_precision(device: torch.device, precision: str) -> Precision:
    """The autocast setting for `precision` (one of PRECISIONS) on `device`."""
    if precision not in PRECISIONS:
        raise PrecisionError(f"unknown precision {precision!r}; choose one of {', '.join(PRECISIONS)}")
    if precision == "auto":
        if native_bf16(device):
            return Precision(device.type, torch.bfloat16)
        return Precision(device.type, torch.float16 if device.type == "cuda" else None)
    if precision == "fp16" and device.type == "cpu":
        # CPU fp16 autocast exists but runs far slower than fp32 without AMX-FP16.
        if not getattr(torch.cpu, "_is_amx_fp16_supported", lambda: False)():
            raise PrecisionError(
                "precision fp16 on this CPU would run slower than fp32 (no AMX-FP16); use bf16 or fp32"
            )
    return Precision(device.type, _DTYPES[precision])


def choose_channels_last(device: torch.device, model: torch.nn.Module, requested: bool | None) -> bool:
    """`requested`, or by default NHWC for convolutional models on CPU and CUDA (faster convolutions
    there; an MLP's activations have no spatial layout to gain from)."""
    if requested is not None:
        return requested
    convolutional = any(isinstance(m, torch.nn.Conv2d) for m in model.modules())
    return convolutional and device.type in ("cpu", "cuda")


def check_resize(model: torch.nn.Module, name: str, resize: str, channels: int, device: torch.device) -> None:
    """Refuse, before training, a ``progressive_resize`` whose smaller images `model` cannot take
    (a classifier sized for 32x32 features)."""
    for side in sorted({side for side, _ in resize_stages(resize)}):
        try:
            with torch.no_grad():
                model.eval()(torch.zeros(2, channels, side, side, device=device))
        except RuntimeError as error:
            raise TrainConfigError(
                f"progressive_resize = {resize!r}: {name} cannot take {side}x{side} images "
                f"({str(error).splitlines()[0]}); leave progressive_resize empty for it"
            ) from None
        finally:
            model.train()


def frozen_after(model: torch.nn.Module, freeze_after: str) -> list[tuple[int, list[torch.nn.Parameter]]]:
    """The trainable parameters each ``freeze_after`` stage names, with the epochs they train: a
    parameter's name or a module's (its parameters); a name `model` lacks is refused, with close names."""
    params = {name: p for name, p in model.named_parameters() if p.requires_grad}
    stages = []
    for name, epochs in freeze_stages(freeze_after):
        chosen = [p for n, p in params.items() if n == name or n.startswith(name + ".")]
        if not chosen:
            close = suggest(name, params) or sorted(params)[:3]
            raise TrainConfigError(
                f"freeze_after = {freeze_after!r}: the model has no trainable parameter or module "
                f"{name!r} (did you mean {', '.join(map(repr, close))}?); name one it has, or give "
                "freeze_after = '' (--freeze-after '') to train every parameter throughout"
            )
        stages.append((epochs, chosen))
    return stages
