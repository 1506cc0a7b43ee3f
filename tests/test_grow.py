"""zoo.grow / `zoo grow`: function-preserving growth (Net2Net) for every supported pair."""

from __future__ import annotations

import json
import subprocess
import sys
from functools import partial

import pytest
import torch
from helpers import one_error
from torch import nn

import zoo
from zoo.checkpoint import load_model, save_model
from zoo.growth import GROWTHS
from zoo.models.resnet import BasicBlock, ResNet, deepen_resnet
from zoo.models.resnext import ResNeXt, add_gather_excite, grow_cardinality
from zoo.models.wide_resnet import WideResNet, grow_wide_resnet

TOLERANCE = 1e-4  # fp32; what is measured is about 1e-6


def _batch(n: int = 2) -> torch.Tensor:
    return torch.randn(n, 3, 32, 32, generator=torch.Generator().manual_seed(1))


def _trained_like(model: nn.Module, seed: int = 0) -> nn.Module:
    """`model` with the BatchNorm statistics and affines of a trained one (random, not 0/1)."""
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, nn.BatchNorm2d):
                module.weight.uniform_(0.5, 1.5, generator=generator)
                module.bias.normal_(0.0, 0.2, generator=generator)
                module.running_mean.normal_(0.0, 0.2, generator=generator)
                module.running_var.uniform_(0.5, 2.0, generator=generator)
    return model


@torch.no_grad()
def _logits(model: nn.Module, x: torch.Tensor, train: bool) -> torch.Tensor:
    """Logits in eval or train mode (BatchNorm on batch statistics); dropout off, its masks are random."""
    model.train(train)
    for module in model.modules():
        if isinstance(module, nn.Dropout):
            module.eval()
    return model(x)


def _differences(source: nn.Module, grown: nn.Module, x: torch.Tensor) -> dict[str, float]:
    return {
        mode: (_logits(source, x, train) - _logits(grown, x, train)).abs().max().item()
        for mode, train in (("eval", False), ("train", True))
    }


def _duplicate_rows(weight: torch.Tensor) -> int:
    """How many rows (output channels) of `weight` equal an earlier row exactly."""
    return len(weight) - len(torch.unique(weight.flatten(1), dim=0))


@pytest.mark.parametrize("pair", list(GROWTHS), ids="->".join)
def test_every_supported_growth_preserves_the_function(pair):
    source_name, target_name = pair
    source = _trained_like(zoo.create(source_name))
    grown = zoo.grow(source, target_name, noise=0)
    with torch.device("meta"):  # the target's layout, without the memory and init of a second build
        layout = {k: v.shape for k, v in zoo.create(target_name).state_dict().items()}
    assert {k: v.shape for k, v in grown.state_dict().items()} == layout
    assert grown.pretrained_cfg["architecture"] == target_name
    assert sum(p.numel() for p in grown.parameters()) == zoo.model_info(target_name).params
    differences = _differences(source, grown, _batch())
    assert max(differences.values()) <= TOLERANCE, differences


# The same rules on narrow, shallow layouts (fast), random and trained-like, eval and train mode.
SMALL = {
    "deepen_resnet": (
        deepen_resnet,
        lambda: ResNet(BasicBlock, (1, 1, 1, 1)),
        partial(ResNet, BasicBlock, (2, 3, 1, 2)),
    ),
    "grow_cardinality": (
        grow_cardinality,
        lambda: ResNeXt(2, 4, base_out=32, depth=2, stem_kernel=1),
        partial(ResNeXt, 8, 4, base_out=32, depth=2, stem_kernel=3),
    ),
    "add_gather_excite": (
        add_gather_excite,
        lambda: ResNeXt(4, 4, base_out=32, depth=2, stem_kernel=3),
        partial(ResNeXt, 4, 4, base_out=32, depth=2, stem_kernel=3, gather_excite=True),
    ),
    # Widened 3x (each channel copied twice more) and deepened; the projection on the BN-ReLU'd input.
    "grow_wide_resnet": (
        grow_wide_resnet,
        lambda: WideResNet(10, 2, dropout=0.0, preact_shortcut=True),
        partial(WideResNet, 16, 6),
    ),
}


