"""Pre-activation ResNets for CIFAR-10.

Paper: He et al., "Identity Mappings in Deep Residual Networks", ECCV 2016, arXiv:1603.05027.
CIFAR form (3x3 stride-1 stem, no max-pool); BN-ReLU before each convolution, a final BN-ReLU
before pooling, 1x1 projection shortcuts taken from the pre-activated input.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from zoo.models import ClassifierModel


class PreActBlock(nn.Module):
    def __init__(self, in_chs: int, chs: int, stride: int = 1) -> None:
        super().__init__()
        self.bn1 = nn.BatchNorm2d(in_chs)
        self.conv1 = nn.Conv2d(in_chs, chs, 3, stride, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(chs)
        self.conv2 = nn.Conv2d(chs, chs, 3, 1, 1, bias=False)
        self.shortcut = (
            nn.Conv2d(in_chs, chs, 1, stride, bias=False) if stride != 1 or in_chs != chs else None
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = F.relu(self.bn1(x))
        shortcut = self.shortcut(out) if self.shortcut is not None else x
        out = self.conv1(out)
        out = self.conv2(F.relu(self.bn2(out)))
        return out + shortcut


class PreActResNet(ClassifierModel):
    """Four stages of `depths` blocks, `width`, 2x, 4x, 8x channels; the stem keeps `width`.

    ClassifierModel provides forward (= forward_head(forward_features(x))), forward_head (global
    average pool, then `fc`), get_classifier and reset_classifier; a subclass sets `num_classes`,
    `num_features` and `fc`, and implements `forward_features`.
    """

    def __init__(
        self,
        num_classes: int = 10,
        in_chans: int = 3,
        width: int = 64,
        depths: tuple[int, ...] = (2, 2, 2, 2),
    ) -> None:
        super().__init__()
        self.num_classes = num_classes
        self.stem = nn.Conv2d(in_chans, width, 3, 1, 1, bias=False)
        blocks, in_chs = [], width
        for i, depth in enumerate(depths):
            chs = width * 2**i
            for j in range(depth):
                blocks.append(PreActBlock(in_chs, chs, 2 if i > 0 and j == 0 else 1))
                in_chs = chs
        self.blocks = nn.Sequential(*blocks)
        self.final_norm = nn.BatchNorm2d(in_chs)
        self.num_features = in_chs
        self.fc = nn.Linear(in_chs, num_classes)

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        return F.relu(self.final_norm(self.blocks(self.stem(x))))


def preact_resnet18(num_classes: int = 10, in_chans: int = 3) -> PreActResNet:
    """Pre-activation ResNet-18, CIFAR form (11,172,170 params)."""
    return PreActResNet(num_classes=num_classes, in_chans=in_chans)


def preact_resnet10_tiny(num_classes: int = 10, in_chans: int = 3) -> PreActResNet:
    """A tiny pre-activation ResNet-10 (one block per stage, widths 8-64); its weights ship with it."""
    return PreActResNet(num_classes=num_classes, in_chans=in_chans, width=8, depths=(1, 1, 1, 1))
