"""ResNet for CIFAR-10, and the residual pieces ResNeXt and Wide ResNet reuse.

Paper: He et al., "Deep Residual Learning for Image Recognition", CVPR 2016, arXiv:1512.03385.
Seed variant: seed 001 table 6, the ImageNet ResNet-18/34/50 block layout with the CIFAR stem
the seeds use (3x3 stride-1 convolution, no max-pool), widths 64-128-256-512, 1x1-conv + BN
projection shortcuts where shape changes (option B of the paper). `act=` swaps the activation
everywhere, as the seeds' activation study does. `deepen_resnet` grows resnet18 into resnet34
keeping its function (zoo.growth).
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

import torch
from torch import nn

from .._growths import GrowError
from ..layers import ConvBnAct, get_act
from ._base import ClassifierModel
from ._net2net import copy_state, zero_


def projection_shortcut(in_chs: int, out_chs: int, stride: int, norm: bool = True) -> nn.Module:
    """Identity when the shape is kept, else a strided 1x1 projection (option B of He et al.).

    `norm=False` gives a bare 1x1 conv with a bias, for pre-activation blocks whose next
    normalisation comes after the sum.
    """
    if stride == 1 and in_chs == out_chs:
        return nn.Identity()
    if norm:
        return ConvBnAct(in_chs, out_chs, 1, stride, act=None)
    return nn.Conv2d(in_chs, out_chs, 1, stride)


def make_stage(
    make_block: Callable[..., nn.Module], in_chs: int, out_chs: int, depth: int, stride: int
) -> nn.Sequential:
    """`depth` blocks from ``make_block(in_chs=..., stride=...)``: only the first changes shape."""
    blocks = [make_block(in_chs=in_chs, stride=stride)]
    blocks += [make_block(in_chs=out_chs, stride=1) for _ in range(depth - 1)]
    return nn.Sequential(*blocks)


class BasicBlock(nn.Module):
    expansion = 1

    def __init__(self, in_chs: int, chs: int, stride: int = 1, act: str = "relu") -> None:
        super().__init__()
        out_chs = chs * self.expansion
        self.conv1 = ConvBnAct(in_chs, chs, 3, stride, act=act)
        self.conv2 = ConvBnAct(chs, out_chs, 3, act=None)
        self.shortcut = projection_shortcut(in_chs, out_chs, stride)
        self.act = get_act(act)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.conv2(self.conv1(x))
        # In place is safe: the branch ends in BatchNorm, whose backward does not read its output.
        out += self.shortcut(x)
        return self.act(out)


class Bottleneck(nn.Module):
    """1x1 reduce to `chs` -> 3x3 -> 1x1 expand, summed with the shortcut, then activated.

    ResNeXt reuses it: `groups` makes the 3x3 a grouped convolution, `out_chs` overrides the
    ``chs * expansion`` output width and `attn` (e.g. Gather-Excite) rescales the residual
    branch before the sum.
    """

    expansion = 4

    def __init__(
        self,
        in_chs: int,
        chs: int,
        stride: int = 1,
        act: str = "relu",
        *,
        groups: int = 1,
        out_chs: int | None = None,
        attn: nn.Module | None = None,
    ) -> None:
        super().__init__()
        out_chs = chs * self.expansion if out_chs is None else out_chs
        self.conv1 = ConvBnAct(in_chs, chs, 1, act=act)
        self.conv2 = ConvBnAct(chs, chs, 3, stride, groups=groups, act=act)
        self.conv3 = ConvBnAct(chs, out_chs, 1, act=None)
        self.attn = nn.Identity() if attn is None else attn
        self.shortcut = projection_shortcut(in_chs, out_chs, stride)
        self.act = get_act(act)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.attn(self.conv3(self.conv2(self.conv1(x))))
        # In place is safe: neither BatchNorm nor Gather-Excite's product reads its output in backward.
        out += self.shortcut(x)
        return self.act(out)


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
            out_chs = chs * block.expansion
            make_block = partial(block, chs=chs, act=act)
            stages.append(make_stage(make_block, in_chs, out_chs, depth, 1 if i == 0 else 2))
            in_chs = out_chs
        self.stages = nn.Sequential(*stages)
        self.num_features = in_chs
        self.fc = nn.Linear(in_chs, num_classes)

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        return self.stages(self.stem(x))


def resnet18(num_classes: int = 10, in_chans: int = 3, act: str = "relu") -> ResNet:
    """ResNet-18, CIFAR form (11,173,962 params)."""
    return ResNet(BasicBlock, (2, 2, 2, 2), num_classes, in_chans, act)


def resnet34(num_classes: int = 10, in_chans: int = 3, act: str = "relu") -> ResNet:
    """ResNet-34, CIFAR form: basic blocks 3-4-6-3 (21,282,122 params)."""
    return ResNet(BasicBlock, (3, 4, 6, 3), num_classes, in_chans, act)


def resnet50(num_classes: int = 10, in_chans: int = 3, act: str = "relu") -> ResNet:
    """ResNet-50, CIFAR form: bottleneck blocks 3-4-6-3, 2048 features (23,520,842 params)."""
    return ResNet(Bottleneck, (3, 4, 6, 3), num_classes, in_chans, act)


# act(act(x)) == act(x): a new block whose branch adds 0 returns act(x) == x, x being an act output.
_IDEMPOTENT_ACTS = {nn.ReLU: "relu", nn.Identity: "identity"}


def deepen_resnet(
    source: ResNet, make_target: Callable[..., ResNet], *, noise: float, generator: torch.Generator
) -> ResNet:
    """Net2DeeperNet for a ResNet (resnet18 -> resnet34): the source's blocks copied in place, the
    new blocks after them in each stage with their last BatchNorm's weight and bias zero.

    That BatchNorm outputs 0 in eval and in train mode alike, so a new block returns relu(x) = x
    (its input is a block's ReLU output). Nothing is copied twice, so `noise` has nothing to break.
    """
    act = _IDEMPOTENT_ACTS.get(type(source.stem[-1]))
    if act is None:
        raise GrowError(
            f"a ResNet grows deeper only with act='relu' (or 'identity'): a new block returns act(x), "
            f"which is x for those alone; this one uses {type(source.stem[-1]).__name__}"
        )
    target = make_target(act=act, in_chans=source.stem[0].in_channels)
    copy_state(source, target)
    for old, new in zip(source.stages, target.stages):
        for block in new[len(old) :]:
            zero_(block.conv3[1] if isinstance(block, Bottleneck) else block.conv2[1])
    return target
