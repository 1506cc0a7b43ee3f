"""ResNeXt-29 and GE-ResNeXt-29 for CIFAR-10.

Paper: Xie et al., "Aggregated Residual Transformations for Deep Neural Networks", CVPR 2017,
arXiv:1611.05431 (CIFAR template, section 5.3). GE variant: Hu et al., "Gather-Excite:
Exploiting Feature Context in Convolutional Neural Networks", NeurIPS 2018, arXiv:1810.12348.

Seed variant (seed table: ResNeXt29_2x32d 2.30 M, 2x64d 9.13 M, 32x4d 4.77 M, 8x64d 34.43 M,
GeResNeXt29_8x64d 36.33 M): three stages of three bottleneck blocks (3 x 3 x 3 layers + stem +
classifier = 29), strides 1-2-2, group width ``C x d`` in stage 1 doubling per stage, 1x1-conv +
BN projection shortcuts, global average pool, linear. Each model is identical to the code the
seed trained (same layers, state-dict shapes and outputs; `zoo convert` loads its checkpoints):

* 2x32d, 2x64d, 32x4d: kuangliu/pytorch-cifar's ``ResNeXt29_*`` (the seed's resnext.py): a 1x1
  stem (3 -> 64) + BN + ReLU, where the paper's CIFAR template has a 3x3 one, and stage outputs
  of twice the group width (128-256-512 for 2x32d, which the paper does not list; 256-512-1024
  for the others, as the paper).
* 8x64d and GE 8x64d: BIGBALLON/CIFAR-ZOO's ``resnext29_8x64d`` / ``ge_resnext29_8x64d`` (the
  seed's genet.py): the paper's 3x3 stem and its 256-512-1024 outputs (pytorch-cifar's 8x64d,
  with twice-the-group-width outputs, is another network of 89.60 M params).

The GE form is GE-θ+ with global extent in every block, applied to the residual branch before
the sum: a depthwise conv spanning the whole map (32/16/8 px) + BN as the gather, then a 1x1-conv
MLP (reduction 16, ReLU) and a sigmoid as the excite. The MLP's convs have no bias, as in
CIFAR-ZOO; the GE paper does not fix this.

`grow_cardinality` (2x64d -> 8x64d) and `add_gather_excite` (8x64d -> GE 8x64d) grow a trained
model keeping its function (zoo.growth).
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

import torch
from torch import nn

from .._growths import GrowError
from ..layers import ConvBnAct, GatherExcite
from ._base import ClassifierModel
from ._net2net import (
    copies,
    copy_state,
    fill_,
    pad_kernel,
    paired_blocks,
    perturb_,
    put_,
    replicated_groups,
    zero_,
)
from .resnet import Bottleneck, make_stage


class ResNeXtBlock(Bottleneck):
    """Aggregated residual transform: a bottleneck whose 3x3 is split into `cardinality` groups.

    `gather_excite=True` rescales the residual branch with Gather-Excite (GE-θ+, global
    extent) before the sum, which needs the block's output size `feat_size`.
    """

    def __init__(
        self,
        in_chs: int,
        group_width: int,
        out_chs: int,
        stride: int = 1,
        cardinality: int = 1,
        gather_excite: bool = False,
        feat_size: int | None = None,
    ) -> None:
        attn = GatherExcite(out_chs, feat_size=feat_size, mlp_bias=False) if gather_excite else None
        super().__init__(in_chs, group_width, stride, groups=cardinality, out_chs=out_chs, attn=attn)


class ResNeXt(ClassifierModel):
    """CIFAR ResNeXt: `stem_kernel` x `stem_kernel` stem to 64, three stages of `depth` blocks
    (strides 1, 2, 2).

    Stage ``i`` has group width ``cardinality * base_width * 2**i`` and output width
    ``base_out * 2**i``. `img_size` (input height = width) sizes the global Gather-Excite
    kernels and matters only with `gather_excite=True`.
    """

    def __init__(
        self,
        cardinality: int,
        base_width: int,
        base_out: int = 256,
        depth: int = 3,
        num_classes: int = 10,
        in_chans: int = 3,
        gather_excite: bool = False,
        img_size: int = 32,
        stem_kernel: int = 1,
    ) -> None:
        super().__init__()
        if cardinality < 1 or base_width < 1:
            raise ValueError(
                f"ResNeXt needs cardinality >= 1 and base_width >= 1, got {cardinality}x{base_width}d"
            )
        self.num_classes = num_classes
        self.stem = ConvBnAct(in_chans, 64, stem_kernel)
        stages, in_chs, feat_size = [], 64, img_size
        for i in range(3):
            stride = 1 if i == 0 else 2
            feat_size = (feat_size + stride - 1) // stride  # 3x3 conv, padding 1
            out_chs = base_out * 2**i
            make_block = partial(
                ResNeXtBlock,
                group_width=cardinality * base_width * 2**i,
                out_chs=out_chs,
                cardinality=cardinality,
                gather_excite=gather_excite,
                feat_size=feat_size,
            )
            stages.append(make_stage(make_block, in_chs, out_chs, depth, stride))
            in_chs = out_chs
        self.stages = nn.Sequential(*stages)
        self.num_features = in_chs
        self.fc = nn.Linear(in_chs, num_classes)

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        return self.stages(self.stem(x))


def resnext29_2x32d(num_classes: int = 10, in_chans: int = 3) -> ResNeXt:
    """ResNeXt-29 2x32d, pytorch-cifar form: 1x1 stem, outputs 128-256-512 (2,297,418 params)."""
    return ResNeXt(2, 32, base_out=128, num_classes=num_classes, in_chans=in_chans)


def resnext29_2x64d(num_classes: int = 10, in_chans: int = 3) -> ResNeXt:
    """ResNeXt-29 2x64d, pytorch-cifar form: 1x1 stem, outputs 256-512-1024 (9,128,778 params)."""
    return ResNeXt(2, 64, base_out=256, num_classes=num_classes, in_chans=in_chans)


def resnext29_32x4d(num_classes: int = 10, in_chans: int = 3) -> ResNeXt:
    """ResNeXt-29 32x4d, pytorch-cifar form: 1x1 stem, outputs 256-512-1024 (4,774,218 params)."""
    return ResNeXt(32, 4, base_out=256, num_classes=num_classes, in_chans=in_chans)


def resnext29_8x64d(num_classes: int = 10, in_chans: int = 3) -> ResNeXt:
    """ResNeXt-29 8x64d, CIFAR-ZOO form: 3x3 stem, outputs 256-512-1024 (34,426,698 params)."""
    return ResNeXt(8, 64, base_out=256, num_classes=num_classes, in_chans=in_chans, stem_kernel=3)


def geresnext29_8x64d(num_classes: int = 10, in_chans: int = 3, img_size: int = 32) -> ResNeXt:
    """ResNeXt-29 8x64d (CIFAR-ZOO form) with GE-θ+ in every block (36,329,802 params).

    `img_size` must match the input's height = width, since it sizes the gather kernels.
    """
    return ResNeXt(
        8,
        64,
        base_out=256,
        num_classes=num_classes,
        in_chans=in_chans,
        gather_excite=True,
        img_size=img_size,
        stem_kernel=3,
    )


def grow_cardinality(
    source: ResNeXt, make_target: Callable[..., ResNeXt], *, noise: float, generator: torch.Generator
) -> ResNeXt:
    """resnext29_2x64d -> resnext29_8x64d: more groups of the same width, each old group copied.

    Per block, group ``g`` of the target copies group ``g // r`` (r = 8 / 2 = 4): conv1's output
    rows and its BN, conv2's grouped filters and its BN; conv3 reads the r copies of each channel
    with its weights divided by r. The group width (64-128-256) is read from each block. The
    widths line up exactly (stage outputs 256-512-1024 in both), and the 2x64d's 1x1 stem becomes
    the centre tap of the 8x64d's 3x3 one (zeros around it, padding 1), which computes the same.
    The copies' conv weights get `noise` (relative to each tensor's std).
    """
    target = make_target(in_chans=source.stem[0].in_channels)
    put_(target, "stem.0.weight", pad_kernel(source.stem[0].weight, target.stem[0].kernel_size[0]))
    fill_(target.stem[1], source.stem[1])
    for old, new in paired_blocks(source, target):
        groups, new_groups = old.conv2[0].groups, new.conv2[0].groups
        group_width = old.conv2[0].out_channels // groups
        if new.conv2[0].out_channels // new_groups != group_width:
            raise GrowError(
                f"cannot grow {groups}x{group_width}d groups into {new_groups}x"
                f"{new.conv2[0].out_channels // new_groups}d: the group width must stay"
            )
        hidden = replicated_groups(groups, new_groups, group_width)
        fill_(new.conv1, old.conv1, out_map=hidden)
        fill_(new.conv2, old.conv2, out_map=hidden)  # grouped: each filter reads its own group's copy
        fill_(new.conv3, old.conv3, in_map=hidden)
        fill_(new.shortcut, old.shortcut)
        for conv in (new.conv1[0], new.conv2[0]):
            perturb_(conv.weight, copies(hidden), noise, generator)
    fill_(target.fc, source.fc)
    return target


def add_gather_excite(
    source: ResNeXt, make_target: Callable[..., ResNeXt], *, noise: float, generator: torch.Generator
) -> ResNeXt:
    """resnext29_8x64d -> geresnext29_8x64d: Gather-Excite added, the function unchanged.

    The gate multiplies the residual branch (conv3's BN output) before the sum: the excite's last
    1x1 conv (and its bias, if any) is zeroed, so the gate is sigmoid(0) = 0.5 everywhere, and
    that BN's weight and bias are doubled (2 * 0.5 = 1, exactly, in eval and train mode). The
    gather keeps its fresh init (it cannot change a constant gate), and nothing is copied, so
    `noise` has nothing to break.
    """
    target = make_target(in_chans=source.stem[0].in_channels)
    copy_state(source, target)
    with torch.no_grad():
        for _, block in paired_blocks(source, target):
            zero_(block.attn.excite[-1])
            gated = block.conv3[1]
            gated.weight.mul_(2)
            gated.bias.mul_(2)
    return target
