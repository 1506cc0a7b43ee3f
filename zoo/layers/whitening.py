"""Patch whitening: a frozen first convolution whose filters decorrelate 3x3 image patches.

Page, "How to train your ResNet 8: Bag of tricks", myrtle.ai 2019 (the PCA-whitening stem of the
fast ResNet-9); the seed's FastResNet9 computes it as Germer's cifar10-fast-simple does.
"""

from __future__ import annotations

import torch
from torch import nn


class PatchWhitening(nn.Conv2d):
    """Conv2d (no bias, frozen) to ``in_chs * k * k`` filters: the whitened principal directions
    of the k x k patches of some images, computed by `fit`.

    Filter ``i`` is the i-th eigenvector of the (uncentred) patch covariance, largest eigenvalue
    first, divided by ``sqrt(eigenvalue + eps)``, so each output channel has about unit variance.
    The weight is a parameter with ``requires_grad=False``: it is saved and loaded like any
    weight, and no optimizer step changes it. Until `fit` runs it holds Conv2d's random init.
    """

    def __init__(self, in_chs: int = 3, kernel_size: int = 3, eps: float = 1e-2) -> None:
        out_chs = in_chs * kernel_size * kernel_size
        super().__init__(in_chs, out_chs, kernel_size, padding=kernel_size // 2, bias=False)
        self.weight.requires_grad_(False)
        self.eps = eps

    @torch.no_grad()
    def fit(self, images: torch.Tensor, chunk: int = 1000) -> None:
        """Set the filters from `images` (N, C, H, W), already in the form the model receives."""
        if images.ndim != 4 or images.shape[1] != self.in_channels:
            raise ValueError(
                f"PatchWhitening.fit needs images of shape (N, {self.in_channels}, H, W), "
                f"got {tuple(images.shape)}"
            )
        k = self.kernel_size[0]
        dim = self.in_channels * k * k
        covariance = torch.zeros(dim, dim, dtype=torch.float64)
        count = 0
        for batch in images.split(chunk):  # bounded memory: ~C*k*k values per pixel per image
            patches = batch.float().unfold(2, k, 1).unfold(3, k, 1)  # N, C, H', W', k, k
            rows = patches.permute(0, 2, 3, 1, 4, 5).reshape(-1, dim)
            covariance += (rows.t() @ rows).double().cpu()
            count += rows.shape[0]
        covariance /= max(count - 1, 1)
        eigenvalues, eigenvectors = torch.linalg.eigh(covariance)  # ascending
        filters = eigenvectors.t().flip(0) / (eigenvalues.flip(0) + self.eps).sqrt().unsqueeze(1)
        self.weight.copy_(filters.view_as(self.weight))
