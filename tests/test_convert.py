"""`zoo convert`: checkpoints of the seed's, pytorch-cifar's and CIFAR-ZOO's code become zoo models
that compute exactly what the source modules compute (stand-ins in convert_sources.py)."""

from __future__ import annotations

import functools

import convert_sources as src
import pytest
import torch
from helpers import error_lines
from torch import nn

from zoo.checkpoint import load_model, read_metadata
from zoo.convert import ConvertError, convert_checkpoint, load_source_state

slow = pytest.mark.slow
P = functools.partial

# (zoo model, --from, source module factory, batch); every model with a counterpart in that code.
RESNEXT = functools.partial(src.KuangliuResNet, (3, 3, 3))  # cardinality, bottleneck_width
CASES = [
    ("lenet5", "cifar-zoo", src.CifarZooLeNet, 2),
    ("lenet5", "seed", src.CifarZooLeNet, 2),
    ("alexnet", "seed", src.CifarZooAlexNet, 2),
    pytest.param("resnet18", "pytorch-cifar", P(src.KuangliuResNet, (2, 2, 2, 2)), 2, marks=slow),
    pytest.param("resnet34", "seed", P(src.KuangliuResNet, (3, 4, 6, 3)), 2, marks=slow),
    pytest.param("resnet50", "pytorch-cifar", P(src.KuangliuResNet, (3, 4, 6, 3), 4), 2, marks=slow),
    pytest.param("resnext29_2x32d", "seed", P(RESNEXT, 0, 2, 32), 2, marks=slow),
    pytest.param("resnext29_2x64d", "pytorch-cifar", P(RESNEXT, 0, 2, 64), 2, marks=slow),
    pytest.param("resnext29_32x4d", "pytorch-cifar", P(RESNEXT, 0, 32, 4), 2, marks=slow),
    pytest.param("resnext29_8x64d", "cifar-zoo", src.CifarZooResNeXt, 2, marks=slow),
    pytest.param("geresnext29_8x64d", "seed", P(src.CifarZooResNeXt, ge=True), 2, marks=slow),
    pytest.param("densenet100_bc", "cifar-zoo", src.cifar_zoo_densenet100_bc, 2, marks=slow),
    pytest.param("densenet121", "pytorch-cifar", src.pytorch_cifar_densenet121, 2, marks=slow),
    pytest.param("wrn16_8", "seed", P(src.SeedWideResNet, 16, 8), 2, marks=slow),
    pytest.param("wrn28_10", "seed", P(src.SeedWideResNet, 28, 10), 2, marks=slow),
    ("resnet9", "seed", src.SeedResNet9, 2),
    ("fast_resnet9", "seed", P(src.SeedResNet9, fast=True), 16),  # the seed's Ghost BN: 16 | batch
    ("vgg11", "seed", P(src.SeedVGG, batch_norm=False), 2),
    ("vgg11_bn", "seed", P(src.SeedVGG, batch_norm=True), 2),
]  # fmt: skip


@torch.no_grad()
def _randomise(module: nn.Module) -> None:
    """Random weights everywhere, BatchNorm affine and running statistics included."""
    for name, tensor in module.state_dict().items():
        if name.endswith("running_var"):
            tensor.uniform_(0.5, 2.0)
        elif name.endswith(("running_mean", "bias")):
            tensor.normal_(0.0, 0.1)
        elif tensor.is_floating_point() and tensor.ndim == 1:  # BatchNorm scales
            tensor.uniform_(0.5, 1.5)
        elif tensor.is_floating_point():  # He-scaled, so deep stacks stay finite
            tensor.normal_(0.0, (2.0 / tensor[0].numel()) ** 0.5)


def _saved_source(factory, path, wrap: str | None = "net"):
    """A source module with random weights, saved as its code saves it (DataParallel prefixes)."""
    torch.manual_seed(0)
    module = factory()
    _randomise(module)
    state = {f"module.{k}": v for k, v in module.state_dict().items()}
    torch.save({wrap: state, "acc": 91.5, "epoch": 7} if wrap else state, path)
    return module.double()


def _logits(module: nn.Module, x: torch.Tensor, train: bool) -> torch.Tensor:
    module.train(train)
    torch.manual_seed(1)  # the same dropout masks for the source and the zoo model
    with torch.no_grad():
        return module(x)


