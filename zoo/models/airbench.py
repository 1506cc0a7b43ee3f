"""airbench94: the network of K. Jordan's fastest 94 % CIFAR-10 training.

Paper: K. Jordan, "94% on CIFAR-10 in 3.29 Seconds on a Single GPU", arXiv:2404.00498 (2024).
Code followed: airbench94.py of https://github.com/KellerJordan/cifar10-airbench (the uncompiled
variant of airbench94_compiled.py), written here anew in zoo's model API. Its training (batch 1024,
Nesterov SGD, scaled BatchNorm biases, Lookahead-EMA, flip + translate TTA) is the `airbench94`
recipe of zoo/plugins/recipes.py, not part of the model.

The network, for 3x32x32 inputs:

* a 2x2 convolution without padding to 24 channels (32 -> 31 pixels), with a bias: its weight is
  frozen patch whitening, the 12 whitened principal directions of the 2x2 patches of training
  images (eps 5e-4) and their negatives, fitted by `Airbench.init_whitening` (which `zoo train`
  runs on the training images), then GELU;
* three conv groups of widths 64, 256, 256: 3x3 conv, 2x2 max-pool, BatchNorm, GELU, 3x3 conv,
  BatchNorm, GELU (31 -> 15 -> 7 -> 3 pixels); the 3x3 convolutions have no bias and start as a
  partial identity (Dirac init of their first ``in_channels`` filters, the paper's "identity
  initialization"); every BatchNorm has eps 1e-12, momentum 0.4 (airbench's 0.6 in its own
  convention) and its scale frozen at 1;
* a global max-pool (airbench's 3x3 max-pool over the 3x3 map), a bias-free linear classifier to
  10 classes and logits times 1/9.

1,972,792 parameters, 1,971,352 trainable (the whitening weight's 288 and the 1,152 BatchNorm
scales are frozen); 118,147,360 MACs per image.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from ..layers import PatchWhitening, get_act
from ._base import ClassifierModel
from .resnet9 import as_model_input

WIDTHS = (64, 256, 256)
BN_EPS, BN_MOMENTUM = 1e-12, 0.4  # torch's momentum convention: airbench's 0.6 is 1 - 0.4
WHITENING_EPS = 5e-4


class IdentityInitConv(nn.Conv2d):
    """3x3 'same' convolution without bias whose first ``in_channels`` filters start as the identity
    (Dirac), the rest with PyTorch's default init: an implicit residual at initialisation."""

    def __init__(self, in_chs: int, out_chs: int) -> None:
        super().__init__(in_chs, out_chs, 3, padding=1, bias=False)

    def reset_parameters(self) -> None:
        super().reset_parameters()
        with torch.no_grad():
            nn.init.dirac_(self.weight[: min(self.in_channels, self.out_channels)])


def frozen_scale_norm(chs: int) -> nn.BatchNorm2d:
    """airbench's BatchNorm: eps 1e-12, momentum 0.4, scale frozen at 1, bias trained."""
    norm = nn.BatchNorm2d(chs, eps=BN_EPS, momentum=BN_MOMENTUM)
    norm.weight.requires_grad_(False)
    return norm


def conv_group(in_chs: int, out_chs: int, act: str) -> nn.Sequential:
    """conv -> 2x2 max-pool -> BN -> act -> conv -> BN -> act (airbench's ConvGroup)."""
    return nn.Sequential(
        IdentityInitConv(in_chs, out_chs),
        nn.MaxPool2d(2),
        frozen_scale_norm(out_chs),
        get_act(act),
        IdentityInitConv(out_chs, out_chs),
        frozen_scale_norm(out_chs),
        get_act(act),
    )


class PairedWhitening(nn.Conv2d):
    """A k x k convolution without padding to ``2 * C * k * k`` channels, with a bias: the filters of
    `PatchWhitening` for k x k patches and their negatives (frozen), fitted by `fit`; the bias starts
    at 0 and trains."""

    def __init__(self, in_chs: int = 3, kernel_size: int = 2, eps: float = WHITENING_EPS) -> None:
        super().__init__(in_chs, 2 * in_chs * kernel_size**2, kernel_size, padding=0, bias=True)
        self.weight.requires_grad_(False)
        self.eps = eps
        with torch.no_grad():
            self.bias.zero_()

    @torch.no_grad()
    def fit(self, images: torch.Tensor) -> None:
        """Set the filters from `images` (N, C, H, W), already in the form the model receives."""
        whitening = PatchWhitening(self.in_channels, self.kernel_size[0], self.eps)
        whitening.fit(images)
        filters = whitening.weight.to(self.weight.device, self.weight.dtype)
        self.weight.copy_(torch.cat([filters, -filters]))


class Airbench(ClassifierModel):
    """whitening conv -> act -> three conv groups -> global max-pool -> fc (no bias) -> x `logit_scale`."""

    def __init__(
        self,
        num_classes: int = 10,
        in_chans: int = 3,
        widths: Sequence[int] = WIDTHS,
        act: str = "gelu",
        *,
        whitening_kernel: int = 2,
        logit_scale: float = 1 / 9,
    ) -> None:
        super().__init__()
        self.num_classes, self.logit_scale = num_classes, logit_scale
        self.whiten = PairedWhitening(in_chans, whitening_kernel)
        self.act = get_act(act)
        chs, groups = self.whiten.out_channels, []
        for width in widths:
            groups.append(conv_group(chs, width, act))
            chs = width
        self.layer1, self.layer2, self.layer3 = groups
        self.num_features = chs
        self.fc = nn.Linear(chs, num_classes, bias=False)

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        return self.layer3(self.layer2(self.layer1(self.act(self.whiten(x)))))

    def forward_head(self, x: torch.Tensor, pre_logits: bool = False) -> torch.Tensor:
        out = super().forward_head(x.amax((2, 3)), pre_logits)
        return out if pre_logits else out * self.logit_scale

    def reset_classifier(self, num_classes: int) -> None:
        super().reset_classifier(num_classes)
        if num_classes > 0:
            self.fc = nn.Linear(self.num_features, num_classes, bias=False)

    def init_whitening(
        self,
        images: torch.Tensor,
        mean: Sequence[float] | None = None,
        std: Sequence[float] | None = None,
        limit: int = 5_000,
    ) -> None:
        """Fit the whitening filters to the first `limit` of `images` (N, C, H, W), as airbench94 does
        (its first 5000 training images), in the form `as_model_input` gives them."""
        self.whiten.fit(as_model_input(images[:limit], mean, std))


def airbench94(num_classes: int = 10, in_chans: int = 3, act: str = "gelu") -> Airbench:
    """airbench94's network (1,972,792 params, 1,971,352 trainable)."""
    return Airbench(num_classes, in_chans, act=act)
