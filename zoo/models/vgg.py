"""VGG for CIFAR-10, with and without BatchNorm.

Papers: Simonyan & Zisserman, "Very Deep Convolutional Networks for Large-Scale Image
Recognition", ICLR 2015, arXiv:1409.1556; for the _bn variants Ioffe & Szegedy, "Batch
Normalization", ICML 2015, arXiv:1502.03167. Seed variant: VGG-A (VGG-11) of the seeds'
BatchNorm study: configuration A's convolutions and a 512-512-512-10 classifier.
"""

from __future__ import annotations

import torch
from torch import nn

from ._base import ClassifierModel

# Output channels of each 3x3 convolution; "M" is a 2x2 max-pool.
CONFIGS: dict[str, tuple[int | str, ...]] = {
    "A": (64, "M", 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M"),
}


class VGG(ClassifierModel):
    """VGG convolutions (32x32 pooled five times to 1x1x512), then Linear 512-512-512 -> classes.

    Choices that land VGG-11 exactly on the seeds' 9,750,922 parameters: every convolution and
    Linear keeps its bias (as in the paper and torchvision), and the hidden classifier is
    Dropout -> Linear 512 -> 512 -> ReLU twice, the usual CIFAR VGG head (chengyangfu/pytorch-
    vgg-cifar10); dropout adds no parameters, `drop_rate` 0.5 is the paper's. With `batch_norm`
    a BatchNorm2d follows every convolution (the convolution keeps its bias, as torchvision's
    vgg*_bn do). Initialisation follows torchvision: He normal (fan-out) for convolutions,
    N(0, 0.01) for Linear layers, zero biases.
    """

    def __init__(
        self,
        config: tuple[int | str, ...],
        num_classes: int = 10,
        in_chans: int = 3,
        batch_norm: bool = False,
        drop_rate: float = 0.5,
    ) -> None:
        super().__init__()
        self.num_classes = num_classes
        layers: list[nn.Module] = []
        chs = in_chans
        for item in config:
            if item == "M":
                layers.append(nn.MaxPool2d(2))
                continue
            layers.append(nn.Conv2d(chs, item, 3, padding=1))
            if batch_norm:
                layers.append(nn.BatchNorm2d(item))
            layers.append(nn.ReLU(inplace=True))
            chs = item
        self.features = nn.Sequential(*layers)
        self.pre_logits = nn.Sequential(
            nn.Flatten(),
            nn.Dropout(drop_rate),
            nn.Linear(chs, 512),
            nn.ReLU(inplace=True),
            nn.Dropout(drop_rate),
            nn.Linear(512, 512),
            nn.ReLU(inplace=True),
        )
        self.num_features = 512
        self.fc = nn.Linear(512, num_classes)
        self._init_weights()

    def _init_weights(self) -> None:
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
                nn.init.zeros_(m.bias)
            elif isinstance(m, nn.Linear):
                nn.init.normal_(m.weight, 0.0, 0.01)
                nn.init.zeros_(m.bias)

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        return self.pre_logits(self.features(x))


def vgg11(num_classes: int = 10, in_chans: int = 3, drop_rate: float = 0.5) -> VGG:
    """VGG-11 (configuration A), CIFAR form (9,750,922 params at 10 classes)."""
    return VGG(CONFIGS["A"], num_classes, in_chans, batch_norm=False, drop_rate=drop_rate)


def vgg11_bn(num_classes: int = 10, in_chans: int = 3, drop_rate: float = 0.5) -> VGG:
    """VGG-11 with BatchNorm after every convolution (9,756,426 params at 10 classes)."""
    return VGG(CONFIGS["A"], num_classes, in_chans, batch_norm=True, drop_rate=drop_rate)
