"""Ghost Batch Normalization: BatchNorm statistics over small virtual batches.

Paper: Hoffer et al., "Train longer, generalize better: closing the generalization gap in large
batch training of neural networks", NeurIPS 2017, arXiv:1705.08741. Used by the fast ResNet-9
recipe (Page, "How to train your ResNet", myrtle.ai 2018) with virtual batches of 32.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class GhostBatchNorm(nn.BatchNorm2d):
    """BatchNorm2d that, in training, normalises each run of `virtual_batch_size` samples on its own.

    The batch is split into consecutive chunks of `virtual_batch_size` (the last one holds the
    remainder, so any batch size works) and each chunk is normalised with its own mean and
    variance, as if BatchNorm had seen only that chunk. The running statistics are updated once
    per call with the size-weighted average of the chunk statistics, which is what averaging
    per-chunk running buffers (Myrtle's implementation) gives, since the moving average is linear.
    In eval mode it is a plain BatchNorm2d on the running statistics; the state dict has
    BatchNorm2d's keys, so weights move freely between the two.
    """

    def __init__(
        self,
        num_features: int,
        virtual_batch_size: int = 32,
        eps: float = 1e-5,
        momentum: float | None = 0.1,
        affine: bool = True,
    ) -> None:
        if not isinstance(virtual_batch_size, int) or virtual_batch_size < 1:
            raise ValueError(f"virtual_batch_size must be a positive int, got {virtual_batch_size!r}")
        super().__init__(num_features, eps=eps, momentum=momentum, affine=affine)
        self.virtual_batch_size = virtual_batch_size

    def extra_repr(self) -> str:
        return f"{super().extra_repr()}, virtual_batch_size={self.virtual_batch_size}"

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training:
            return super().forward(x)
        self._check_input_dim(x)
        chunks = x.split(self.virtual_batch_size)
        # No running buffers here: they are updated once below, not once per chunk.
        out = torch.cat(
            [F.batch_norm(c, None, None, self.weight, self.bias, True, 0.0, self.eps) for c in chunks]
        )
        self._update_running_stats(chunks)
        return out

    @torch.no_grad()
    def _update_running_stats(self, chunks: tuple[torch.Tensor, ...]) -> None:
        self.num_batches_tracked.add_(1)
        factor = 1.0 / float(self.num_batches_tracked) if self.momentum is None else self.momentum
        total = sum(c.shape[0] for c in chunks)
        mean = torch.zeros_like(self.running_mean)
        var = torch.zeros_like(self.running_var)
        for c in chunks:
            # Unbiased chunk variance: what BatchNorm2d itself feeds its running_var.
            chunk_var, chunk_mean = torch.var_mean(c.float(), dim=(0, 2, 3), correction=1)
            share = c.shape[0] / total
            mean += share * chunk_mean
            var += share * chunk_var
        self.running_mean.lerp_(mean.to(self.running_mean.dtype), factor)
        self.running_var.lerp_(var.to(self.running_var.dtype), factor)
