"""Every registered model: builds, runs forward and backward, and matches its spec exactly."""

from __future__ import annotations

import pytest
import torch

import zoo
from zoo._measure import count_macs, count_params

ALL_MODELS = zoo.list_models()


@pytest.fixture(scope="module", params=ALL_MODELS)
def built(request):
    name = request.param
    torch.manual_seed(0)
    return zoo.model_info(name), zoo.create(name)


def test_params_and_macs_match_spec(built):
    spec, model = built
    assert count_params(model) == spec.params, f"{spec.name}: params differ from its spec"
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    assert trainable == spec.trainable_params, f"{spec.name}: trainable params differ from its spec"
    assert count_macs(model, spec.input_size) == spec.macs, f"{spec.name}: MACs differ from its spec"


def test_forward_backward_shapes(built):
    spec, model = built
    model.train()
    x = torch.randn(2, *spec.input_size)
    out = model(x)
    assert out.shape == (2, spec.num_classes)
    out.square().mean().backward()
    grads = [p.grad for p in model.parameters() if p.requires_grad]
    assert all(g is not None for g in grads), f"{spec.name}: some parameter got no gradient"
    assert all(torch.isfinite(g).all() for g in grads)
    model.zero_grad(set_to_none=True)


def test_features_head_compose_to_forward(built):
    spec, model = built
    model.eval()
    x = torch.randn(2, *spec.input_size)
    with torch.no_grad():
        features = model.forward_features(x)
        pre = model.forward_head(features, pre_logits=True)
        assert pre.shape == (2, model.num_features)
        torch.testing.assert_close(model.forward_head(features), model(x))


def test_reset_classifier(built):
    spec, model = built
    original = model.get_classifier()
    try:
        model.reset_classifier(7)
        model.eval()
        with torch.no_grad():
            assert model(torch.randn(2, *spec.input_size)).shape == (2, 7)
        assert model.num_classes == 7
    finally:
        model.fc = original
        model.num_classes = spec.num_classes


@pytest.mark.parametrize("name", ALL_MODELS)
def test_num_classes_override(name):
    spec = zoo.model_info(name)
    model = zoo.create(name, num_classes=3).eval()
    with torch.no_grad():
        assert model(torch.zeros(1, *spec.input_size)).shape == (1, 3)


# Counts of the seed's own code (issue 8): each model is built as that code builds it.
SEED_CODE_PARAMS = {
    "geresnext29_8x64d": (36_329_802, 36_329_802),
    "resnext29_8x64d": (34_426_698, 34_426_698),
    "resnet9": (6_573_120, 6_573_120),
    "fast_resnet9": (6_573_849, 6_570_880),  # frozen: whitening filters and Ghost BN scales
    "vgg11_bn": (9_754_698, 9_754_698),
}


@pytest.mark.parametrize("name", sorted(SEED_CODE_PARAMS))
def test_seed_code_param_counts_are_pinned(name):
    spec = zoo.model_info(name)
    assert (spec.params, spec.trainable_params) == SEED_CODE_PARAMS[name]


def test_spec_metadata_is_complete():
    for spec in map(zoo.model_info, ALL_MODELS):
        assert spec.paper.title and spec.paper.url.startswith("https://"), spec.name
        assert spec.seed, f"{spec.name}: the seed variant it follows is not stated"
        assert spec.plugin.startswith("zoo.plugins."), spec.name


ACT_TYPES = {
    "relu": torch.nn.ReLU,
    "gelu": torch.nn.GELU,
    "mish": torch.nn.Mish,
    "elu": torch.nn.ELU,
    "leaky_relu": torch.nn.LeakyReLU,
    "rrelu": torch.nn.RReLU,
}


@pytest.mark.parametrize("name", ["resnet18", "resnet9", "res9", "simp_res9"])
@pytest.mark.parametrize("act", ["mish", "leaky_relu"])
def test_act_option_replaces_every_activation(name, act):
    model = zoo.create(name, act=act)
    found = {type(m) for m in model.modules() if type(m) in ACT_TYPES.values()}
    assert found == {ACT_TYPES[act]}, f"{name} act={act}: found {found}"


@pytest.mark.parametrize("stem", ["3x3", "7x7", "3x3-3x3-3x3", "3x3-3x3"])
def test_res9_stem_options(stem):
    spec = zoo.model_info("res9")
    model = zoo.create("res9", stem=stem).eval()
    with torch.no_grad():
        assert model(torch.zeros(1, *spec.input_size)).shape == (1, 10)
    first_conv = next(m for m in model.modules() if isinstance(m, torch.nn.Conv2d))
    assert first_conv.kernel_size == ((7, 7) if stem == "7x7" else (3, 3))


@pytest.mark.parametrize("preact_shortcut", [False, True])
def test_wrn_shortcut_reads_raw_input_or_the_papers_preactivated_one(preact_shortcut):
    from zoo.models.wide_resnet import WideResNet

    model = WideResNet(10, 1, dropout=0.0, preact_shortcut=preact_shortcut).eval()
    seen = []
    for block in (model.stages[1][0], model.stages[2][0]):  # the projecting blocks
        block.shortcut.register_forward_hook(lambda _m, args, _out: seen.append(args[0].min().item()))
    with torch.no_grad():
        model(torch.randn(2, 3, 32, 32))
    assert len(seen) == 2 and all((low >= 0) == preact_shortcut for low in seen)  # BN-ReLU'd: no negatives


def test_vgg11_bn_noisy_bn_option():
    from zoo.layers import NoisyBatchNorm2d
    from zoo.models.vgg import CONFIGS, VGG

    noisy, plain = zoo.create("vgg11_bn", noisy_bn=True), zoo.create("vgg11_bn")
    assert sum(isinstance(m, NoisyBatchNorm2d) for m in noisy.modules()) == 8  # after each conv
    assert noisy.state_dict().keys() == plain.state_dict().keys()
    with pytest.raises(ValueError, match="use it with batch_norm"):
        VGG(CONFIGS["A"], batch_norm=False, noisy_bn=True)
