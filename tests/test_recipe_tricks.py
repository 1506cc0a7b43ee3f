"""The fast-training tricks of Page's and Jordan's recipes (issue 18): their Recipe fields and checks,
BatchNorm parameter groups, frozen BatchNorm scales, the one-cycle floor, the weight average (EMA and
Lookahead) and airbench's flip + translate TTA. Everything here runs on tiny tensors."""

from __future__ import annotations

import dataclasses
import math

import pytest
import torch
from torch import nn

TRICK_FIELDS = {
    "onecycle_start": 1 / 25,
    "onecycle_end": 1 / 25e4,
    "onecycle_hold": 0.0,
    "tta_mode": "flip",
    "bn_lr_scale": 1.0,
    "bn_weight_frozen": False,
    "ema_momentum": 0.0,
    "ema_every": 1,
    "ema_start": 0,
    "ema_ramp": 0.0,
    "lookahead": False,
}


def _recipe(**fields):
    from zoo.train import get_recipe

    return dataclasses.replace(get_recipe("seed200"), **fields)


def test_the_tricks_are_off_in_every_recipe_but_the_fast_ones():
    from zoo import Recipe
    from zoo.train import get_recipe, list_recipes

    defaults = Recipe("x", "s", "c")
    assert {name: getattr(defaults, name) for name in TRICK_FIELDS} == TRICK_FIELDS
    for name in set(list_recipes()) - {"fast", "airbench94"}:
        recipe = get_recipe(name)
        assert {f: getattr(recipe, f) for f in TRICK_FIELDS} == TRICK_FIELDS, name


TYPED = {  # what `zoo.train.train` says instead, for values of the wrong type
    "ema_every = 2.5 is out of range: it must be an int >= 1": "ema_every = 2.5 is of type float",
    "lookahead = 'yes' is out of range: it must be True or False": "lookahead = 'yes' is of type str",
    "bn_weight_frozen = 1 is out of range: it must be True or False": "bn_weight_frozen = 1 is of type int",
}


@pytest.mark.parametrize(
    "fields, message",
    [
        ({"bn_lr_scale": 0.0}, "bn_lr_scale = 0.0 is out of range: it must be > 0"),
        ({"bn_lr_scale": -64.0}, "bn_lr_scale = -64.0 is out of range"),
        ({"ema_momentum": 1.0}, "ema_momentum = 1.0 is out of range: it must be in [0, 1)"),
        ({"ema_momentum": -0.5}, "ema_momentum = -0.5 is out of range"),
        ({"ema_momentum": math.nan}, "ema_momentum = nan is not a finite number"),
        ({"ema_every": 0}, "ema_every = 0 is out of range: it must be an int >= 1"),
        ({"ema_every": 2.5}, "ema_every = 2.5 is out of range: it must be an int >= 1"),
        ({"ema_start": -1}, "ema_start = -1 is out of range: it must be an int >= 0"),
        ({"ema_ramp": -3.0}, "ema_ramp = -3.0 is out of range: it must be >= 0"),
        ({"lookahead": True}, "lookahead = True copies a weight average back: it needs ema_momentum > 0"),
        (
            {"lookahead": "yes", "ema_momentum": 0.9},
            "lookahead = 'yes' is out of range: it must be True or False",
        ),
        ({"bn_weight_frozen": 1}, "bn_weight_frozen = 1 is out of range: it must be True or False"),
        ({"onecycle_start": 1.5}, "onecycle_start = 1.5 is out of range: it must be in [0, 1]"),
        ({"onecycle_end": -0.1}, "onecycle_end = -0.1 is out of range: it must be in [0, 1]"),
        ({"onecycle_hold": 1.0}, "onecycle_hold = 1.0 is out of range: it must be in [0, 1)"),
        (
            {"scheduler": "onecycle", "warmup": 0.5, "onecycle_hold": 0.5},
            "warmup + onecycle_hold = 0.5 + 0.5 leaves no steps for the one-cycle decay",
        ),
        ({"tta_mode": "none"}, "unknown tta_mode 'none'; choose one of flip, flip_translate"),
        ({"tta_mode": "mirror"}, "unknown tta_mode 'mirror'; choose one of flip, flip_translate"),
    ],
)
def test_a_bad_trick_value_is_refused_by_the_registry_and_by_train(fields, message):
    from zoo.train import RecipeError, TrainConfigError, TrainOptions
    from zoo.train.config import resolve_config
    from zoo.train.recipes import check_recipe

    with pytest.raises(RecipeError) as refused:
        check_recipe(_recipe(name="bad", **fields))
    assert str(refused.value).startswith(f"recipe 'bad': {message}")
    with pytest.raises(TrainConfigError) as refused:
        resolve_config("lenet5", "seed200", TrainOptions(**fields))
    # An option of the wrong type is refused as such, before the recipe's own checks.
    assert str(refused.value).startswith(TYPED.get(message, message))


