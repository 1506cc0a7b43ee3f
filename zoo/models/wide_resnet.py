"""Wide Residual Networks for CIFAR-10: WRN-16-8 and WRN-28-10.

Paper: Zagoruyko & Komodakis, "Wide Residual Networks", BMVC 2016, arXiv:1605.07146.

Seed variant (seed table: WideResNet16x8 10.97 M, WideResNet28x10 36.49 M): WRN-d-k with
(d - 4) / 6 pre-activation basic blocks B(3,3) per stage, widths 16k-32k-64k, strides 1-2-2
(on each stage's first conv), a 3x3 stem to 16 channels, final BN-ReLU, global average pool,
linear. By default identical to the seed's wideresnet.py (weiaicunzai/pytorch-cifar100's
WideResNet), which departs from the paper in three ways:

* Every convolution carries a bias (without them WRN-16-8 has 10,961,370 params, 10.96 M).
* Where the shape changes, the 1x1 projection shortcut (with a bias, no BN) reads the raw block
  input; the paper's code projects the BN-ReLU'd input shared with the residual branch
  (`preact_shortcut=True`). Counts are the same either way.
* Dropout 0.5 between the two 3x3 convs of every block (after the second BN-ReLU); the paper's
  main networks have none and its WRN-d-k-dropout uses 0.3 (`dropout=` sets it, 0 for none).

`grow_wide_resnet` grows a trained wrn16_8 into wrn28_10 keeping its function (zoo.growth).
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

import torch
from torch import nn

from .._growths import GrowError
from ..layers import get_act
from ._base import ClassifierModel
from ._net2net import copies, fill_, perturb_, wider_map, zero_
from .resnet import make_stage, projection_shortcut


class WideBasic(nn.Module):
    """Pre-activation block: BN-ReLU-conv3x3-BN-ReLU-dropout-conv3x3, plus the shortcut.

    The projection shortcut reads the raw input, or with `preact_shortcut` the BN-ReLU'd one.
    """

    def __init__(
        self,
        in_chs: int,
        out_chs: int,
        stride: int = 1,
        dropout: float = 0.5,
        preact_shortcut: bool = False,
    ) -> None:
        super().__init__()
        self.norm1 = nn.BatchNorm2d(in_chs)
        self.act1 = get_act("relu")
        self.conv1 = nn.Conv2d(in_chs, out_chs, 3, stride, 1)
        self.norm2 = nn.BatchNorm2d(out_chs)
        self.act2 = get_act("relu")
        self.drop = nn.Dropout(dropout)
        self.conv2 = nn.Conv2d(out_chs, out_chs, 3, 1, 1)
        self.shortcut = projection_shortcut(in_chs, out_chs, stride, norm=False)
        self.preact_shortcut = preact_shortcut and not isinstance(self.shortcut, nn.Identity)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        pre = self.act1(self.norm1(x))  # in-place ReLU acts on BN's output: x stays intact
        shortcut = self.shortcut(pre if self.preact_shortcut else x)
        out = self.conv2(self.drop(self.act2(self.norm2(self.conv1(pre)))))
        return out + shortcut


class WideResNet(ClassifierModel):
    """WRN-`depth`-`widen_factor`: three stages of (depth - 4) / 6 wide pre-activation blocks."""

    def __init__(
        self,
        depth: int,
        widen_factor: int,
        dropout: float = 0.5,
        num_classes: int = 10,
        in_chans: int = 3,
        preact_shortcut: bool = False,
    ) -> None:
        super().__init__()
        if depth < 10 or (depth - 4) % 6:
            raise ValueError(f"WRN depth must be 6n + 4 with n >= 1 (10, 16, 22, 28, 40, ...), got {depth}")
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"WRN dropout must be a rate in [0, 1), got {dropout}")
        self.num_classes = num_classes
        blocks_per_stage = (depth - 4) // 6
        self.stem = nn.Conv2d(in_chans, 16, 3, 1, 1)
        stages, in_chs = [], 16
        for i, base in enumerate((16, 32, 64)):
            out_chs = base * widen_factor
            make_block = partial(WideBasic, out_chs=out_chs, dropout=dropout, preact_shortcut=preact_shortcut)
            stages.append(make_stage(make_block, in_chs, out_chs, blocks_per_stage, 1 if i == 0 else 2))
            in_chs = out_chs
        self.stages = nn.Sequential(*stages)
        self.norm = nn.BatchNorm2d(in_chs)
        self.act = get_act("relu")
        self.num_features = in_chs
        self.fc = nn.Linear(in_chs, num_classes)

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        return self.act(self.norm(self.stages(self.stem(x))))


def wrn16_8(
    num_classes: int = 10, in_chans: int = 3, dropout: float = 0.5, preact_shortcut: bool = False
) -> WideResNet:
    """WRN-16-8: 2 blocks per stage, widths 128-256-512 (10,965,866 params)."""
    return WideResNet(16, 8, dropout, num_classes, in_chans, preact_shortcut)


def wrn28_10(
    num_classes: int = 10, in_chans: int = 3, dropout: float = 0.5, preact_shortcut: bool = False
) -> WideResNet:
    """WRN-28-10: 4 blocks per stage, widths 160-320-640 (36,489,290 params)."""
    return WideResNet(28, 10, dropout, num_classes, in_chans, preact_shortcut)


def grow_wide_resnet(
    source: WideResNet, make_target: Callable[..., WideResNet], *, noise: float, generator: torch.Generator
) -> WideResNet:
    """wrn16_8 -> wrn28_10: deeper and wider at once, the function unchanged (Net2Net).

    Deeper: the source's blocks stay first in each stage; each new block's last conv (weight and
    bias) is zero, so its branch adds 0 whatever its BNs and dropout do, and its identity
    shortcut passes x on. Wider (Net2WiderNet): every layer's output channels are the source's
    plus copies of randomly chosen ones (each stage's residual stream one map, shared by all its
    blocks and shortcuts; each block's inner width its own map), BN statistics and affines copied
    with them, and the next layer's weights divided by each channel's copy count. The stem's 16
    channels are not widened. Copies' conv weights get `noise` (relative to each tensor's std).
    In train mode dropout draws its own mask for each copy, so there the function is the same
    in expectation (exactly with ``dropout=0`` or the dropout layers in eval mode).
    """
    first = source.stages[0][0]
    target = make_target(
        in_chans=source.stem.in_channels, dropout=first.drop.p, preact_shortcut=first.preact_shortcut
    )
    fill_(target.stem, source.stem)
    stream = None  # the channel map of the residual stream; None: the stem's, not widened
    for old_stage, new_stage in zip(source.stages, target.stages):
        stage_input = stream
        stream = wider_map(old_stage[0].conv2.out_channels, new_stage[0].conv2.out_channels, generator)
        for i, new in enumerate(new_stage):
            if i >= len(old_stage):
                zero_(new.conv2)
                continue
            old = old_stage[i]
            if type(old.shortcut) is not type(new.shortcut):
                raise GrowError(
                    f"block {i} of a stage has a {type(old.shortcut).__name__} shortcut in the source but a "
                    f"{type(new.shortcut).__name__} in the target: their stage widths do not line up"
                )
            inputs = stage_input if i == 0 else stream
            inner = wider_map(old.conv1.out_channels, new.conv1.out_channels, generator)
            fill_(new.norm1, old.norm1, out_map=inputs)
            fill_(new.conv1, old.conv1, out_map=inner, in_map=inputs)
            fill_(new.norm2, old.norm2, out_map=inner)
            fill_(new.conv2, old.conv2, out_map=stream, in_map=inner)
            fill_(new.shortcut, old.shortcut, out_map=stream, in_map=inputs)  # Identity: nothing to fill
            perturb_(new.conv1.weight, copies(inner), noise, generator)
            for layer in (new.conv2, new.shortcut):
                if isinstance(layer, nn.Conv2d):
                    perturb_(layer.weight, copies(stream), noise, generator)
    fill_(target.norm, source.norm, out_map=stream)
    fill_(target.fc, source.fc, in_map=stream)
    return target
