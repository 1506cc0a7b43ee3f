"""ResNet-9 (DAWNBench / Myrtle) for CIFAR-10, and its fast-training variant.

Papers: Page, "How to train your ResNet", myrtle.ai blog 2018,
https://myrtle.ai/learn/how-to-train-your-resnet/ ; He et al., "Deep Residual Learning for Image
Recognition", CVPR 2016, arXiv:1512.03385. Seed variants: seed 001 §1.4.1 ("ResNet18 reduced by
two residual blocks", GELU) for `resnet9`; seed 001 §1.4.2 for `fast_resnet9`. Both are identical
to the seed's code (resnet9.py, fastresnet9.py); where that departs from Myrtle's network:

* `resnet9`: GELU instead of ReLU, and a classifier without bias (6,573,120 params).
* `fast_resnet9` (Germer's cifar10-fast-simple network, as the seed copied it): GELU instead of
  CELU(0.3). Otherwise Myrtle's final form: a frozen 3x3 conv to 27 patch-whitening filters
  (`FastResNet9.init_whitening`, run by `zoo train` on the training images) and a 1x1 conv to
  64 as the stem, max-pools before BatchNorm and activation, Ghost BatchNorm over 16 interleaved
  splits with its scale frozen at 1, a bias-free classifier and logits scaled by 0.125.
  6,573,849 params, 6,570,880 of them trainable. Label smoothing, EMA and flip test-time
  augmentation belong to the training recipe, not to the model.

The layout is also reused, narrower, by the Res9 family (zoo/models/res9.py).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import partial

import torch
from torch import nn

from ..layers import GhostBatchNorm, PatchWhitening, get_act
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
    Global pooling is a max over the final 4x4 map, as in the Myrtle network. `fc_bias` gives
    the classifier a bias; the logits are multiplied by `logit_scale`.
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
        fc_bias: bool = True,
        logit_scale: float = 1.0,
    ) -> None:
        super().__init__()
        self.num_classes = num_classes
        self.fc_bias, self.logit_scale = fc_bias, logit_scale
        c0, c1, c2, c3 = widths
        unit = partial(conv_norm_act, act=act, norm_layer=norm_layer, pool_before_norm=pool_before_norm)
        self.stem = stem if stem is not None else unit(in_chans, c0)
        self.layer1 = nn.Sequential(unit(c0, c1, pool=True), Residual(residual(c1, act, norm_layer)))
        self.layer2 = unit(c1, c2, pool=True)
        self.layer3 = nn.Sequential(unit(c2, c3, pool=True), Residual(residual(c3, act, norm_layer)))
        self.num_features = c3
        self.fc = nn.Linear(c3, num_classes, bias=fc_bias)

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        return self.layer3(self.layer2(self.layer1(self.stem(x))))

    def forward_head(self, x: torch.Tensor, pre_logits: bool = False) -> torch.Tensor:
        out = super().forward_head(x.amax((2, 3)), pre_logits)
        return out if pre_logits or self.logit_scale == 1.0 else out * self.logit_scale

    def reset_classifier(self, num_classes: int) -> None:
        super().reset_classifier(num_classes)
        if num_classes > 0 and not self.fc_bias:
            self.fc = nn.Linear(self.num_features, num_classes, bias=False)


def as_model_input(
    images: torch.Tensor, mean: Sequence[float] | None = None, std: Sequence[float] | None = None
) -> torch.Tensor:
    """`images` as a model receives them, for fitting a whitening layer: uint8 images scaled to [0, 1]
    and, given `mean` and `std`, normalised the way the training loader normalises them; float images
    are taken as model inputs already."""
    if images.is_floating_point():
        return images
    x = images.float() / 255.0
    if mean is not None and std is not None:
        shape = (1, -1, 1, 1)
        x = (x - x.new_tensor(mean).view(shape)) / x.new_tensor(std).view(shape)
    return x


class FastResNet9(ResNet9):
    """ResNet9 whose stem starts with a frozen `PatchWhitening` conv, to be fitted before training.

    Every `GhostBatchNorm` scale is frozen (``requires_grad=False``, left at 1).
    """

    def __init__(self, num_classes: int, in_chans: int, act: str, norm_layer: NormLayer) -> None:
        whitening = PatchWhitening(in_chans)
        stem = nn.Sequential(
            whitening,
            conv_norm_act(whitening.out_channels, 64, act, kernel_size=1, norm_layer=norm_layer),
        )
        super().__init__(
            num_classes,
            in_chans,
            act=act,
            norm_layer=norm_layer,
            pool_before_norm=True,
            stem=stem,
            fc_bias=False,
            logit_scale=0.125,
        )
        for m in self.modules():
            if isinstance(m, GhostBatchNorm):
                m.weight.requires_grad_(False)

    def init_whitening(
        self,
        images: torch.Tensor,
        mean: Sequence[float] | None = None,
        std: Sequence[float] | None = None,
        limit: int = 10_000,
    ) -> None:
        """Fit the whitening filters to the first `limit` of `images` (N, C, H, W), as the seed does.

        uint8 images are scaled to [0, 1] and, given `mean` and `std`, normalised the way the
        training loader normalises them; float images are taken as model inputs already.
        """
        self.stem[0].fit(as_model_input(images[:limit], mean, std))


def resnet9(num_classes: int = 10, in_chans: int = 3, act: str = "gelu") -> ResNet9:
    """ResNet-9, Myrtle layout, BatchNorm, GELU, bias-free classifier (6,573,120 params)."""
    return ResNet9(num_classes, in_chans, act=act, fc_bias=False)


def fast_resnet9(
    num_classes: int = 10, in_chans: int = 3, act: str = "gelu", num_splits: int = 16
) -> FastResNet9:
    """The seed's FastResNet9: whitening stem, Ghost BatchNorm over `num_splits` splits
    (6,573,849 params, 6,570,880 trainable)."""
    return FastResNet9(num_classes, in_chans, act, partial(GhostBatchNorm, num_splits=num_splits))
