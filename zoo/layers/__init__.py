"""Layers shared by several model families (each family's own blocks stay in its model file)."""

from .activations import ACTIVATIONS, get_act
from .conv import ConvBnAct

__all__ = ["ACTIVATIONS", "ConvBnAct", "get_act"]
