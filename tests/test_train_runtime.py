"""Run-time settings of training: precision and layout defaults, time budgets, short schedules,
divergence stops, sparse and subset evaluation."""

from __future__ import annotations

import json
import math

import pytest
import torch
from helpers import ZooLogLines


def _train(tiny_cifar, out, **options):
    from zoo.train import train

    settings = dict(epochs=1, batch_size=32, limit_train=128, lr=0.01, seed=0)
    return train("lenet5", out=out, data_dir=tiny_cifar, **{**settings, **options})


# --- precision and memory format ---------------------------------------------------------------


def test_precision_choices_follow_the_device(monkeypatch):
    from zoo.train.runtime import PrecisionError, choose_channels_last, choose_precision

    cpu = torch.device("cpu")
    assert choose_precision(cpu, "fp32").dtype is None
    assert choose_precision(cpu, "bf16").dtype is torch.bfloat16
    monkeypatch.setattr(torch.cpu, "_is_avx512_bf16_supported", lambda: True)
    assert choose_precision(cpu, "auto").name == "bf16"
    monkeypatch.setattr(torch.cpu, "_is_avx512_bf16_supported", lambda: False)
    monkeypatch.setattr(torch.cpu, "_is_amx_tile_supported", lambda: False)
    monkeypatch.setattr(torch.cpu, "_is_amx_fp16_supported", lambda: False)
    assert choose_precision(cpu, "auto").name == "fp32"  # no native bf16: autocast would only cost
    with pytest.raises(PrecisionError, match="fp16 on this CPU"):
        choose_precision(cpu, "fp16")
    with pytest.raises(PrecisionError, match="unknown precision 'fp8'"):
        choose_precision(cpu, "fp8")
    import zoo

    lenet, mlp = zoo.create("lenet5"), zoo.create("mlp5")
    assert choose_channels_last(cpu, lenet, None) is True
    assert choose_channels_last(cpu, lenet, False) is False
    assert choose_channels_last(cpu, mlp, None) is False  # an MLP's activations have no layout
    assert choose_channels_last(torch.device("mps"), lenet, None) is False


def test_a_run_records_the_precision_and_layout_it_used(tiny_cifar, tmp_path, caplog):
    import logging

    with caplog.at_level(logging.INFO, logger="zoo"):
        result = _train(tiny_cifar, tmp_path / "run", precision="bf16")
    record = json.loads((tmp_path / "run" / "config.json").read_text())
    assert record["precision"] == "bf16" and record["channels_last"] is True
    assert record["config"]["precision"] == "bf16" and record["config"]["channels_last"] is True
    banner = next(r.getMessage() for r in caplog.records if r.getMessage().startswith("training lenet5"))
    assert "in bf16, channels_last" in banner and "1 epoch," in banner
    assert 0 <= result.final["test_acc"] <= 1


def test_configs_written_before_precision_existed_still_resume():
    from zoo.train.config import TrainConfig
    from zoo.train.recipes import get_recipe

    saved = TrainConfig("lenet5", get_recipe("seed200")).to_dict()
    del saved["precision"]
    saved["amp"] = True
    assert TrainConfig.from_dict(saved).precision == "auto"
    saved["amp"] = False
    assert TrainConfig.from_dict(saved).precision == "fp32"


# --- time budget ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text, seconds", [("90", 90.0), ("90s", 90.0), ("45m", 2700.0), ("1.5h", 5400.0), (" 2 m ", 120.0)]
)
def test_durations_parse(text, seconds):
    from zoo.train import parse_duration

    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["", "45 minutes", "-3m", "0s", "1e9", "inf", "m"])
def test_bad_durations_say_how_to_write_one(text):
    from zoo.train.options import DurationError, parse_duration

    with pytest.raises(DurationError, match="time budget"):
        parse_duration(text)