@pytest.mark.parametrize("trained", [False, True], ids=["random", "trained-like"])
@pytest.mark.parametrize("rule", list(SMALL))
def test_rules_preserve_the_function_on_small_layouts(rule, trained):
    grow, make_source, make_target = SMALL[rule]
    torch.manual_seed(0)
    source = make_source()
    if trained:
        _trained_like(source)
    grown = grow(source, make_target, noise=0.0, generator=torch.Generator().manual_seed(0))
    differences = _differences(source, grown, _batch(4))
    assert max(differences.values()) <= TOLERANCE, differences


def test_wide_resnet_growth_carries_dropout_and_shortcut_options():
    grow, make_source, make_target = SMALL["grow_wide_resnet"]
    grown = grow(make_source(), make_target, noise=0.0, generator=torch.Generator().manual_seed(0))
    assert [m.p for m in grown.modules() if isinstance(m, nn.Dropout)] == [0.0] * 6
    assert grown.stages[1][0].preact_shortcut


@pytest.mark.parametrize(
    "rule, layer, copies",
    [
        ("grow_cardinality", lambda m: m.stages[0][0].conv1[0].weight, 3 * 8),  # 8 groups of 4: 6 are copies
        ("grow_wide_resnet", lambda m: m.stages[2][0].conv1.weight, 2 * 128),  # 128 -> 384 channels
    ],
    ids=["grow_cardinality", "grow_wide_resnet"],
)
def test_noise_parts_the_copies_and_keeps_the_logits_close(rule, layer, copies):
    grow, make_source, make_target = SMALL[rule]
    torch.manual_seed(0)
    source = _trained_like(make_source())
    exact, noisy = (
        grow(source, make_target, noise=noise, generator=torch.Generator().manual_seed(0))
        for noise in (0.0, 1e-2)
    )
    assert _duplicate_rows(layer(exact)) == copies
    assert _duplicate_rows(layer(noisy)) == 0
    change = (layer(noisy) - layer(exact)).flatten(1).norm(dim=1)
    moved = change[change > 0]
    assert len(moved) == copies  # the originals stay as they were
    relative = moved / (layer(exact).std() * layer(exact)[0].numel() ** 0.5)
    assert torch.allclose(relative, torch.full_like(relative, 1e-2), rtol=0.5), relative  # noise x std
    x = _batch(4)
    reference = _logits(source, x, train=False)
    difference = (_logits(noisy, x, train=False) - reference).abs().max().item()
    assert 1e-5 < difference < 1e-2 * reference.abs().max().item()  # measured: about 1e-3 of it


def test_zoo_grow_is_a_lazy_attribute():
    code = "import sys, zoo; light = 'torch' not in sys.modules; print(light, zoo.grow is zoo.growth.grow)"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.split() == ["True", "True"]  # `import zoo` stays light; zoo.grow is the function
    assert issubclass(zoo.GrowError, zoo.ZooError) and issubclass(zoo.GrowError, ValueError)


def _save(model: nn.Module, path, name: str, **options):
    extra = {"dataset": "cifar10-jpeg", "mean": [0.5, 0.5, 0.5], "std": [0.25, 0.25, 0.25]}
    return save_model(model, path, name=name, options=options, extra=extra)


