"""Architectures, one family per module. Plain `nn.Module`s; registration lives in zoo/plugins/.

`ClassifierModel` is the base that gives every model the uniform API (forward_features,
forward_head, get_classifier, reset_classifier); third-party plugins may subclass it too.
"""

from ._base import ClassifierModel

__all__ = ["ClassifierModel"]
