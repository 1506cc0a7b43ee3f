"""MLP initialisation: He normal (std sqrt(2 / fan_in)), zero biases; init="randn" gives std 1."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

import zoo


def _linears(model: nn.Module) -> list[nn.Linear]:
    return [m for m in model.modules() if isinstance(m, nn.Linear)]


def test_he_init_std_on_a_wide_layer_and_zero_bias():
    torch.manual_seed(0)
    model = zoo.create("mlp22")
    wide = max(_linears(model), key=lambda m: m.weight.numel())  # 1024 -> 2048: 2 M samples
    fan_in = wide.in_features
    assert wide.weight.std().item() == pytest.approx(math.sqrt(2.0 / fan_in), rel=0.01)
    assert abs(wide.weight.mean().item()) < 0.01 * math.sqrt(2.0 / fan_in)
    for layer in _linears(model):
        assert torch.count_nonzero(layer.bias) == 0


def test_he_init_scales_with_fan_in():
    torch.manual_seed(0)
    model = zoo.create("mlp5")
    first = _linears(model)[0]  # 784 -> 128
    assert first.weight.std().item() == pytest.approx(math.sqrt(2.0 / 784), rel=0.02)


def test_randn_init_gives_unit_std():
    torch.manual_seed(0)
    model = zoo.create("mlp22", init="randn")
    for layer in _linears(model):
        if layer.weight.numel() >= 100_000:
            assert layer.weight.std().item() == pytest.approx(1.0, rel=0.02)
        assert torch.count_nonzero(layer.bias) == 0


def test_randn_init_blows_up_activations_where_he_does_not():
    # The seed's failure case: with N(0, 1) weights and no BatchNorm, activations grow by
    # about sqrt(fan_in / 2) per layer, while He init keeps their scale.
    torch.manual_seed(0)
    x = torch.randn(16, 1, 28, 28)
    he = zoo.create("mlp5").eval()
    randn = zoo.create("mlp5", init="randn").eval()
    with torch.no_grad():
        assert he.forward_features(x).abs().max() < 100
        assert randn.forward_features(x).abs().max() > 1_000


def test_unknown_init_is_rejected():
    with pytest.raises(ValueError, match="unknown init 'xavier'"):
        zoo.create("mlp5", init="xavier")


def test_mlp_takes_cifar_input():
    model = zoo.create("mlp5_bn", in_chans=3, img_size=32).eval()
    assert model.layers[1][0].in_features == 3 * 32 * 32
    with torch.no_grad():
        assert model(torch.randn(2, 3, 32, 32)).shape == (2, 10)


def test_lecun_init_scales_with_fan_in_and_identity_act_makes_a_linear_network():
    torch.manual_seed(0)
    model = zoo.create("mlp22", act="identity", init="lecun").eval()
    first = _linears(model)[1]  # 784 -> 1024
    assert first.weight.std().item() == pytest.approx(1 / math.sqrt(first.in_features), rel=0.02)
    assert not any(isinstance(m, nn.ReLU) for m in model.modules())
    x, y = torch.randn(3, 1, 28, 28), torch.randn(3, 1, 28, 28)
    with torch.no_grad():  # zero biases: f(2x - 3y) = 2 f(x) - 3 f(y)
        assert torch.allclose(model(2 * x - 3 * y), 2 * model(x) - 3 * model(y), atol=1e-4)
        relu = zoo.create("mlp22", init="lecun").eval()  # the default act stays ReLU: not linear
        assert not torch.allclose(relu(-x), -relu(x), atol=1e-4)
