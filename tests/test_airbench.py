"""airbench94 (K. Jordan, arXiv:2404.00498): the network as airbench94.py builds it, and a tiny
`zoo train airbench94` run with its own recipe. tests/test_models.py holds every registered model,
airbench94 included, to its declared params and MACs, forward and backward."""

from __future__ import annotations

import json

import pytest
import torch
from torch import nn


@pytest.fixture(scope="module")
def net():
    import zoo

    torch.manual_seed(0)
    return zoo.create("airbench94")


def test_the_layout_is_airbench94s(net):
    from zoo.models.airbench import Airbench

    assert isinstance(net, Airbench) and net.whiten.kernel_size == (2, 2) and net.whiten.padding == (0, 0)
    assert (
        net.whiten.out_channels == 24
        and not net.whiten.weight.requires_grad
        and net.whiten.bias.requires_grad
    )
    convs = [m for m in net.modules() if isinstance(m, nn.Conv2d) and m is not net.whiten]
    assert [(c.in_channels, c.out_channels) for c in convs] == [
        (24, 64), (64, 64), (64, 256), (256, 256), (256, 256), (256, 256),
    ]  # fmt: skip
    assert all(c.bias is None and c.kernel_size == (3, 3) for c in convs)
    norms = [m for m in net.modules() if isinstance(m, nn.BatchNorm2d)]
    assert len(norms) == 6 and all((n.eps, n.momentum) == (1e-12, 0.4) for n in norms)
    assert all(not n.weight.requires_grad and n.bias.requires_grad for n in norms)
    assert net.fc.bias is None and net.logit_scale == pytest.approx(1 / 9)
    with torch.no_grad():
        features = net.eval().forward_features(torch.zeros(2, 3, 32, 32))
    assert features.shape == (2, 256, 3, 3)  # 32 -> 31 -> 15 -> 7 -> 3, then airbench's 3x3 max-pool


def test_the_3x3_convolutions_start_as_a_partial_identity(net):
    convs = [m for m in net.modules() if isinstance(m, nn.Conv2d) and m is not net.whiten]
    for conv in convs:
        identity = torch.zeros(conv.in_channels, conv.in_channels, 3, 3)
        identity[range(conv.in_channels), range(conv.in_channels), 1, 1] = 1
        assert torch.equal(conv.weight[: conv.in_channels], identity)
    assert not torch.equal(convs[0].weight[24:], torch.zeros_like(convs[0].weight[24:]))  # PyTorch's init


def test_whitening_fits_paired_filters_that_decorrelate_patches():
    from zoo.models.airbench import airbench94

    torch.manual_seed(0)
    model = airbench94()
    mixing = torch.tensor([[1.0, 0.8, 0.6], [0.0, 0.6, 0.5], [0.0, 0.0, 0.4]])
    images = torch.einsum("dc,nchw->ndhw", mixing, torch.randn(400, 3, 16, 16)).cumsum(-1) / 4
    model.init_whitening(images)
    weight = model.whiten.weight
    assert torch.equal(weight[12:], -weight[:12])
    with torch.no_grad():
        out = nn.functional.conv2d(images, weight[:12])  # the whitened patches (no bias)
    rows = out.permute(0, 2, 3, 1).reshape(-1, 12).double()
    covariance = rows.T @ rows / (len(rows) - 1)
    off_diagonal = covariance - torch.diag(covariance.diagonal())
    assert off_diagonal.abs().max() < 1e-3 and (covariance.diagonal() <= 1 + 1e-3).all()
    assert covariance.diagonal()[0] > 0.99  # the top direction: eigenvalue >> eps 5e-4


def test_uint8_images_are_normalised_before_the_fit():
    from zoo.models.airbench import airbench94

    images = torch.randint(0, 256, (50, 3, 8, 8), dtype=torch.uint8)
    mean, std = (0.49, 0.48, 0.45), (0.25, 0.24, 0.26)
    a, b = airbench94(), airbench94()
    a.init_whitening(images, mean, std)
    shape = (1, 3, 1, 1)
    b.init_whitening((images.float() / 255 - torch.tensor(mean).view(shape)) / torch.tensor(std).view(shape))
    assert torch.equal(a.whiten.weight, b.whiten.weight)


def test_zoo_train_airbench94_end_to_end(tiny_cifar, tmp_path, cli):
    from zoo.checkpoint import load_model

    out = tmp_path / "run"
    code, stdout, err = cli(
        "train", "airbench94", "--epochs", "1", "--limit-train", "256", "--limit-test", "128",
        "--batch-size", "64", "--data-dir", tiny_cifar, "--out", out,
    )  # fmt: skip
    assert code == 0, err
    assert "airbench94: test accuracy" in stdout
    record = json.loads((out / "config.json").read_text())
    recipe = record["config"]["recipe"]
    assert recipe["name"] == "airbench94" and recipe["tta_mode"] == "flip_translate" and recipe["lookahead"]
    assert record["steps_per_epoch"] == 4
    [row] = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    assert 0 <= row["test_acc"] <= 1 and row["train_loss"] > 0
    model, metadata = load_model(out)
    assert type(model).__name__ == "Airbench" and metadata["zoo.recipe"] == "airbench94"
    assert not torch.equal(model.whiten.bias, torch.zeros(24))  # the whitening bias trained
    code, stdout, err = cli(
        "eval",
        "airbench94",
        "-c",
        out,
        "--data-dir",
        tiny_cifar,
        "--tta",
        "flip_translate",
        "--device",
        "cpu",
    )
    assert code == 0, err
    assert "TTA flip_translate" in stdout
