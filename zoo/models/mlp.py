"""Deep MLPs for MNIST (and flattened CIFAR-10), plain, with BatchNorm, and residual.

Papers: He et al., "Delving Deep into Rectifiers: Surpassing Human-Level Performance on ImageNet
Classification", ICCV 2015, arXiv:1502.01852 (the He normal initialisation); Ioffe & Szegedy,
"Batch Normalization", ICML 2015, arXiv:1502.03167. Seed variant: seed 004, which gives the
widths, the Linear -> ReLU -> BatchNorm1d order, He normal initialisation with zero biases, and
the N(0, 1) initialisation as its failure case (``init="randn"``). ``act="identity"`` with
``init="lecun"`` makes a deep linear network (Santurkar et al. 2018, arXiv:1805.11604), the ics study's.

A model is a *layout*: a sequence of hidden widths, each a Linear -> ReLU [-> BatchNorm1d] block,
where a tuple of widths is a residual module (its blocks plus a Linear shortcut). A final Linear
is the classifier (`fc`), with no activation or norm after it.
"""

from __future__ import annotations

import torch
from torch import nn

from ..layers import get_act
from ._base import ClassifierModel

Layout = tuple[int | tuple[int, ...], ...]

MLP5: Layout = (128, 64, 32, 16)
MLP22: Layout = (784, 1024, 1024, 2048, 512, 512, 256, 256) + (
    128,
    128,
    128,
    64,
    64,
    64,
    32,
    32,
    32,
    16,
    16,
    16,
    12,
)
MLP41: Layout = (
    (784, 1024, 1024, 512, 512) + (256, 512, 1024, 512, 256) * 5 + (64, 64, 64, 32, 32, 32, 16, 16, 12, 12)
)
# The seed gives mlp41_res only as "about 10,758,910 params": 2 leading blocks, 8 residual
# modules of 5 blocks, 2 closing Linear layers (a block and the classifier). We keep mlp41's
# opening (784 -> 784 -> 1024), give each module one width and close at 16: 10,758,922 params
# (12 over the figure), the nearest of all non-increasing module widths from {1024, 512, ..., 16}
# with a closing width of 10, 12 or 16.
MLP41_RES: Layout = (784, 1024, *((w,) * 5 for w in (1024, 512, 256, 128, 128, 128, 64, 64)), 16)

INITS = ("he", "randn", "lecun")


def linear_block(in_features: int, out_features: int, batch_norm: bool, act: str = "relu") -> nn.Sequential:
    """Linear -> activation -> BatchNorm1d (the seed's order: BN after the activation)."""
    block = nn.Sequential(nn.Linear(in_features, out_features), get_act(act))
    if batch_norm:
        block.append(nn.BatchNorm1d(out_features))
    return block


class ResidualModule(nn.Module):
    """``blocks(x) + shortcut(x)``: linear blocks through `widths`, a Linear in -> widths[-1] beside them."""

    def __init__(
        self, in_features: int, widths: tuple[int, ...], batch_norm: bool, act: str = "relu"
    ) -> None:
        super().__init__()
        dims = (in_features, *widths)
        self.blocks = nn.Sequential(*(linear_block(a, b, batch_norm, act) for a, b in zip(dims, dims[1:])))
        self.shortcut = nn.Linear(in_features, widths[-1])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.blocks(x) + self.shortcut(x)


def init_linear_(model: nn.Module, init: str) -> None:
    """Initialise every Linear: "he" = N(0, 2 / fan_in) weights, "lecun" = N(0, 1 / fan_in) (for
    linear networks), "randn" = N(0, 1); zero biases."""
    if init not in INITS:
        raise ValueError(f"unknown init {init!r}; choose one of {', '.join(INITS)}")
    for m in model.modules():
        if isinstance(m, nn.Linear):
            if init in ("he", "lecun"):
                gain = "relu" if init == "he" else "linear"
                nn.init.kaiming_normal_(m.weight, mode="fan_in", nonlinearity=gain)
            else:
                nn.init.normal_(m.weight, 0.0, 1.0)
            nn.init.zeros_(m.bias)


class MLP(ClassifierModel):
    """Flatten -> hidden blocks and residual modules of `layout` -> Linear classifier."""

    def __init__(
        self,
        layout: Layout,
        num_classes: int = 10,
        in_chans: int = 1,
        img_size: int = 28,
        batch_norm: bool = True,
        init: str = "he",
        act: str = "relu",
    ) -> None:
        super().__init__()
        self.num_classes = num_classes
        layers: list[nn.Module] = [nn.Flatten()]
        width = in_chans * img_size * img_size
        for item in layout:
            if isinstance(item, tuple):
                layers.append(ResidualModule(width, item, batch_norm, act))
                width = item[-1]
            else:
                layers.append(linear_block(width, item, batch_norm, act))
                width = item
        self.layers = nn.Sequential(*layers)
        self.num_features = width
        self.fc = nn.Linear(width, num_classes)
        init_linear_(self, init)

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        return self.layers(x)


def mlp5(
    num_classes: int = 10, in_chans: int = 1, img_size: int = 28, init: str = "he", act: str = "relu"
) -> MLP:
    """784-128-64-32-16-10, no BatchNorm (111,514 params on MNIST)."""
    return MLP(MLP5, num_classes, in_chans, img_size, batch_norm=False, init=init, act=act)


def mlp5_bn(
    num_classes: int = 10, in_chans: int = 1, img_size: int = 28, init: str = "he", act: str = "relu"
) -> MLP:
    """784-128-64-32-16-10 with BatchNorm (111,994 params on MNIST)."""
    return MLP(MLP5, num_classes, in_chans, img_size, batch_norm=True, init=init, act=act)


def mlp22(
    num_classes: int = 10, in_chans: int = 1, img_size: int = 28, init: str = "he", act: str = "relu"
) -> MLP:
    """22 Linear layers, no BatchNorm (6,165,038 params on MNIST)."""
    return MLP(MLP22, num_classes, in_chans, img_size, batch_norm=False, init=init, act=act)


def mlp22_bn(
    num_classes: int = 10, in_chans: int = 1, img_size: int = 28, init: str = "he", act: str = "relu"
) -> MLP:
    """22 Linear layers with BatchNorm (6,179,334 params on MNIST)."""
    return MLP(MLP22, num_classes, in_chans, img_size, batch_norm=True, init=init, act=act)


def mlp41(
    num_classes: int = 10, in_chans: int = 1, img_size: int = 28, init: str = "he", act: str = "relu"
) -> MLP:
    """41 Linear layers, no BatchNorm (10,246,202 params on MNIST)."""
    return MLP(MLP41, num_classes, in_chans, img_size, batch_norm=False, init=init, act=act)


def mlp41_bn(
    num_classes: int = 10, in_chans: int = 1, img_size: int = 28, init: str = "he", act: str = "relu"
) -> MLP:
    """41 Linear layers with BatchNorm (10,280,202 params on MNIST)."""
    return MLP(MLP41, num_classes, in_chans, img_size, batch_norm=True, init=init, act=act)


def mlp41_res(
    num_classes: int = 10, in_chans: int = 1, img_size: int = 28, init: str = "he", act: str = "relu"
) -> MLP:
    """Residual MLP: 2 blocks, 8 five-block modules with Linear shortcuts, 2 Linear (10,758,922 params)."""
    return MLP(MLP41_RES, num_classes, in_chans, img_size, batch_norm=True, init=init, act=act)
