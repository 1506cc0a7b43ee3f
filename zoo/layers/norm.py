"""Ghost Batch Normalization: BatchNorm statistics over small virtual batches.

Paper: Hoffer et al., "Train longer, generalize better: closing the generalization gap in large
batch training of neural networks", NeurIPS 2017, arXiv:1705.08741. Used by the fast ResNet-9
recipe (Page, "How to train your ResNet", myrtle.ai 2018).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class GhostBatchNorm(nn.BatchNorm2d):
    """BatchNorm2d that, in training, normalises each ghost batch of the batch on its own.

    Two ways to form the ghost batches:

    * `virtual_batch_size` (default 32): consecutive chunks of that many samples (the last one
      holds the remainder, so any batch size works).
    * `num_splits`: that many interleaved splits, sample ``i`` in split ``i % num_splits``, as
      Myrtle's and the seed's FastResNet9 code (a ``view(-1, C * num_splits, H, W)``) forms them;
      any batch size works here too (splits differ in size by at most one).

    Each ghost batch is normalised with its own mean and variance. The running statistics are
    updated once per call with the size-weighted average of the ghost-batch statistics, which is
    what averaging per-split running buffers (the seed's ``C * num_splits`` buffers, averaged when
    the model leaves training) gives, since the moving average is linear. In eval mode it is a
    plain BatchNorm2d on the running statistics; the state dict has BatchNorm2d's keys and shapes.
    """

    def __init__(
        self,
        num_features: int,
        virtual_batch_size: int | None = 32,
        eps: float = 1e-5,
        momentum: float | None = 0.1,
        affine: bool = True,
        *,
        num_splits: int | None = None,
    ) -> None:
        if num_splits is not None:
            if not isinstance(num_splits, int) or num_splits < 1:
                raise ValueError(f"num_splits must be a positive int, got {num_splits!r}")
            virtual_batch_size = None  # the splits decide the ghost batches
        elif not isinstance(virtual_batch_size, int) or virtual_batch_size < 1:
            raise ValueError(f"virtual_batch_size must be a positive int, got {virtual_batch_size!r}")
        super().__init__(num_features, eps=eps, momentum=momentum, affine=affine)
        self.virtual_batch_size = virtual_batch_size
        self.num_splits = num_splits

    def extra_repr(self) -> str:
        ghost = (
            f"num_splits={self.num_splits}"
            if self.num_splits is not None
            else f"virtual_batch_size={self.virtual_batch_size}"
        )
        return f"{super().extra_repr()}, {ghost}"

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training:
            return super().forward(x)
        self._check_input_dim(x)
        order = self._interleaved_order(x) if self.num_splits is not None else None
        if order is None:
            chunks = x.split(self.virtual_batch_size)
        else:
            n, splits = x.shape[0], self.num_splits
            sizes = [(n - q + splits - 1) // splits for q in range(min(splits, n))]
            chunks = x.index_select(0, order).split(sizes)
        # No running buffers here: they are updated once below, not once per chunk.
        out = torch.cat(
            [F.batch_norm(c, None, None, self.weight, self.bias, True, 0.0, self.eps) for c in chunks]
        )
        self._update_running_stats(chunks)
        if order is not None:  # back to the input's sample order
            out = torch.empty_like(out).index_copy(0, order, out)
        return out

    def _interleaved_order(self, x: torch.Tensor) -> torch.Tensor:
        """Sample indices grouped by split: 0, S, 2S, ..., then 1, S+1, ... (S = num_splits)."""
        n, splits = x.shape[0], self.num_splits
        rows = -(-n // splits)
        order = torch.arange(rows * splits, device=x.device).view(rows, splits).t().reshape(-1)
        return order[order < n]

    @torch.no_grad()
    def _update_running_stats(self, chunks: tuple[torch.Tensor, ...]) -> None:
        self.num_batches_tracked.add_(1)
        factor = 1.0 / float(self.num_batches_tracked) if self.momentum is None else self.momentum
        total = sum(c.shape[0] for c in chunks)
        mean = torch.zeros_like(self.running_mean)
        var = torch.zeros_like(self.running_var)
        for c in chunks:
            # Unbiased chunk variance: what BatchNorm2d itself feeds its running_var.
            wide = c.to(torch.promote_types(c.dtype, torch.float32))
            chunk_var, chunk_mean = torch.var_mean(wide, dim=(0, 2, 3), correction=1)
            share = c.shape[0] / total
            mean += share * chunk_mean
            var += share * chunk_var
        self.running_mean.lerp_(mean.to(self.running_mean.dtype), factor)
        self.running_var.lerp_(var.to(self.running_var.dtype), factor)


class NoisyBatchNorm2d(nn.BatchNorm2d):
    """BatchNorm2d whose training output gets a random per-channel affine map, redrawn every call.

    Santurkar et al., "How Does Batch Normalization Help Optimization?", NeurIPS 2018,
    arXiv:1805.11604, §2.1 ("noisy BatchNorm"): BN followed by noise of non-zero mean and non-unit
    variance whose distribution changes at every step, so each following layer sees an input
    distribution that shifts all the time, yet the network trains about as well as with plain BN.
    Our reading of it: each channel is scaled by s ~ U(1, `max_scale`) and shifted by
    m ~ U(-`max_shift`, `max_shift`), both redrawn per channel at every training forward; eval mode
    is plain BatchNorm2d (the state dict has its keys). The later layers' running statistics are
    gathered under the noise, so a network trained with it evaluates poorly without it: it is a probe
    of training, not a layer to deploy.
    """

    def __init__(self, num_features: int, max_shift: float = 1.0, max_scale: float = 2.0, **kwargs) -> None:
        if not (max_shift >= 0 and max_scale >= 1):
            raise ValueError(f"need max_shift >= 0 and max_scale >= 1, got {max_shift!r}, {max_scale!r}")
        super().__init__(num_features, **kwargs)
        self.max_shift, self.max_scale = float(max_shift), float(max_scale)

    def extra_repr(self) -> str:
        return f"{super().extra_repr()}, max_shift={self.max_shift}, max_scale={self.max_scale}"

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = super().forward(x)
        if not self.training:
            return out
        shape = (1, out.shape[1], 1, 1)
        scale = torch.empty(shape, device=out.device, dtype=out.dtype).uniform_(1.0, self.max_scale)
        shift = torch.empty(shape, device=out.device, dtype=out.dtype).uniform_(
            -self.max_shift, self.max_shift
        )
        return out * scale + shift