def test_a_hold_is_fine_with_another_scheduler():
    from zoo.train.recipes import check_recipe

    check_recipe(_recipe(name="ok", scheduler="cosine", warmup=0.5, onecycle_hold=0.5))


# --- BatchNorm parameter groups and frozen scales -------------------------------------------------


def _bn_net() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(
        nn.Conv2d(3, 4, 3, bias=False), nn.BatchNorm2d(4), nn.Flatten(), nn.Linear(4 * 36, 3)
    )


def test_batchnorm_parameters_get_their_own_lr_and_weight_decay():
    from zoo.train.optim import build_optimizer

    net = _bn_net()
    recipe = _recipe(lr=0.4, weight_decay=5e-4, bn_lr_scale=64.0)
    weights, norm = build_optimizer(net, recipe).param_groups
    assert (weights["lr"], weights["weight_decay"]) == (0.4, 5e-4)
    assert norm["lr"] == pytest.approx(0.4 * 64) and norm["weight_decay"] == pytest.approx(5e-4 / 64)
    assert {id(p) for p in norm["params"]} == {id(net[1].weight), id(net[1].bias)}
    assert {id(p) for p in weights["params"]} == {id(net[0].weight), id(net[3].weight), id(net[3].bias)}
    [one] = build_optimizer(net, _recipe(lr=0.4)).param_groups  # bn_lr_scale 1: one group, as before
    assert len(one["params"]) == 5 and one["lr"] == 0.4
    [no_bn] = build_optimizer(nn.Linear(2, 2), recipe).param_groups  # no BatchNorm: one group
    assert no_bn["lr"] == 0.4


def test_a_batchnorm_step_is_64x_the_lr_with_1_64_of_the_weight_decay():
    from zoo.train.optim import build_optimizer

    net = _bn_net()
    recipe = _recipe(lr=0.1, weight_decay=0.01, momentum=None, bn_lr_scale=64.0)
    optimizer = build_optimizer(net, recipe)
    net[1].bias.data.fill_(0.5)
    net(torch.randn(8, 3, 8, 8)).square().mean().backward()
    bias, grad = net[1].bias.detach().clone(), net[1].bias.grad.clone()
    weight, weight_grad = net[0].weight.detach().clone(), net[0].weight.grad.clone()
    optimizer.step()
    torch.testing.assert_close(net[1].bias.detach(), bias - 0.1 * 64 * (grad + 0.01 / 64 * bias))
    torch.testing.assert_close(net[0].weight.detach(), weight - 0.1 * (weight_grad + 0.01 * weight))


def test_schedules_keep_the_batchnorm_factor():
    from zoo.train.optim import build_optimizer, build_schedule

    for scheduler in ("onecycle", "cosine", "cyclic", "linear"):
        recipe = _recipe(scheduler=scheduler, lr=0.4, bn_lr_scale=64.0, epochs=2)
        optimizer = build_optimizer(_bn_net(), recipe)
        schedule = build_schedule(optimizer, recipe, steps_per_epoch=5)
        for _ in range(4):
            optimizer.step()
            schedule.after_batch()
        weights, norm = optimizer.param_groups
        assert norm["lr"] == pytest.approx(64 * weights["lr"], rel=1e-4), scheduler  # cosine: + min_lr
        assert weights["lr"] != 0.4, f"{scheduler} did not move the lr"


def test_frozen_batchnorm_scales_stay_at_one(tiny_cifar, tmp_path):
    from zoo.checkpoint import load_state
    from zoo.train import train

    result = train(
        "res9", out=tmp_path / "run", data_dir=tiny_cifar, epochs=1, limit_train=64, limit_test=32,
        batch_size=32, bn_weight_frozen=True,
    )  # fmt: skip
    state = load_state(result.model_path)
    scales = [v for k, v in state.items() if k.endswith(".weight") and v.ndim == 1]
    biases = [v for k, v in state.items() if k.endswith(".bias") and v.ndim == 1 and not k.startswith("fc")]
    assert len(scales) == 8 and all(torch.equal(s, torch.ones_like(s)) for s in scales)
    assert any(not torch.equal(b, torch.zeros_like(b)) for b in biases)  # the biases trained


