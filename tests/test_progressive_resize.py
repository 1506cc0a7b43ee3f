"""Progressive resizing (recipe field ``progressive_resize``): smaller images in the first epochs."""

from __future__ import annotations

import dataclasses

import pytest

from zoo import Recipe
from zoo._recipe import RecipeError, describe, image_side, validate_hyper_parameters

BASE = Recipe("t", "a test", "none", epochs=10)


def test_stages_cover_their_fractions_of_the_epochs():
    recipe = dataclasses.replace(BASE, progressive_resize="16:0.4, 24:0.3")
    sides = [image_side(recipe, epoch) for epoch in range(1, 11)]
    assert sides == [16] * 4 + [24] * 3 + [None] * 3
    assert "progressive resize 16 px (40%) -> 24 px (30%) -> full size" in describe(recipe)
    assert [image_side(BASE, epoch) for epoch in (1, 10)] == [None, None]  # off by default


def test_an_epoch_trains_at_the_stage_it_starts_in_and_the_last_one_at_full_size():
    six = dataclasses.replace(BASE, epochs=6, progressive_resize="16:0.4,24:0.3")
    assert [image_side(six, epoch) for epoch in range(1, 7)] == [16, 16, 16, 24, 24, None]
    # 90 % at 16 px would cover every start of 6 epochs: the last one still tests the full size
    mostly_small = dataclasses.replace(six, progressive_resize="16:0.9")
    assert [image_side(mostly_small, epoch) for epoch in range(1, 7)] == [16] * 5 + [None]
    one = dataclasses.replace(six, epochs=1)
    assert image_side(one, 1) is None


@pytest.mark.parametrize(
    "value, words",
    [
        ("16", "stage '16' must be SIDE:FRACTION"),
        ("4:0.5", "a side of at least 8 pixels"),
        ("16:1.5", "a fraction of the epochs in (0, 1)"),
        ("16:x", "stage '16:x'"),
        ("16:0.6,24:0.4", "the fractions must add up to < 1"),
    ],
)
def test_a_bad_schedule_is_refused_naming_it(value, words):
    with pytest.raises(RecipeError) as error:
        validate_hyper_parameters(dataclasses.replace(BASE, progressive_resize=value))
    assert words in str(error.value) and repr(value) in str(error.value)


RUN = dict(recipe="onecycle-bn", epochs=4, batch_size=32, limit_train=64, limit_test=32, eval_every=4)


def test_training_sees_the_smaller_images_then_full_size(tiny_cifar, tmp_path):
    from zoo.train import train

    seen: dict[int, set[int]] = {}

    def on_step(step) -> None:
        seen.setdefault(step.epoch, set()).add(tuple(step.x.shape[-2:]))

    train(
        "airbench94", out=tmp_path / "run", data_dir=tiny_cifar, on_step=on_step,
        progressive_resize="16:0.25,24:0.25", **RUN,
    )  # fmt: skip
    assert seen == {1: {(16, 16)}, 2: {(24, 24)}, 3: {(32, 32)}, 4: {(32, 32)}}


def test_a_model_that_cannot_take_small_images_is_refused_before_training(tiny_cifar, tmp_path, cli):
    code, _, err = cli(
        "train", "lenet5", "--out", tmp_path / "run", "--data-dir", tiny_cifar, "--epochs", "2",
        "--progressive-resize", "16:0.5",
    )  # fmt: skip
    assert code == 2 and "progressive_resize = '16:0.5': lenet5 cannot take 16x16 images" in err
    assert "Traceback" not in err and not (tmp_path / "run" / "checkpoint").exists()
