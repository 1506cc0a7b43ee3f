"""Patch whitening (fast_resnet9's frozen stem): fitted to the training images when training starts."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

import zoo
from zoo.layers import PatchWhitening
from zoo.models.resnet9 import FastResNet9


def _images(n: int = 40) -> torch.Tensor:
    torch.manual_seed(0)
    base = torch.randn(n, 1, 12, 12)
    return torch.cat([base, 0.5 * base + torch.randn(n, 1, 12, 12), torch.randn(n, 1, 12, 12)], 1)


def test_filters_decorrelate_the_patches():
    layer = PatchWhitening(3)
    images = _images()
    layer.fit(images)
    assert not layer.weight.requires_grad and layer.weight.shape == (27, 3, 3, 3)
    # Over the patches fit saw (no padding), output channel i has second moment l_i / (l_i + eps)
    # for the i-th largest eigenvalue l_i of the patch covariance, and channels are uncorrelated.
    out = F.conv2d(images.double(), layer.weight.double()).permute(0, 2, 3, 1).reshape(-1, 27)
    moments = out.t() @ out / (out.shape[0] - 1)
    patches = images.double().unfold(2, 3, 1).unfold(3, 3, 1).permute(0, 2, 3, 1, 4, 5).reshape(-1, 27)
    eigenvalues = torch.linalg.eigvalsh(patches.t() @ patches / (patches.shape[0] - 1)).flip(0)
    torch.testing.assert_close(
        moments, torch.diag(eigenvalues / (eigenvalues + layer.eps)), atol=1e-4, rtol=1e-4
    )


def test_fit_rejects_other_channel_counts():
    with pytest.raises(ValueError, match=r"\(N, 3, H, W\)"):
        PatchWhitening(3).fit(torch.zeros(2, 1, 8, 8))


def test_init_whitening_normalises_uint8_images_as_the_loader_does():
    model = zoo.create("fast_resnet9")
    images = torch.randint(0, 256, (20, 3, 10, 10), dtype=torch.uint8)
    mean, std = (0.5, 0.4, 0.3), (0.2, 0.25, 0.3)
    model.init_whitening(images, mean, std)
    reference = PatchWhitening(3)
    reference.fit((images / 255.0 - torch.tensor(mean).view(1, 3, 1, 1)) / torch.tensor(std).view(1, 3, 1, 1))
    torch.testing.assert_close(model.stem[0].weight, reference.weight)
    frozen = {name for name, p in model.named_parameters() if not p.requires_grad}
    assert "stem.0.weight" in frozen and "layer1.0.2.weight" in frozen and "layer1.0.2.bias" not in frozen


class _Stop(Exception):
    pass


def test_training_fits_the_whitening_to_the_training_images(tiny_cifar, tmp_path, monkeypatch):
    from zoo.data import NORMALISATION
    from zoo.train import train

    seen = {}

    def record(self, images, mean, std):
        seen.update(images=images, mean=mean, std=std)
        raise _Stop  # the call is what this test checks: no need to train

    monkeypatch.setattr(FastResNet9, "init_whitening", record)
    with pytest.raises(_Stop):
        train(
            "fast_resnet9", out=tmp_path / "run", data_dir=tiny_cifar, limit_train=64, epochs=1, device="cpu"
        )
    assert seen["images"].dtype == torch.uint8 and seen["images"].shape == (64, 3, 32, 32)
    assert (tuple(seen["mean"]), tuple(seen["std"])) == tuple(map(tuple, NORMALISATION["cifar10"]))
