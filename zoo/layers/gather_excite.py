"""Gather-Excite channel/spatial attention.

Paper: Hu, Shen, Albanie, Sun, Vedaldi, "Gather-Excite: Exploiting Feature Context in
Convolutional Neural Networks", NeurIPS 2018, arXiv:1810.12348.

``y = x * sigmoid(excite(gather(x)))``: the gather summarises each channel over a spatial
extent, the excite maps the summary back to gates, resized (nearest) to x's resolution. The
paper's three variants are the two switches of `GatherExcite`:

============  ==============  =====  ==================================================
variant       parametric      mlp    gather / excite
============  ==============  =====  ==================================================
GE-θ-         False           False  average pooling / none (parameter-free)
GE-θ          True            False  depthwise convs + BN / none
GE-θ+         True            True   depthwise convs + BN / 1x1-conv MLP (as SE), r=16
============  ==============  =====  ==================================================
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .activations import get_act
from .conv import ConvBnAct


class GatherExcite(nn.Module):
    """Gather-Excite on `channels` feature maps (default: the paper's best, global GE-θ+).

    Args:
        channels: channels of the input (and output).
        extent: 0 gathers over the whole map (one value per channel); a power of two ``e``
            gathers over windows that shrink the map ``e`` times.
        parametric: gather with learned depthwise convolutions (GE-θ) instead of averaging.
        mlp: excite through a 1x1-conv bottleneck MLP (GE-θ+).
        mlp_bias: give the MLP's two 1x1 convs biases (CIFAR-ZOO's GE-ResNeXt has none).
        feat_size: height (= width) of the input map; needed only by a parametric global
            gather, whose single depthwise kernel spans the whole map.
        rd_ratio: MLP bottleneck width as a fraction of `channels`.
        act: activation between the gather convolutions and inside the MLP.
    """

    def __init__(
        self,
        channels: int,
        *,
        extent: int = 0,
        parametric: bool = True,
        mlp: bool = True,
        mlp_bias: bool = True,
        feat_size: int | None = None,
        rd_ratio: float = 1 / 16,
        act: str = "relu",
    ) -> None:
        super().__init__()
        if extent != 0 and (extent < 2 or extent & (extent - 1)):
            raise ValueError(f"GatherExcite extent={extent}: use 0 (global) or a power of two >= 2")
        if parametric:
            self.gather = _parametric_gather(channels, extent, feat_size, act)
        elif extent == 0:
            self.gather = nn.AdaptiveAvgPool2d(1)
        else:
            # Overlapping windows (2e-1 wide, stride e), as the paper's average-pool gather.
            self.gather = nn.AvgPool2d(2 * extent - 1, extent, extent - 1, count_include_pad=False)
        rd_chs = max(1, round(channels * rd_ratio))
        self.excite = (
            nn.Sequential(
                nn.Conv2d(channels, rd_chs, 1, bias=mlp_bias),
                get_act(act),
                nn.Conv2d(rd_chs, channels, 1, bias=mlp_bias),
            )
            if mlp
            else nn.Identity()
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        gates = self.excite(self.gather(x))
        if gates.shape[-2:] != (1, 1):  # a 1x1 summary broadcasts; a coarse map is upsampled
            gates = F.interpolate(gates, size=x.shape[-2:], mode="nearest")
        return x * gates.sigmoid()


def _parametric_gather(channels: int, extent: int, feat_size: int | None, act: str) -> nn.Sequential:
    if extent == 0:
        if feat_size is None or feat_size < 1:
            raise ValueError(
                f"GatherExcite: a parametric global gather needs feat_size (the input map's height "
                f"= width), got {feat_size!r}; pass feat_size= or use extent>0 / parametric=False"
            )
        return nn.Sequential(
            nn.Conv2d(channels, channels, feat_size, groups=channels, bias=False), nn.BatchNorm2d(channels)
        )
    steps = extent.bit_length() - 1  # log2(extent) stride-2 depthwise convs
    return nn.Sequential(
        *(
            ConvBnAct(channels, channels, 3, 2, groups=channels, act=act if i < steps - 1 else None)
            for i in range(steps)
        )
    )
