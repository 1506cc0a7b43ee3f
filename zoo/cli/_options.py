"""Options several commands share, declared once (their choices come from zoo._choices)."""

from __future__ import annotations

from typing import Any, Literal

import typer

from .._choices import DEVICES, PRECISIONS, TTA_MODES

TTAMode = Literal[TTA_MODES]  # typer shows and checks the choices


def device_option(default: str | None = "auto") -> Any:
    """``--device``: where the model runs."""
    shown = "auto" if default is None else default
    return typer.Option(
        default, "--device", help=f"{', '.join(DEVICES)} (default: {shown}: the GPU if there is one)."
    )


def precision_option(default: str | None = "auto") -> Any:
    """``--precision``: autocast precision, as `zoo train` chooses it by default."""
    return typer.Option(
        default,
        "--precision",
        help=f"{', '.join(PRECISIONS)} (default: auto: bf16 autocast where the device has it natively).",
    )


def channels_last_option() -> Any:
    """``--channels-last/--no-channels-last``: the memory format (unset: as `zoo train` chooses)."""
    return typer.Option(
        None,
        "--channels-last/--no-channels-last",
        help="NHWC memory format (default: on for models with a convolution on CPU and CUDA).",
    )


def tta_option() -> Any:
    """``--tta``: test-time augmentation of an evaluation."""
    return typer.Option("none", "--tta", help=f"Test-time augmentation: {' or '.join(TTA_MODES)}.")