def test_cli_writes_a_model_file_that_load_model_and_eval_take(cli, tmp_path, shared_data):
    source = _trained_like(zoo.create("resnet18"))
    _save(source, tmp_path / "r18" / "checkpoint", "resnet18")  # a `zoo train` run folder's layout
    run = tmp_path / "grown"
    code, out, err = cli("grow", tmp_path / "r18", "resnet34", "--out", run, "--noise", "0")
    assert code == 0, err
    assert out.startswith(f"grew {tmp_path / 'r18'} into resnet34") and str(run / "model.safetensors") in out
    grown, metadata = load_model(run)
    assert [len(stage) for stage in grown.stages] == [3, 4, 6, 3]
    assert metadata["zoo.model"] == "resnet34" and metadata["zoo.grown_from"] == str(tmp_path / "r18")
    assert float(metadata["zoo.grow_noise"]) == 0.0 and metadata["zoo.dataset"] == "cifar10-jpeg"
    assert json.loads(metadata["zoo.mean"]) == [0.5, 0.5, 0.5]  # the source's normalisation goes with it
    assert max(_differences(source, grown, _batch()).values()) <= TOLERANCE
    data = shared_data / "cifar10-jpeg"
    code, out, err = cli("eval", "--checkpoint", run, "--limit", "64", "--data-dir", data, "--json")
    assert code == 0, err
    assert json.loads(out)["num_images"] == 64
    code, _, err = cli("grow", tmp_path / "r18", "resnet34", "--out", run)
    assert code == 2 and "already holds model.safetensors" in one_error(err)


def test_grow_from_published_weights_by_name(zoo_manifest, tmp_path, monkeypatch, cli):
    from zoo import hub

    source = _trained_like(zoo.create("resnet18"))
    checkpoint = _save(source, tmp_path / "run", "resnet18")
    hub.export(
        "resnet18", checkpoint, tmp_path / "weights" / "r18", "zoo-test/r18", tag="t1", metrics={"top1": 9.0}
    )
    monkeypatch.setenv("ZOO_WEIGHTS_DIR", str(tmp_path / "weights"))
    grown = zoo.grow("resnet18", "resnet34", noise=0)  # no tag: the default one
    assert grown.pretrained_cfg["grown_from"] == "resnet18.t1"
    assert grown.pretrained_cfg["dataset"] == "cifar10-jpeg"  # the weights', not the spec's "cifar10"
    assert max(_differences(source, grown, _batch()).values()) <= TOLERANCE
    code, _, err = cli("grow", "resnet18.t2", "resnet34", "--out", tmp_path / "out")
    assert code == 2 and "no weights tagged 't2' for 'resnet18'; published tags: t1" in one_error(err)
    assert not (tmp_path / "out").exists()


REFUSALS = {
    "unsupported pair": (
        ("lenet5", "resnet34"),
        "cannot grow lenet5 into resnet34; supported growths: resnet18",
    ),
    "unknown target": (("resnet18", "resnet35"), "unknown model 'resnet35'; did you mean resnet34"),
    "unknown source": (("resnet19", "resnet34"), "unknown model 'resnet19'; did you mean resnet18"),
    "no published weights": (("resnet18", "resnet34"), "no published weights for 'resnet18'"),
    "target with a tag": (("resnet18", "resnet34.t1"), "give its architecture alone: 'resnet34'"),
    "another model's file": (("{lenet5}", "resnet34"), "cannot grow lenet5 (the model in "),
    "gelu resnet": (("{gelu}", "resnet34"), "only with act='relu'"),
    "negative noise": (("resnet18", "resnet34", "--noise", "-1"), "noise must be a finite number >= 0"),
}


@pytest.mark.parametrize("case", list(REFUSALS))
def test_cli_refusals_are_one_line_and_exit_2(case, cli, zoo_manifest, tmp_path):
    args, message = REFUSALS[case]
    files = {
        "lenet5": lambda path: _save(zoo.create("lenet5"), path, "lenet5"),
        "gelu": lambda path: _save(zoo.create("resnet18", act="gelu"), path, "resnet18", act="gelu"),
    }
    for name, save in files.items():
        if f"{{{name}}}" in args:
            save(tmp_path / name)
    args = [a.format(**{name: tmp_path / name for name in files}) for a in args]
    code, out, err = cli("grow", *args, "--out", tmp_path / "out")
    assert code == 2 and out == ""
    assert message in one_error(err)
    assert not (tmp_path / "out").exists()
