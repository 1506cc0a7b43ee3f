"""Res9 and Res9 with a simplified bottleneck block: narrow ResNet-9s for CIFAR-10.

Papers: He et al., "Deep Residual Learning for Image Recognition", CVPR 2016, arXiv:1512.03385
(residual and bottleneck blocks); Page, "How to train your ResNet", myrtle.ai 2018,
https://myrtle.ai/learn/how-to-train-your-resnet/ (the ResNet-9 layout). Seed variants: seed 000
§1.1 ("Res9", about 2.2 M params / 8.7 MB fp32, and "Res9 with a simplified bottleneck block",
about 0.85 M / 3.41 MB) and seed 000 §1.6 for the stem choices.

The seed gives only the sizes, so the design is ours: the Myrtle ResNet-9 layout of
zoo/models/resnet9.py (conv-BN-act units, 2x2 max-pools, residual units after the first and third
downsampling, global max-pool) with widths 64-128-192-256 instead of 64-128-256-512:
- `res9`: basic residual units (two 3x3 convs), 2,218,954 params (8.88 MB fp32, +2.0 % on 2.175 M).
- `simp_res9`: each residual unit is a simplified bottleneck, 1x1 C -> C/4, 3x3 C/4 -> C/4,
  1x1 C/4 -> C with an identity shortcut (He et al.'s bottleneck without the 4x expansion, since
  the unit keeps its width), 831,050 params (3.32 MB, -2.5 % on 0.8525 M).
Of all non-decreasing width tuples from {32, 48, 64, 96, 128, 192, 256, 384, 512}, with the standard
bottleneck ratio of 4, 64-128-192-256 is the only one within 3 % of both figures.
"""

from __future__ import annotations

from torch import nn

from .resnet9 import NormLayer, ResidualBody, ResNet9, basic_residual, conv_norm_act

RES9_WIDTHS = (64, 128, 192, 256)

# Stem name -> kernel sizes of its stride-1 conv-BN-act units (seed 000 §1.6). Stacked stems use
# half the stem width in all but the last unit, as the deep stem of Bag of Tricks (ResNet-C) does.
STEMS: dict[str, tuple[int, ...]] = {
    "3x3": (3,),
    "7x7": (7,),
    "3x3-3x3": (3, 3),
    "3x3-3x3-3x3": (3, 3, 3),
}


def make_stem(kind: str, in_chans: int, out_chs: int, act: str) -> nn.Sequential:
    """The stem named `kind` (one of `STEMS`), at full resolution (all strides 1 on 32x32)."""
    try:
        kernels = STEMS[kind]
    except KeyError:
        raise ValueError(f"unknown stem {kind!r}; choose one of {', '.join(STEMS)}") from None
    widths = [out_chs // 2] * (len(kernels) - 1) + [out_chs]
    units, chs = [], in_chans
    for k, width in zip(kernels, widths):
        units.append(conv_norm_act(chs, width, act, kernel_size=k))
        chs = width
    return nn.Sequential(*units)


def simplified_bottleneck(chs: int, act: str, norm_layer: NormLayer) -> nn.Sequential:
    """1x1 reduce to chs/4, 3x3, 1x1 back to chs; the identity shortcut is added by `Residual`."""
    mid = chs // 4
    return nn.Sequential(
        conv_norm_act(chs, mid, act, kernel_size=1, norm_layer=norm_layer),
        conv_norm_act(mid, mid, act, norm_layer=norm_layer),
        conv_norm_act(mid, chs, act, kernel_size=1, norm_layer=norm_layer),
    )


def _res9(num_classes: int, in_chans: int, stem: str, act: str, residual: ResidualBody) -> ResNet9:
    return ResNet9(
        num_classes,
        in_chans,
        RES9_WIDTHS,
        act,
        residual=residual,
        stem=make_stem(stem, in_chans, RES9_WIDTHS[0], act),
    )


def res9(num_classes: int = 10, in_chans: int = 3, stem: str = "3x3", act: str = "relu") -> ResNet9:
    """Res9: ResNet-9 layout at widths 64-128-192-256 (2,218,954 params with the 3x3 stem)."""
    return _res9(num_classes, in_chans, stem, act, basic_residual)


def simp_res9(num_classes: int = 10, in_chans: int = 3, stem: str = "3x3", act: str = "relu") -> ResNet9:
    """Res9 with simplified bottleneck residual units (831,050 params with the 3x3 stem)."""
    return _res9(num_classes, in_chans, stem, act, simplified_bottleneck)
