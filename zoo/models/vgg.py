"""VGG for CIFAR-10, with and without BatchNorm.

Papers: Simonyan & Zisserman, "Very Deep Convolutional Networks for Large-Scale Image
Recognition", ICLR 2015, arXiv:1409.1556; for the _bn variants Ioffe & Szegedy, "Batch
Normalization", ICML 2015, arXiv:1502.03167. Seed variant: VGG-A (VGG-11) of the seeds'
BatchNorm study (the seed's VGG_BatchNorm/models/vgg.py): configuration A's convolutions and a
512-512-512-10 classifier. `vgg11` is the course's VGG_A (with its VGG_A_Dropout's dropout as an
option, on by default), `vgg11_bn` the seed's VGG_A_BatchNorm; ``vgg11_bn(noisy_bn=True)`` is
Santurkar et al.'s "noisy BatchNorm" (arXiv:1805.11604, the ics study's).
"""

from __future__ import annotations

import torch
from torch import nn

from ..layers import NoisyBatchNorm2d
from ._base import ClassifierModel

# Output channels of each 3x3 convolution; "M" is a 2x2 max-pool.
CONFIGS: dict[str, tuple[int | str, ...]] = {
    "A": (64, "M", 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M"),
}


class VGG(ClassifierModel):
    """VGG convolutions (32x32 pooled five times to 1x1x512), then Linear 512-512-512 -> classes.

    Without `batch_norm` (VGG-11: the seeds' 9,750,922 parameters) every convolution and Linear
    keeps its bias, as in the paper, and the hidden classifier is Dropout -> Linear 512 -> 512 ->
    ReLU twice (the course's VGG_A_Dropout head; `drop_rate` 0 gives its VGG_A). With
    `batch_norm`, as the seed's VGG_A_BatchNorm: a BatchNorm2d follows every convolution and a
    BatchNorm1d each hidden Linear, and the layers they follow have no bias (torchvision's
    vgg*_bn keep the conv biases and have no BatchNorm1d). Initialisation follows torchvision:
    He normal (fan-out) for convolutions, N(0, 0.01) for Linear layers, zero biases. `noisy_bn`
    puts `NoisyBatchNorm2d` after the convolutions (random per-channel shifts and scales in training).
    """

    def __init__(
        self,
        config: tuple[int | str, ...],
        num_classes: int = 10,
        in_chans: int = 3,
        batch_norm: bool = False,
        drop_rate: float = 0.5,
        noisy_bn: bool = False,
    ) -> None:
        super().__init__()
        if noisy_bn and not batch_norm:
            raise ValueError("noisy_bn perturbs BatchNorm's output: use it with batch_norm (vgg11_bn)")
        norm = NoisyBatchNorm2d if noisy_bn else nn.BatchNorm2d
        self.num_classes = num_classes
        layers: list[nn.Module] = []
        chs = in_chans
        for item in config:
            if item == "M":
                layers.append(nn.MaxPool2d(2))
                continue
            layers.append(nn.Conv2d(chs, item, 3, padding=1, bias=not batch_norm))
            if batch_norm:
                layers.append(norm(item))
            layers.append(nn.ReLU(inplace=True))
            chs = item
        self.features = nn.Sequential(*layers)
        hidden: list[nn.Module] = [nn.Flatten()]
        for in_features in (chs, 512):
            # Dropout stays in place (p may be 0) so the state-dict keys do not depend on it.
            hidden += [nn.Dropout(drop_rate), nn.Linear(in_features, 512, bias=not batch_norm)]
            hidden += [nn.BatchNorm1d(512)] if batch_norm else []
            hidden.append(nn.ReLU(inplace=True))
        self.pre_logits = nn.Sequential(*hidden)
        self.num_features = 512
        self.fc = nn.Linear(512, num_classes)
        self._init_weights()

    def _init_weights(self) -> None:
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            elif isinstance(m, nn.Linear):
                nn.init.normal_(m.weight, 0.0, 0.01)
            if isinstance(m, nn.Conv2d | nn.Linear) and m.bias is not None:
                nn.init.zeros_(m.bias)

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        return self.pre_logits(self.features(x))


def vgg11(num_classes: int = 10, in_chans: int = 3, drop_rate: float = 0.5) -> VGG:
    """VGG-11 (configuration A), CIFAR form (9,750,922 params at 10 classes)."""
    return VGG(CONFIGS["A"], num_classes, in_chans, batch_norm=False, drop_rate=drop_rate)


def vgg11_bn(num_classes: int = 10, in_chans: int = 3, drop_rate: float = 0.0, noisy_bn: bool = False) -> VGG:
    """VGG-11 with BatchNorm after every bias-free conv and hidden Linear, no dropout (9,754,698 params)."""
    return VGG(CONFIGS["A"], num_classes, in_chans, batch_norm=True, drop_rate=drop_rate, noisy_bn=noisy_bn)
