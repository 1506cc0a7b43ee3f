"""Exact parameter and MAC counts, as recorded in every `ModelSpec`."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode


def count_params(model: nn.Module) -> int:
    """Number of parameters (trainable or not; buffers excluded)."""
    return sum(p.numel() for p in model.parameters())


@torch.no_grad()
def count_macs(model: nn.Module, input_size: Sequence[int]) -> int:
    """Multiply-accumulates of one forward pass on a single input of `input_size` (C, H, W).

    FlopCounterMode counts 2 FLOPs per MAC in convolutions and matrix products, and ignores
    element-wise work (BatchNorm, activations, pooling), which is the usual convention for MACs.
    """
    was_training = model.training
    model.eval()
    counter = FlopCounterMode(display=False)
    with counter:
        model(torch.zeros(1, *input_size))
    model.train(was_training)
    return counter.get_total_flops() // 2
