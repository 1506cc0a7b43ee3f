"""Layers shared by several model families (each family's own blocks stay in its model file)."""

from .activations import ACTIVATIONS, get_act
from .conv import ConvBnAct
from .gather_excite import GatherExcite
from .norm import GhostBatchNorm
from .whitening import PatchWhitening

__all__ = ["ACTIVATIONS", "ConvBnAct", "GatherExcite", "GhostBatchNorm", "PatchWhitening", "get_act"]
