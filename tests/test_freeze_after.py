"""Freezing named parameters after some epochs (recipe field ``freeze_after``: airbench94 whitening bias)."""

from __future__ import annotations

import dataclasses

import pytest
import torch

from zoo import Recipe
from zoo._recipe import RecipeError, describe, freeze_stages, validate_hyper_parameters
from zoo.train.recipes import get_recipe

BASE = Recipe("t", "a test", "none", epochs=10)


def test_stages_parse_and_are_described():
    recipe = dataclasses.replace(BASE, freeze_after="whiten.bias:3, layer1:2")
    assert freeze_stages(recipe.freeze_after) == (("whiten.bias", 3), ("layer1", 2))
    assert "whiten.bias frozen after epoch 3" in describe(recipe)
    assert freeze_stages(BASE.freeze_after) == ()  # off by default
    assert freeze_stages(get_recipe("airbench94").freeze_after) == (("whiten.bias", 3),)


@pytest.mark.parametrize("value", ["whiten.bias", "whiten.bias:0", ":3", "whiten.bias:1.5"])
def test_a_bad_stage_is_refused_naming_it(value):
    with pytest.raises(RecipeError) as error:
        validate_hyper_parameters(dataclasses.replace(BASE, freeze_after=value))
    assert "must be NAME:EPOCHS" in str(error.value) and repr(value) in str(error.value)


RUN = dict(recipe="onecycle-bn", epochs=2, batch_size=32, limit_train=64, limit_test=32, eval_every=2)


def test_a_frozen_parameter_trains_then_stays_while_the_others_move(tiny_cifar, tmp_path):
    from safetensors.torch import load_file

    from zoo.train import train

    first_step_of: dict[int, dict[str, torch.Tensor]] = {}

    def on_step(step) -> None:  # before the optimizer step: the weights the epoch started with
        if step.epoch not in first_step_of:
            model = getattr(step.net, "module", step.net)
            first_step_of[step.epoch] = {k: v.detach().clone() for k, v in model.state_dict().items()}

    result = train(
        "airbench94", out=tmp_path / "run", data_dir=tiny_cifar, on_step=on_step,
        freeze_after="whiten.bias:1", weight_decay=0.05, **RUN,
    )  # fmt: skip
    final = load_file(str(result.model_path))
    epoch2 = first_step_of[2]
    assert not torch.equal(first_step_of[1]["whiten.bias"], epoch2["whiten.bias"])  # trained in epoch 1
    assert torch.equal(final["whiten.bias"].float(), epoch2["whiten.bias"].float())  # then fixed
    assert not torch.equal(final["fc.weight"].float(), epoch2["fc.weight"].float())  # the rest trains


def test_a_name_the_model_lacks_is_refused_before_training_with_close_names(tiny_cifar, tmp_path, cli):
    code, _, err = cli(
        "train", "airbench94", "--out", tmp_path / "run", "--data-dir", tiny_cifar, "--epochs", "1",
        "--limit-train", "32", "--freeze-after", "whiten.bais:3",
    )  # fmt: skip
    assert code == 2 and "no trainable parameter or module 'whiten.bais'" in err
    assert "'whiten.bias'" in err and "--freeze-after ''" in err
    assert "Traceback" not in err and not (tmp_path / "run" / "checkpoint").exists()
