"""Convolution + BatchNorm + activation, the unit most CIFAR families are built from."""

from __future__ import annotations

from torch import nn

from .activations import get_act


class ConvBnAct(nn.Sequential):
    """Conv2d (no bias: BatchNorm follows) -> BatchNorm2d -> activation (`act=None` for none)."""

    def __init__(
        self,
        in_chs: int,
        out_chs: int,
        kernel_size: int = 3,
        stride: int = 1,
        groups: int = 1,
        act: str | None = "relu",
    ) -> None:
        super().__init__(
            nn.Conv2d(in_chs, out_chs, kernel_size, stride, kernel_size // 2, groups=groups, bias=False),
            nn.BatchNorm2d(out_chs),
        )
        if act is not None:
            self.append(get_act(act))
