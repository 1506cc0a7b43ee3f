"""Shared layers: Gather-Excite variants and the activation factory."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from zoo.layers import ACTIVATIONS, GatherExcite, get_act


def test_parameter_free_global_ge_is_sigmoid_of_channel_mean():
    ge = GatherExcite(8, parametric=False, mlp=False)
    x = torch.randn(2, 8, 6, 6)
    expected = x * torch.sigmoid(x.mean((2, 3), keepdim=True))
    torch.testing.assert_close(ge(x), expected)
    assert sum(p.numel() for p in ge.parameters()) == 0


@pytest.mark.parametrize("extent", [0, 2, 4])
@pytest.mark.parametrize("parametric, mlp", [(False, False), (True, False), (True, True)])
def test_ge_keeps_shape_and_gates_in_unit_interval(extent, parametric, mlp):
    ge = GatherExcite(32, extent=extent, parametric=parametric, mlp=mlp, feat_size=8).eval()
    x = torch.rand(2, 32, 8, 8) + 0.1  # positive input: gated output must lie in (0, x)
    y = ge(x)
    assert y.shape == x.shape
    assert torch.all(y > 0) and torch.all(y < x)


def test_global_theta_plus_parameter_count():
    # depthwise 8x8 gather (64*64) + BN (2*64) + MLP 64->4->64 with biases (64*4+4 + 4*64+64)
    ge = GatherExcite(64, feat_size=8)
    assert sum(p.numel() for p in ge.parameters()) == 64 * 64 + 2 * 64 + (64 * 4 + 4) + (4 * 64 + 64)


def test_mlp_without_bias_as_cifar_zoo():
    ge = GatherExcite(64, feat_size=8, mlp_bias=False)
    assert sum(p.numel() for p in ge.parameters()) == 64 * 64 + 2 * 64 + 64 * 4 + 4 * 64


def test_ge_bad_arguments_say_what_to_do():
    with pytest.raises(ValueError, match="extent=3"):
        GatherExcite(8, extent=3)
    with pytest.raises(ValueError, match="needs feat_size"):
        GatherExcite(8)


def test_activation_factory():
    assert set(ACTIVATIONS) >= {"relu", "gelu", "mish", "elu", "leaky_relu", "rrelu"}
    assert isinstance(get_act("gelu"), nn.GELU)
    assert get_act("relu") is not get_act("relu")  # a new module each time
    with pytest.raises(ValueError, match="unknown activation 'swishy'.*relu"):
        get_act("swishy")
