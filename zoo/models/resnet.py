"""ResNet for CIFAR-10.

Paper: He et al., "Deep Residual Learning for Image Recognition", CVPR 2016, arXiv:1512.03385.
Seed variant: the ImageNet ResNet-18/34/50 block layout with the CIFAR stem the seeds use
(3x3 stride-1 convolution, no max-pool), widths 64-128-256-512, 1x1-conv + BN projection
shortcuts where shape changes (option B of the paper). `act=` swaps the activation everywhere,
as the seeds' activation study does.
"""

from __future__ import annotations

import torch
from torch import nn

from ..layers import ConvBnAct, get_act
from ._base import ClassifierModel


class BasicBlock(nn.Module):
    expansion = 1

    def __init__(self, in_chs: int, chs: int, stride: int = 1, act: str = "relu") -> None:
        super().__init__()
        out_chs = chs * self.expansion
        self.conv1 = ConvBnAct(in_chs, chs, 3, stride, act=act)
        self.conv2 = ConvBnAct(chs, out_chs, 3, act=None)
        self.shortcut = _shortcut(in_chs, out_chs, stride)
        self.act = get_act(act)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.act(self.conv2(self.conv1(x)) + self.shortcut(x))


class Bottleneck(nn.Module):
    expansion = 4

    def __init__(self, in_chs: int, chs: int, stride: int = 1, act: str = "relu") -> None:
        super().__init__()
        out_chs = chs * self.expansion
        self.conv1 = ConvBnAct(in_chs, chs, 1, act=act)
        self.conv2 = ConvBnAct(chs, chs, 3, stride, act=act)
        self.conv3 = ConvBnAct(chs, out_chs, 1, act=None)
        self.shortcut = _shortcut(in_chs, out_chs, stride)
        self.act = get_act(act)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.act(self.conv3(self.conv2(self.conv1(x))) + self.shortcut(x))


def _shortcut(in_chs: int, out_chs: int, stride: int) -> nn.Module:
    if stride == 1 and in_chs == out_chs:
        return nn.Identity()
    return ConvBnAct(in_chs, out_chs, 1, stride, act=None)


class ResNet(ClassifierModel):
    """CIFAR ResNet: 3x3 stem, four stages (strides 1, 2, 2, 2), global average pool, linear."""

    def __init__(
        self,
        block: type[BasicBlock | Bottleneck],
        layers: tuple[int, int, int, int],
        num_classes: int = 10,
        in_chans: int = 3,
        act: str = "relu",
    ) -> None:
        super().__init__()
        self.num_classes = num_classes
        self.stem = ConvBnAct(in_chans, 64, 3, act=act)
        stages, in_chs = [], 64
        for i, (depth, chs) in enumerate(zip(layers, (64, 128, 256, 512))):
            blocks = []
            for j in range(depth):
                blocks.append(block(in_chs, chs, stride=2 if i > 0 and j == 0 else 1, act=act))
                in_chs = chs * block.expansion
            stages.append(nn.Sequential(*blocks))
        self.stages = nn.Sequential(*stages)
        self.num_features = in_chs
        self.fc = nn.Linear(in_chs, num_classes)

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        return self.stages(self.stem(x))


def resnet18(num_classes: int = 10, in_chans: int = 3, act: str = "relu") -> ResNet:
    """ResNet-18, CIFAR form (11,173,962 params)."""
    return ResNet(BasicBlock, (2, 2, 2, 2), num_classes, in_chans, act)
