"""DenseNet for CIFAR-10: DenseNet-BC-100 (k=12) and DenseNet-121 (k=32).

Paper: Huang, Liu, van der Maaten, Weinberger, "Densely Connected Convolutional Networks",
CVPR 2017, arXiv:1608.06993.

Seed variant (seed table: DenseNet100_bc 0.77 M, DenseNet121 6.96 M): the BC form throughout,
pre-activation BN-ReLU-Conv units, each dense layer a 1x1 bottleneck to 4k channels then a
3x3 conv adding k channels, concatenated onto its input; transitions BN-ReLU-1x1 conv
compressing to floor(theta * channels) (theta = 0.5) then 2x2 average pooling; a 3x3 stride-1
stem to 2k channels (no BN right after it: the first dense layer pre-activates it); final
BN-ReLU, global average pool, linear. DenseNet-BC-100 is the paper's CIFAR model (three blocks
of (100 - 4) / 6 = 16 layers, 32 -> 16 -> 8 px); DenseNet-121 keeps the ImageNet block layout
6-12-24-16 with the CIFAR stem (32 -> 4 px).

Identical to the code the seed trained: BIGBALLON/CIFAR-ZOO's ``densenet100bc`` (the seed's
densenetbc.py) and kuangliu/pytorch-cifar's ``DenseNet121`` (the seed's densenet.py). Both put a
dense layer's new features first, ``cat([new, x])``; the paper's figure (and torchvision) appends
them. The two orders are equivalent up to a permutation of channels, but only this one takes
those checkpoints by renaming keys (`zoo convert`).
"""

from __future__ import annotations

import math

import torch
from torch import nn

from ..layers import get_act
from ._base import ClassifierModel


def _bn_act_conv(in_chs: int, out_chs: int, kernel_size: int) -> nn.Sequential:
    """Pre-activation unit: BatchNorm -> ReLU -> conv (no bias)."""
    return nn.Sequential(
        nn.BatchNorm2d(in_chs),
        get_act("relu"),
        nn.Conv2d(in_chs, out_chs, kernel_size, padding=kernel_size // 2, bias=False),
    )


class DenseLayer(nn.Module):
    """Bottleneck dense layer: ``cat([conv3x3(conv1x1(x)), x])``, growing x by `growth_rate`."""

    def __init__(self, in_chs: int, growth_rate: int, bottleneck: int = 4) -> None:
        super().__init__()
        self.conv1 = _bn_act_conv(in_chs, bottleneck * growth_rate, 1)
        self.conv2 = _bn_act_conv(bottleneck * growth_rate, growth_rate, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([self.conv2(self.conv1(x)), x], 1)


class Transition(nn.Sequential):
    """Between dense blocks: BN-ReLU-1x1 conv to `out_chs`, then halve the resolution."""

    def __init__(self, in_chs: int, out_chs: int) -> None:
        super().__init__(*_bn_act_conv(in_chs, out_chs, 1), nn.AvgPool2d(2))


class DenseNet(ClassifierModel):
    """DenseNet-BC: 3x3 stem to 2k channels, dense blocks of `block_depths` layers, transitions."""

    def __init__(
        self,
        block_depths: tuple[int, ...],
        growth_rate: int,
        compression: float = 0.5,
        num_classes: int = 10,
        in_chans: int = 3,
    ) -> None:
        super().__init__()
        if not 0.0 < compression <= 1.0:
            raise ValueError(f"DenseNet compression (theta) must be in (0, 1], got {compression}")
        self.num_classes = num_classes
        chs = 2 * growth_rate
        self.stem = nn.Conv2d(in_chans, chs, 3, padding=1, bias=False)
        stages: list[nn.Module] = []
        for i, depth in enumerate(block_depths):
            if i > 0:
                out_chs = math.floor(compression * chs)
                stages.append(Transition(chs, out_chs))
                chs = out_chs
            layers = (DenseLayer(chs + j * growth_rate, growth_rate) for j in range(depth))
            stages.append(nn.Sequential(*layers))
            chs += depth * growth_rate
        self.stages = nn.Sequential(*stages)
        self.norm = nn.BatchNorm2d(chs)
        self.act = get_act("relu")
        self.num_features = chs
        self.fc = nn.Linear(chs, num_classes)

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        return self.act(self.norm(self.stages(self.stem(x))))


def densenet100_bc(num_classes: int = 10, in_chans: int = 3) -> DenseNet:
    """DenseNet-BC, L=100, k=12: blocks 16-16-16, 342 features (769,162 params)."""
    return DenseNet((16, 16, 16), 12, num_classes=num_classes, in_chans=in_chans)


def densenet121(num_classes: int = 10, in_chans: int = 3) -> DenseNet:
    """DenseNet-121, k=32, CIFAR form: blocks 6-12-24-16, 1024 features (6,956,298 params)."""
    return DenseNet((6, 12, 24, 16), 32, num_classes=num_classes, in_chans=in_chans)
