"""The model API every zoo architecture shares (as timm's): features, head, classifier reset."""

from __future__ import annotations

import torch
from torch import nn


class ClassifierModel(nn.Module):
    """Base for zoo models: ``forward(x) == forward_head(forward_features(x))``.

    Subclasses build `self.fc` (the classifier, fed `self.num_features` values) and implement
    `forward_features`. The default head global-average-pools 4-D features, then flattens.
    """

    num_features: int
    num_classes: int

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def forward_head(self, x: torch.Tensor, pre_logits: bool = False) -> torch.Tensor:
        if x.ndim == 4:
            x = x.mean((2, 3))
        x = x.flatten(1)
        return x if pre_logits else self.fc(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.forward_head(self.forward_features(x))

    def get_classifier(self) -> nn.Module:
        return self.fc

    def reset_classifier(self, num_classes: int) -> None:
        """Replace the classifier with a freshly initialised one (0 gives an identity: features out)."""
        self.num_classes = num_classes
        self.fc = nn.Linear(self.num_features, num_classes) if num_classes > 0 else nn.Identity()
