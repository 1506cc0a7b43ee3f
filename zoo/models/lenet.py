"""LeNet-5 for 3x32x32 input.

Paper: LeCun et al., "Gradient-Based Learning Applied to Document Recognition", Proc. IEEE 1998,
doi:10.1109/5.726791. Seed variant: seed 001's CIFAR-10 baseline, conv6-pool-conv16-pool-120-84-10
with ReLU and max-pooling (the modern reading of the paper's tanh + subsampling), 62,006 params.
"""

from __future__ import annotations

import torch
from torch import nn

from ._base import ClassifierModel


class LeNet5(ClassifierModel):
    def __init__(self, num_classes: int = 10, in_chans: int = 3) -> None:
        super().__init__()
        self.num_classes = num_classes
        self.features = nn.Sequential(
            nn.Conv2d(in_chans, 6, 5),
            nn.ReLU(inplace=True),
            nn.MaxPool2d(2),
            nn.Conv2d(6, 16, 5),
            nn.ReLU(inplace=True),
            nn.MaxPool2d(2),
        )
        self.pre_logits = nn.Sequential(
            nn.Flatten(),
            nn.Linear(16 * 5 * 5, 120),
            nn.ReLU(inplace=True),
            nn.Linear(120, 84),
            nn.ReLU(inplace=True),
        )
        self.num_features = 84
        self.fc = nn.Linear(84, num_classes)

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        return self.pre_logits(self.features(x))


def lenet5(num_classes: int = 10, in_chans: int = 3) -> LeNet5:
    """LeNet-5 (62,006 params at 10 classes)."""
    return LeNet5(num_classes=num_classes, in_chans=in_chans)
