"""ResNet-9 (DAWNBench / Myrtle) for CIFAR-10, and its fast-training variant.

Papers: Page, "How to train your ResNet", myrtle.ai blog 2018,
https://myrtle.ai/learn/how-to-train-your-resnet/ ; He et al., "Deep Residual Learning for Image
Recognition", CVPR 2016, arXiv:1512.03385. Seed variants: seed 001 §1.4.1 ("ResNet18 reduced by
two residual blocks", GELU) for `resnet9`; seed 001 §1.4.2 for `fast_resnet9` (max-pool before
BatchNorm and activation, Ghost BatchNorm with virtual batches of 32; its label smoothing and
flip test-time augmentation belong to the training recipe, not to the model).

The layout is also reused, narrower, by the Res9 family (zoo/models/res9.py).
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

import torch
from torch import nn

from ..layers import GhostBatchNorm, get_act
from ._base import ClassifierModel

NormLayer = Callable[[int], nn.Module]
# Builds the body of a residual unit: (channels, activation name, norm layer) -> module.
ResidualBody = Callable[[int, str, NormLayer], nn.Module]


def conv_norm_act(
    in_chs: int,
    out_chs: int,
    act: str,
    *,
    kernel_size: int = 3,
    pool: bool = False,
    pool_before_norm: bool = False,
    norm_layer: NormLayer = nn.BatchNorm2d,
) -> nn.Sequential:
    """Conv (no bias) -> norm -> act, with an optional 2x2 max-pool after the activation or,
    with `pool_before_norm`, straight after the convolution (4x less norm and activation work)."""
    layers: list[nn.Module] = [nn.Conv2d(in_chs, out_chs, kernel_size, padding=kernel_size // 2, bias=False)]
    if pool and pool_before_norm:
        layers.append(nn.MaxPool2d(2))
    layers += [norm_layer(out_chs), get_act(act)]
    if pool and not pool_before_norm:
        layers.append(nn.MaxPool2d(2))
    return nn.Sequential(*layers)


class Residual(nn.Module):
    """``x + body(x)``, no activation after the sum (as in the Myrtle network)."""

    def __init__(self, body: nn.Module) -> None:
        super().__init__()
        self.body = body

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.body(x)


def basic_residual(chs: int, act: str, norm_layer: NormLayer) -> nn.Sequential:
    """Two 3x3 conv-norm-act units at constant width (Myrtle's res1/res2)."""
    return nn.Sequential(
        conv_norm_act(chs, chs, act, norm_layer=norm_layer),
        conv_norm_act(chs, chs, act, norm_layer=norm_layer),
    )


class ResNet9(ClassifierModel):
    """stem -> [conv, pool, residual] -> [conv, pool] -> [conv, pool, residual] -> global max-pool -> fc.

    `widths` are the channels of the stem and the three layers (Myrtle: 64, 128, 256, 512).
    `residual` builds the residual bodies, `norm_layer` every normalisation, and `stem` (a
    module giving ``widths[0]`` channels) replaces the default single 3x3 conv-norm-act.
    Global pooling is a max over the final 4x4 map, as in the Myrtle network.
    """

    def __init__(
        self,
        num_classes: int = 10,
        in_chans: int = 3,
        widths: tuple[int, int, int, int] = (64, 128, 256, 512),
        act: str = "gelu",
        *,
        residual: ResidualBody = basic_residual,
        norm_layer: NormLayer = nn.BatchNorm2d,
        pool_before_norm: bool = False,
        stem: nn.Module | None = None,
    ) -> None:
        super().__init__()
        self.num_classes = num_classes
        c0, c1, c2, c3 = widths
        unit = partial(conv_norm_act, act=act, norm_layer=norm_layer, pool_before_norm=pool_before_norm)
        self.stem = stem if stem is not None else unit(in_chans, c0)
        self.layer1 = nn.Sequential(unit(c0, c1, pool=True), Residual(residual(c1, act, norm_layer)))
        self.layer2 = unit(c1, c2, pool=True)
        self.layer3 = nn.Sequential(unit(c2, c3, pool=True), Residual(residual(c3, act, norm_layer)))
        self.num_features = c3
        self.fc = nn.Linear(c3, num_classes)

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        return self.layer3(self.layer2(self.layer1(self.stem(x))))

    def forward_head(self, x: torch.Tensor, pre_logits: bool = False) -> torch.Tensor:
        return super().forward_head(x.amax((2, 3)), pre_logits)


def resnet9(num_classes: int = 10, in_chans: int = 3, act: str = "gelu") -> ResNet9:
    """ResNet-9, Myrtle layout, BatchNorm, GELU by default (6,573,130 params at 10 classes)."""
    return ResNet9(num_classes, in_chans, act=act)


def fast_resnet9(
    num_classes: int = 10, in_chans: int = 3, act: str = "gelu", virtual_batch_size: int = 32
) -> ResNet9:
    """ResNet-9 with max-pools before norm and activation and Ghost BatchNorm (6,573,130 params).

    Same parameters as `resnet9`; Myrtle's frozen BN scales and 0.125 logit scale are left out,
    since the seed does not list them.
    """
    norm = partial(GhostBatchNorm, virtual_batch_size=virtual_batch_size)
    return ResNet9(num_classes, in_chans, act=act, norm_layer=norm, pool_before_norm=True)