# --- the one-cycle shapes -------------------------------------------------------------------------


def _old_one_cycle(total: int, warmup: float, step: int) -> float:
    """The one-cycle factor as zoo computed it before the start/end/hold fields (byte-identity)."""
    total = max(1, total)
    up = min(max(1, round(warmup * total)), total - 1)
    if step < up:
        return 1 / 25 + (1 - 1 / 25) * step / up
    return 1 + (1 / 25e4 - 1) * min(1.0, (step - up) / max(1, total - 1 - up))


@pytest.mark.parametrize("total", [1, 2, 7, 97, 970])
def test_the_default_one_cycle_is_unchanged(total):
    from zoo.train.optim import OneCycle

    shape = OneCycle(total, 0.25)
    assert [shape(s) for s in range(total + 2)] == [_old_one_cycle(total, 0.25, s) for s in range(total + 2)]


def test_pages_schedule_peaks_at_epoch_2_and_holds_a_tenth_for_the_last_2_epochs():
    from zoo.train.optim import OneCycle

    steps = 97  # 50,000 images in batches of 512, the last partial one dropped
    shape = OneCycle(10 * steps, warmup=0.2, initial=0.0, final=0.1, hold=0.2)
    lrs = [shape(s) for s in range(10 * steps)]
    assert lrs[0] == 0.0 and max(lrs) == lrs[2 * steps] == 1.0
    assert all(a <= b for a, b in zip(lrs[: 2 * steps], lrs[1 : 2 * steps + 1]))  # up ...
    assert all(a >= b for a, b in zip(lrs[2 * steps : 8 * steps], lrs[2 * steps + 1 : 8 * steps + 1]))
    assert all(lr == pytest.approx(0.1) for lr in lrs[8 * steps - 1 :])  # from step 775 on
    assert lrs[5 * steps] == pytest.approx(1 - 0.9 * (3 * steps) / (6 * steps - 1))


def test_airbench_triangle():
    from zoo.train.optim import OneCycle

    shape = OneCycle(480, warmup=0.23, initial=0.2, final=0.07)
    assert shape(0) == 0.2 and shape(round(0.23 * 480)) == 1.0 and shape(479) == pytest.approx(0.07)


# --- the weight average ---------------------------------------------------------------------------