def test_fit_epochs_counts_what_fits_and_refuses_a_budget_too_short():
    from zoo.train.budget import SAFETY, DurationError, fit_epochs

    fit = fit_epochs(600, spent_s=20, step_s=0.5, eval_s=10, final_s=0, steps_per_epoch=100, eval_every=1)
    assert fit.epoch_s == 60 and fit.epochs == int((600 * SAFETY - 20) // 60)
    sparse = fit_epochs(600, 20, 0.5, 10, 0, 100, eval_every=5)
    assert sparse.epochs > fit.epochs  # fewer evaluations leave time for more epochs
    assert fit_epochs(600, 20, 0.5, 10, 0, 100, 1, max_epochs=3).epochs == 3  # --epochs caps
    with pytest.raises(DurationError, match=r"too short: .* one epoch .* about 60s; give at least"):
        fit_epochs(50, spent_s=20, step_s=0.5, eval_s=10, final_s=0, steps_per_epoch=100, eval_every=1)


def test_a_budget_buys_more_epochs_of_smaller_images_at_their_share_of_the_pixels():
    from zoo._recipe import pixel_shares
    from zoo.train.budget import SAFETY, fit_epochs

    def shares(n: int) -> list[float]:  # 40 % of the epochs at 16 px, 30 % at 24 px, the rest 32
        return pixel_shares("16:0.4,24:0.3", n, 32)

    available = 3600 * SAFETY - 20
    full = fit_epochs(3600, 20, 0.5, 10, 0, 100, eval_every=1)
    resized = fit_epochs(3600, 20, 0.5, 10, 0, 100, eval_every=1, epoch_shares=shares)

    def cost(n: int) -> float:
        return sum(shares(n)) * 100 * 0.5 + n * 10

    assert full.full_size_epochs == full.epochs == int(available // 60)  # 60 s a full-size epoch
    assert cost(resized.epochs) <= available < cost(resized.epochs + 1)  # the most that fit
    assert resized.epochs > full.epochs and resized.full_size_epochs == pytest.approx(
        sum(shares(resized.epochs))
    )
    capped = fit_epochs(3600, 20, 0.5, 10, 0, 100, 1, max_epochs=50, epoch_shares=shares)
    assert capped.epochs == 50  # --epochs still caps


@pytest.mark.slow
def test_a_budgeted_run_fits_its_budget_and_trains_as_the_same_run_given_its_epochs(tiny_cifar, tmp_path):
    budgeted = _train(tiny_cifar, tmp_path / "budget", time_budget=60, epochs=2, precision="fp32")
    fit = budgeted.config["time_budget_fit"]
    assert fit["epochs"] == 2 and fit["step_s"] > 0 and fit["eval_s"] > 0  # 60 s hold more: capped
    assert (
        budgeted.config["config"]["recipe"]["epochs"] == 2 and budgeted.config["config"]["time_budget"] == 60
    )
    plain = _train(tiny_cifar, tmp_path / "plain", epochs=2, precision="fp32")
    # The measured steps were undone: the same weights, the same metrics.
    assert budgeted.final["train_loss"] == plain.final["train_loss"]
    assert budgeted.final["test_acc"] == plain.final["test_acc"]


@pytest.mark.slow
def test_a_budgeted_run_of_smaller_images_early_counts_them_at_their_pixel_share(
    tiny_cifar, tmp_path, monkeypatch
):
    from zoo._recipe import pixel_shares
    from zoo.train import budget, train

    # the measurements stand fixed (1 s a step, 1 s an evaluation), so what fits does not depend on
    # this machine's speed: 600 s hold far more than the 4 epochs --epochs caps at
    monkeypatch.setattr(budget, "measure_steps", lambda *args: 1.0)
    monkeypatch.setattr(budget, "measure_eval", lambda *args: 1.0)
    run = train(
        "simp_res9", out=tmp_path / "run", data_dir=tiny_cifar, limit_train=128, batch_size=32, epochs=4,
        time_budget=600, progressive_resize="16:0.5", precision="fp32", seed=0,
    )  # fmt: skip
    fit = run.config["time_budget_fit"]
    assert fit["step_s"] == 1.0 and fit["epochs"] == 4  # capped: 2 epochs at 16 px, then 2 at 32
    assert fit["epochs"] >= 2 and run.config["config"]["recipe"]["epochs"] == fit["epochs"]
    # the first half of the epochs at 16 px (a quarter of the 32 px pixels), the rest full size
    assert fit["full_size_epochs"] == pytest.approx(sum(pixel_shares("16:0.5", fit["epochs"], 32)))
    assert fit["full_size_epochs"] < fit["epochs"]


def test_a_budget_too_short_for_one_epoch_is_refused_before_training(tiny_cifar, tmp_path):
    from zoo.train import TrainConfigError

    with pytest.raises(TrainConfigError, match="time budget 0.01s is too short"):
        _train(tiny_cifar, tmp_path / "run", time_budget=0.01)
    assert not (tmp_path / "run" / "checkpoint").exists()


# --- schedules of any length and diverging runs ---------------------------------------------------


@pytest.mark.parametrize("total", [1, 2, 3, 4, 5, 17])
def test_one_cycle_works_for_any_step_count(total):
    from zoo.train.optim import build_optimizer, build_schedule
    from zoo.train.recipes import get_recipe

    recipe = get_recipe("gpu-onecycle")  # the default shape, annealed to 1/25e4 of the peak
    optimizer = build_optimizer([torch.nn.Parameter(torch.zeros(1))], recipe)
    schedule = build_schedule(optimizer, recipe.__class__(**{**recipe.to_dict(), "epochs": 1}), total)
    lrs = []
    for _ in range(total):
        lrs.append(optimizer.param_groups[0]["lr"])
        optimizer.step()
        schedule.after_batch()
    assert max(lrs) == pytest.approx(recipe.lr)  # the peak is reached ...
    if total >= 2:
        assert lrs[0] < recipe.lr  # ... after a warmup step
    if total >= 3:
        assert lrs[-1] < recipe.lr  # ... and annealed after it
    assert optimizer.param_groups[0]["lr"] < recipe.lr / 1000


def test_divergence_guard_stops_a_loss_stuck_far_above_its_start():
    from zoo.train.loop import DivergenceGuard

    guard = DivergenceGuard(factor=3, patience=4, warmup=2)
    assert guard.observe(2.0, 1) is None and guard.observe(2.4, 1) is None  # start: 2.2
    assert all(guard.observe(loss, 1) is None for loss in (7.0, 9.0, 3.0, 8.0, 8.0, 8.0))  # a spike resets
    assert guard.observe(8.0, 1) == pytest.approx(2.2)
    restored = DivergenceGuard(factor=3, patience=4, warmup=2)
    restored.load_state_dict(guard.state_dict())
    assert restored.start == guard.start and restored.streak == guard.streak


def test_a_diverging_run_stops_with_one_clear_message(shared_data, tmp_path):
    from zoo.train import DivergedError, TrainingFailedError, train

    # BatchNorm keeps a too-high lr finite for a while: the NaN check alone would not stop it.
    with pytest.raises(DivergedError) as info:
        train(
            "mlp5_bn", out=tmp_path / "run", data_dir=shared_data, epochs=2, batch_size=32,
            limit_train=1024, val_size=0, limit_test=100, optimizer="sgd", lr=5.0, momentum=0.9,
            weight_decay=0, scheduler="step",
        )  # fmt: skip
    message = str(info.value)
    assert isinstance(info.value, TrainingFailedError)
    assert message.startswith("training diverged: the loss stayed above 3x its start")
    assert "training stopped. No checkpoint was written" in message and "--lr" in message


# --- sparse and subset evaluation ------------------------------------------------------------------


def test_eval_every_and_limit_test_make_short_runs_short(tiny_cifar, tmp_path):
    result = _train(tiny_cifar, tmp_path / "run", epochs=3, eval_every=2, limit_test=100)
    evaluated = [row["epoch"] for row in result.history if row["test_acc"] is not None]
    assert evaluated == [2, 3]  # every second epoch, and always the last
    assert result.config["dataset"]["test"] == 100
    assert result.history[0]["test_loss"] is None and result.final["test_acc"] is not None


def test_evaluation_shows_its_progress_batch_by_batch():
    import io

    from rich.console import Console

    from zoo.data import DeviceLoader
    from zoo.data.array_dataset import ArrayDataset
    from zoo.train.distributed import DistContext
    from zoo.train.loop import evaluate
    from zoo.train.report import EpochProgress
    from zoo.train.runtime import Precision

    images = torch.randint(0, 256, (10, 3, 32, 32), dtype=torch.uint8)
    data = ArrayDataset(images, torch.arange(10) % 10, "t", tuple("0123456789"), (0.5,) * 3, (0.2,) * 3)
    screen = io.StringIO()
    progress = EpochProgress(True)
    progress._console, progress.enabled = Console(file=screen, force_terminal=True, width=100), True
    progress.lines = False  # a bar, as on a terminal
    seen = []
    update = progress.update
    progress.update = lambda done, *a: (seen.append(done), update(done, *a))
    progress.start_eval(3, 5, 4, "test")
    model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(3072, 10))
    loss, acc = evaluate(
        model, DeviceLoader(data, 3, train=False), torch.nn.CrossEntropyLoss(), Precision("cpu", None),
        tta="none", ctx=DistContext(), progress=progress,
    )  # fmt: skip
    progress.stop()
    assert seen == [1, 2, 3, 4] and 0 <= acc <= 1  # 10 images in batches of 3
    assert "epoch 3/5 evaluating on test" in screen.getvalue()


def test_progress_in_a_log_is_a_line_at_each_tenth_of_the_epoch_at_most_one_a_minute():
    from zoo.train.report import EpochProgress

    now = [0.0]
    progress = EpochProgress(True, clock=lambda: now[0])
    progress.lines = True  # as when stderr is a log file
    with ZooLogLines() as lines:
        progress.start(2, 8, 100)  # 10 s a batch: a tenth is 100 s, over the minute
        for done in range(1, 101):
            now[0] += 10.0
            if progress.due(done):
                progress.update(done, loss=1.5, acc=0.25, images_per_s=12.8)
        progress.stop()
    assert len(lines) == 9  # batches 10, 20, ..., 90; none after the last: the epoch's line follows
    first = "epoch 2/8: batch 10/100 (10%), loss 1.5000, acc 25.00%, 13 img/s, ~15m left in the epoch"
    assert lines[0] == first  # 9 batches in 90 s since the first: 10 s each, 90 to go
    assert lines[-1].startswith("epoch 2/8: batch 90/100 (90%)") and lines[-1].endswith(
        "~2m left in the epoch"
    )

    with ZooLogLines() as lines:
        progress.start_eval(2, 8, 100, "test")  # 1 s a batch: a tenth is 10 s, so one line a minute
        for done in range(1, 101):
            now[0] += 1.0
            progress.update(done)
        progress.stop()
    assert lines == ["epoch 2/8 evaluating on test: batch 60/100 (60%), ~1m left in the pass"]
    assert not progress.due(50)  # stopped: nothing more


def test_a_run_logged_to_a_file_shows_its_progress_inside_each_epoch(tiny_cifar, tmp_path, monkeypatch):
    from rich.console import Console

    from zoo.train.report import EpochProgress

    monkeypatch.setattr(Console, "is_terminal", property(lambda self: False))
    monkeypatch.setattr(EpochProgress, "LINE_EVERY_S", 0.0)
    with ZooLogLines() as lines:
        _train(tiny_cifar, tmp_path / "run", limit_test=64)  # 4 batches of 32
    steps = [line for line in lines if line.startswith("epoch 1/1: batch")]
    assert [line.split()[3] for line in steps] == ["1/4", "2/4", "3/4"], lines
    assert all("img/s, ~" in line and "left in the epoch" in line for line in steps[1:]), steps


@pytest.mark.slow
def test_the_new_users_four_step_fast_run_trains(shared_data, tmp_path):
    # Issue 9's crash: `zoo train fast_resnet9 --epochs 1 --limit-train 2048` (4 steps of 512).
    from zoo.train import train

    result = train(
        "fast_resnet9", out=tmp_path / "run", data_dir=shared_data / "cifar10-jpeg", epochs=1,
        limit_train=2048, limit_test=200, seed=0,
    )  # fmt: skip
    assert result.config["steps_per_epoch"] == 4 and result.config["config"]["recipe"]["name"] == "fast"
    # Page's schedule squeezed into 4 steps reaches its peak lr (1.0, BatchNorm at 64x) at the second
    # step: a finite loss within about twice chance (ln 10 = 2.3) is what such a run can show.
    assert math.isfinite(result.final["train_loss"]) and result.final["train_loss"] < 5
    assert 0 <= result.final["test_acc"] <= 1
