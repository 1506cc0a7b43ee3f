"""Layers shared by several model families (each family's own blocks stay in its model file)."""

from .activations import ACTIVATIONS, get_act
from .conv import ConvBnAct
from .gather_excite import GatherExcite
from .norm import GhostBatchNorm, NoisyBatchNorm2d
from .whitening import PatchWhitening

__all__ = [
    "ACTIVATIONS",
    "ConvBnAct",
    "GatherExcite",
    "GhostBatchNorm",
    "NoisyBatchNorm2d",
    "PatchWhitening",
    "get_act",
]