@pytest.mark.parametrize("model, source, factory, batch", CASES)
def test_converted_model_computes_what_the_source_computes(model, source, factory, batch, tmp_path):
    original = _saved_source(
        factory, tmp_path / "ckpt.pth", wrap="state_dict" if source == "cifar-zoo" else "net"
    )
    path = convert_checkpoint(model, tmp_path / "ckpt.pth", source, tmp_path / "out")
    converted, metadata = load_model(path)
    converted.double()
    assert metadata["zoo.model"] == model and metadata["zoo.converted_from"] == source
    x = torch.randn(batch, 3, 32, 32, dtype=torch.float64, generator=torch.Generator().manual_seed(2))
    for train in (False, True):
        expected = _logits(original, x, train)
        torch.testing.assert_close(_logits(converted, x, train), expected, rtol=1e-5, atol=1e-5)


def test_plain_state_dict_without_wrapper_or_prefix(tmp_path):
    module = src.CifarZooLeNet()
    torch.save(module.state_dict(), tmp_path / "lenet.t7")
    assert load_source_state(tmp_path / "lenet.t7").keys() == module.state_dict().keys()


def test_fast_resnet9_averages_the_seeds_per_split_bn_statistics(tmp_path):
    original = _saved_source(P(src.SeedResNet9, fast=True), tmp_path / "ckpt.pth")
    converted, _ = load_model(
        convert_checkpoint("fast_resnet9", tmp_path / "ckpt.pth", "seed", tmp_path / "o")
    )
    per_split = original.conv3[2].running_mean.view(16, -1)  # still per split: never left training
    torch.testing.assert_close(converted.layer1[0][2].running_mean.double(), per_split.mean(0))


def test_refuses_a_pickled_module_with_one_line(tmp_path, cli):
    torch.save(src.CifarZooLeNet(), tmp_path / "whole.pth")  # the model object, not its state dict
    code, _, err = cli("convert", "lenet5", tmp_path / "whole.pth", "--from", "seed", "--out", tmp_path / "o")
    assert code == 2 and len(error_lines(err)) == 1 and len(err.strip().splitlines()) == 1
    assert "weights_only=True refused" in err and "state_dict()" in err
    assert not (tmp_path / "o").exists()


@pytest.mark.parametrize(
    "content, message",
    [({"acc": 0.9, "epoch": 3}, "no state dict of tensors"), ([1, 2], "no state dict of tensors")],
)
def test_refuses_what_is_not_a_tensor_dict(content, message, tmp_path):
    torch.save(content, tmp_path / "x.pth")
    with pytest.raises(ConvertError, match=message):
        convert_checkpoint("lenet5", tmp_path / "x.pth", "seed", tmp_path / "o")


def test_wrong_architecture_or_source_says_so(tmp_path):
    torch.save(src.CifarZooLeNet().state_dict(), tmp_path / "lenet.pth")
    with pytest.raises(ConvertError, match="unexpected tensor 'conv_1.weight': not part of ResNet"):
        convert_checkpoint("resnet18", tmp_path / "lenet.pth", "pytorch-cifar", tmp_path / "o")
    with pytest.raises(ConvertError, match="resnext29_8x64d has no counterpart in seed's code.*cifar-zoo"):
        convert_checkpoint("resnext29_8x64d", tmp_path / "lenet.pth", "seed", tmp_path / "o")
    torch.save(src.SeedVGG(batch_norm=False).state_dict(), tmp_path / "vgg.pth")
    with pytest.raises(ConvertError, match="'classifier.2.weight': not part of VGG_A_BatchNorm"):
        convert_checkpoint("vgg11_bn", tmp_path / "vgg.pth", "seed", tmp_path / "o")
    torch.save(RESNEXT(0, 2, 32).state_dict(), tmp_path / "2x32d.pth")  # same keys, other widths
    with pytest.raises(ConvertError, match=r"shape \(64, 64, 1, 1\) in the checkpoint, \(128, 64, 1, 1\)"):
        convert_checkpoint("resnext29_32x4d", tmp_path / "2x32d.pth", "seed", tmp_path / "o")
    assert not (tmp_path / "o").exists()


def test_cli_writes_a_checkpoint_zoo_eval_takes(tmp_path, cli):
    torch.save({"net": src.CifarZooLeNet().state_dict()}, tmp_path / "lenet.pth")
    code, out, _ = cli(
        "convert", "lenet5", tmp_path / "lenet.pth", "--from", "cifar-zoo", "--out", tmp_path / "o"
    )
    assert code == 0 and "model.safetensors" in out
    metadata = read_metadata(tmp_path / "o")
    assert metadata["zoo.model"] == "lenet5" and metadata["zoo.source_file"] == "lenet.pth"
    code, _, err = cli(
        "convert", "lenet5", tmp_path / "lenet.pth", "--from", "keras", "--out", tmp_path / "o"
    )
    assert code == 2 and "unknown source 'keras'" in err