class _Tiny(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.fc, self.norm = nn.Linear(3, 2), nn.BatchNorm1d(2)

    def forward(self, x):
        return self.norm(self.fc(x))


def _average(model: nn.Module, **fields):
    from zoo.train.ema import WeightAverage

    recipe = _recipe(**{"ema_momentum": 0.9, "ema_every": 2, **fields})
    return WeightAverage(model, recipe, total_steps=12, steps_per_epoch=4)


def _train_step(model: nn.Module, generator: torch.Generator) -> None:
    """Move the weights and the BatchNorm statistics as a training step would."""
    with torch.no_grad():
        for p in model.parameters():
            p.add_(torch.randn(p.shape, generator=generator))
    model.train()
    model(torch.randn(5, 3, generator=generator))


def test_the_average_is_a_hand_computed_ema_of_weights_and_batchnorm_statistics():
    torch.manual_seed(0)
    model, generator = _Tiny(), torch.Generator().manual_seed(1)
    average = _average(model)
    want = {k: v.clone() for k, v in model.state_dict().items()}  # it starts at the initial weights
    assert average.evaluated() is average.average
    rho = 0.9**2
    for step in range(1, 8):
        _train_step(model, generator)
        average.after_step(step)
        if step % 2 == 0:
            for k, v in model.state_dict().items():
                want[k] = rho * want[k] + (1 - rho) * v if v.is_floating_point() else v.clone()
    got = average.average.state_dict()
    assert got["norm.num_batches_tracked"] == 6  # integer buffers are copied, as of step 6
    for k in want:
        torch.testing.assert_close(got[k], want[k], rtol=1e-5, atol=1e-6)
    assert not torch.allclose(got["fc.weight"], model.fc.weight)  # an average, not the weights
    assert not any(p.requires_grad for p in average.average.parameters())


def test_a_late_start_copies_then_averages_and_the_ramp_scales_the_momentum():
    torch.manual_seed(0)
    model, generator = _Tiny(), torch.Generator().manual_seed(1)
    average = _average(model, ema_start=1, ema_ramp=3.0)  # starts after 4 steps, at step 6
    for step in range(1, 7):
        _train_step(model, generator)
        average.after_step(step)
        if step < 6:
            assert not average.started and average.evaluated() is model
    assert average.started and average.evaluated() is average.average
    pairs = zip(average.average.state_dict().values(), model.state_dict().values())
    assert all(torch.equal(a, b) for a, b in pairs)
    want = {k: v.clone() for k, v in average.average.state_dict().items()}
    for step in (7, 8):
        _train_step(model, generator)
        average.after_step(step)
    rho = 0.9**2 * (8 / 12) ** 3
    assert average.decay_at(8) == pytest.approx(rho)
    torch.testing.assert_close(
        average.average.fc.weight, rho * want["fc.weight"] + (1 - rho) * model.fc.weight
    )


def test_lookahead_copies_the_average_back_into_the_weights():
    torch.manual_seed(0)
    model, generator = _Tiny(), torch.Generator().manual_seed(1)
    average = _average(model, lookahead=True)
    before = model.fc.weight.detach().clone()
    _train_step(model, generator)
    average.after_step(1)  # no update at an odd step
    moved = model.fc.weight.detach().clone()
    _train_step(model, generator)
    trained = model.fc.weight.detach().clone()
    average.after_step(2)
    torch.testing.assert_close(model.fc.weight.detach(), 0.81 * before + 0.19 * trained)
    assert torch.equal(model.fc.weight, average.average.fc.weight) and not torch.equal(moved, trained)
    _train_step(model, generator)
    average.after_epoch()
    assert all(
        torch.equal(a, b)
        for a, b in zip(average.average.state_dict().values(), model.state_dict().values())
        if a.is_floating_point()
    )


def test_the_average_and_the_weights_round_trip_through_a_checkpoint():
    from zoo.checkpoint import from_json_safe, to_json_safe

    torch.manual_seed(0)
    model, generator = _Tiny(), torch.Generator().manual_seed(1)
    average = _average(model)
    for step in range(1, 6):
        _train_step(model, generator)
        average.after_step(step)
    weights = {k: v.clone() for k, v in average.evaluated().state_dict().items()}  # the model file
    tensors, info = average.checkpoint_tensors(), from_json_safe(to_json_safe(average.checkpoint_info()))
    torch.manual_seed(5)
    fresh_model = _Tiny()
    fresh = _average(fresh_model)
    fresh.restore(weights, tensors, info)
    for a, b in zip(fresh.average.state_dict().values(), average.average.state_dict().values()):
        assert torch.equal(a, b)
    for a, b in zip(fresh_model.state_dict().values(), model.state_dict().values()):
        assert torch.equal(a, b)


# --- flip + translate TTA -------------------------------------------------------------------------


def test_flip_translate_tta_weights_six_views_as_airbench():
    from zoo.evaluate import tta_logits

    torch.manual_seed(0)
    model = nn.Sequential(nn.Flatten(), nn.Linear(3 * 8 * 8, 4))
    x = torch.randn(2, 3, 8, 8)
    padded = nn.functional.pad(x, (1, 1, 1, 1), mode="reflect")
    down_right, up_left = padded[..., :8, :8], padded[..., 2:, 2:]
    assert torch.equal(down_right[..., 1:, 1:], x[..., :-1, :-1])
    assert torch.equal(up_left[..., :-1, :-1], x[..., 1:, 1:])
    with torch.no_grad():
        outs = [model(v) + model(v.flip(-1)) for v in (x, down_right, up_left)]
        want = outs[0] / 4 + (outs[1] + outs[2]) / 8
        torch.testing.assert_close(tta_logits(model, x, "flip_translate"), want)
        torch.testing.assert_close(tta_logits(model, x, "flip"), outs[0] / 2)
        assert torch.equal(tta_logits(model, x, "none"), model(x))


def test_evaluate_reports_flip_translate_with_the_plain_top1_beside_it():
    from zoo.data.array_dataset import ArrayDataset
    from zoo.evaluate import evaluate

    torch.manual_seed(0)
    images = torch.randint(0, 256, (20, 3, 8, 8), dtype=torch.uint8)
    data = ArrayDataset(images, torch.arange(20) % 4, "t", tuple("abcd"), (0.5,) * 3, (0.2,) * 3)
    model = nn.Sequential(nn.Flatten(), nn.Linear(3 * 8 * 8, 4))
    result = evaluate(model, data, batch_size=8, tta="flip_translate")
    assert result.tta == "flip_translate" and result.top1_no_tta is not None and result.num_images == 20
