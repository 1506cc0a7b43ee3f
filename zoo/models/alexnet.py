"""AlexNet for 3x32x32 input.

Paper: Krizhevsky, Sutskever & Hinton, "ImageNet Classification with Deep Convolutional Neural
Networks", NeurIPS 2012. Seed variant: seed 001 §1.2.2, the CIFAR form of AlexNet.
"""

from __future__ import annotations

import torch
from torch import nn

from ._base import ClassifierModel


class AlexNet(ClassifierModel):
    """AlexNet's five convolutions (64-192-384-256-256) shrunk to 32x32 input, no hidden FC layers.

    The seed gives only the parameter count (2.47 M). This is the common CIFAR layout of
    Wei Yang's pytorch-classification (models/cifar/alexnet.py), which lands on it exactly
    (2,472,266): an 11x11 stride-4 first convolution (padding 5) and 2x2 max-pools take 32x32
    down to 1x1x256, and the two 4096-wide FC layers are dropped (they would be 93 % of the
    weights for 10 classes), leaving one Linear 256 -> 10. No BatchNorm, as in the paper.
    """

    def __init__(self, num_classes: int = 10, in_chans: int = 3) -> None:
        super().__init__()
        self.num_classes = num_classes
        self.features = nn.Sequential(
            nn.Conv2d(in_chans, 64, 11, stride=4, padding=5),
            nn.ReLU(inplace=True),
            nn.MaxPool2d(2),
            nn.Conv2d(64, 192, 5, padding=2),
            nn.ReLU(inplace=True),
            nn.MaxPool2d(2),
            nn.Conv2d(192, 384, 3, padding=1),
            nn.ReLU(inplace=True),
            nn.Conv2d(384, 256, 3, padding=1),
            nn.ReLU(inplace=True),
            nn.Conv2d(256, 256, 3, padding=1),
            nn.ReLU(inplace=True),
            nn.MaxPool2d(2),
        )
        self.num_features = 256
        self.fc = nn.Linear(256, num_classes)

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        return self.features(x)


def alexnet(num_classes: int = 10, in_chans: int = 3) -> AlexNet:
    """AlexNet, CIFAR form (2,472,266 params at 10 classes)."""
    return AlexNet(num_classes=num_classes, in_chans=in_chans)
