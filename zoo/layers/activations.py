"""Activation choice by name: the option the seeds vary (`act=` on several families)."""

from __future__ import annotations

from collections.abc import Callable

from torch import nn

ACTIVATIONS: dict[str, Callable[[], nn.Module]] = {
    "relu": lambda: nn.ReLU(inplace=True),
    "gelu": nn.GELU,
    "mish": lambda: nn.Mish(inplace=True),
    "elu": lambda: nn.ELU(inplace=True),
    "leaky_relu": lambda: nn.LeakyReLU(0.01, inplace=True),
    "rrelu": nn.RReLU,
    "silu": lambda: nn.SiLU(inplace=True),
    "identity": nn.Identity,  # no non-linearity: a deep *linear* network (the ics study)
}


def get_act(name: str) -> nn.Module:
    """A new activation module for `name` (one of `ACTIVATIONS`)."""
    try:
        return ACTIVATIONS[name]()
    except KeyError:
        raise ValueError(f"unknown activation {name!r}; choose one of {', '.join(ACTIVATIONS)}") from None
