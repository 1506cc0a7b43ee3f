"""Checkpoints survive kills: resume after SIGKILL replays the uninterrupted run bit for bit; a
non-finite loss stops the run naming its step and leaves the last good checkpoint alone."""

from __future__ import annotations

import json
import os
import signal
import struct
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from helpers import error_lines
from safetensors.torch import load_file

# Small enough for 2 shared cores, with several steps per epoch: 8 steps of 16 images.
RUN = dict(epochs=3, limit_train=128, batch_size=16, optimizer="adam", lr=1e-3, cutout=4)
STEPS_PER_EPOCH = 128 // 16

# The child trains in its own process and parks inside the forward pass of a chosen training step
# (after writing a marker file), so the parent can SIGKILL it at a known point mid-epoch.
CHILD = """
import json, sys, time
import zoo.train.init_from as init_from  # where training builds its model
from zoo.train import train

marker, park_at, out, data_dir = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
run = json.loads(sys.argv[5])
park_s = float(sys.argv[6]) if len(sys.argv) > 6 else 600.0
real_create = init_from.create

def create(*args, **kwargs):
    model = real_create(*args, **kwargs)
    calls = [0]

    def park(module, inputs):
        if module.training:
            calls[0] += 1
            if calls[0] == park_at:
                open(marker, "w").close()
                time.sleep(park_s)

    model.register_forward_pre_hook(park)
    return model

init_from.create = create
train("lenet5", out=out, data_dir=data_dir, **run)
"""


def _checkpoint_state(out: Path) -> dict:
    return json.loads((out / "checkpoint" / "training_state.json").read_text())


def _checkpoint_epoch(out: Path) -> int:
    return _checkpoint_state(out)["epoch"]


def _without_timing(rows: list[dict]) -> list[dict]:
    return [{k: v for k, v in row.items() if k not in ("img_per_s", "seconds")} for row in rows]


def _sigkill_at(park_at: int, out: Path, data_dir: Path, run: dict, marker: Path) -> None:
    """Train in a child process, SIGKILL it inside the forward pass of training step `park_at`."""
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, str(marker), str(park_at), str(out), str(data_dir), json.dumps(run)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        while not marker.exists():  # the child parks itself at the marker; it never exits on its own there
            assert child.poll() is None, child.stderr.read().decode()
            time.sleep(0.05)
        os.kill(child.pid, signal.SIGKILL)
    finally:
        child.kill()
        child.wait()
    assert child.returncode == -signal.SIGKILL


def _sigterm_at(park_at: int, out: Path, data_dir: Path, run: dict, marker: Path) -> str:
    """Train in a child process, SIGTERM it while it pauses (1 s) in training step `park_at`; its stderr."""
    child = subprocess.Popen(
        [
            sys.executable,
            "-c",
            CHILD,
            str(marker),
            str(park_at),
            str(out),
            str(data_dir),
            json.dumps(run),
            "1",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        while not marker.exists():
            assert child.poll() is None, child.stderr.read()
            time.sleep(0.01)
        os.kill(child.pid, signal.SIGTERM)
        _, err = child.communicate(timeout=120)  # a hang guard
    finally:
        child.kill()
        child.wait()
    assert child.returncode == 1, err  # TrainingInterrupted, raised out of train()
    return err


def _safetensors_parts(path: Path) -> tuple[dict, bytes]:
    """(header, tensor bytes) of a safetensors file: its header's key order varies from process to
    process (a Rust HashMap), the bytes after it do not."""
    data = path.read_bytes()
    size = struct.unpack("<Q", data[:8])[0]
    return json.loads(data[8 : 8 + size]), data[8 + size :]


def _assert_same_final_files(got: Path, want: Path) -> None:
    for name in ("model.safetensors", "training_state.safetensors"):
        a, b = _safetensors_parts(got / "checkpoint" / name), _safetensors_parts(want / "checkpoint" / name)
        assert a[0] == b[0], f"{name}: the header (metadata, tensor names, shapes) differs after resume"
        if a[1] != b[1]:
            tensors, reference = load_file(got / "checkpoint" / name), load_file(want / "checkpoint" / name)
            differ = [key for key in reference if not torch.equal(tensors[key], reference[key])]
            raise AssertionError(f"{name}: tensors {differ} differ after resume")


def test_resume_after_sigkill_matches_uninterrupted_run(tiny_cifar, tmp_path):
    from zoo.train import train

    killed = tmp_path / "killed"
    park_at = STEPS_PER_EPOCH + STEPS_PER_EPOCH // 2  # epoch 2, batch 4
    _sigkill_at(park_at, killed, tiny_cifar, RUN, tmp_path / "parked")
    assert _checkpoint_epoch(killed) == 1  # epoch 1 is saved, epoch 2 was running

    resumed = train("lenet5", out=killed, data_dir=tiny_cifar, resume=True)
    reference = train("lenet5", out=tmp_path / "reference", data_dir=tiny_cifar, **RUN)

    assert resumed.epochs_run == 2 and reference.epochs_run == 3
    assert _without_timing(resumed.history) == _without_timing(reference.history)
    assert len((killed / "metrics.jsonl").read_text().splitlines()) == 3
    _assert_same_final_files(killed, tmp_path / "reference")


def test_resume_mid_epoch_after_sigkill_matches_uninterrupted_run(tiny_cifar, tmp_path, caplog):
    import logging

    from zoo.train import train

    killed = tmp_path / "killed"
    # A checkpoint every 3 steps: after steps 3, 6, 9, 12, 15, ... (and each epoch's end, step 8, 16).
    # Parked inside step 14: the last checkpoint is step 12, batch 4 of epoch 2.
    _sigkill_at(14, killed, tiny_cifar, {**RUN, "checkpoint_every": 3}, tmp_path / "parked")
    state = _checkpoint_state(killed)
    assert (state["epoch"], state["global_step"]) == (1, 12)
    partial = state["partial_epoch"]
    assert (partial["epoch"], partial["batches_done"], partial["batches"]) == (2, 4, STEPS_PER_EPOCH)
    assert len((killed / "metrics.jsonl").read_text().splitlines()) == 1

    with caplog.at_level(logging.INFO, logger="zoo"):  # a runtime setting: the resumed run may change it
        resumed = train("lenet5", out=killed, data_dir=tiny_cifar, resume=True, checkpoint_every="1h")
    banner = next(r.getMessage() for r in caplog.records if r.getMessage().startswith("training lenet5"))
    assert "a checkpoint every 3600s, resuming at epoch 2, step 13 (batch 5 of 8)" in banner
    reference = train("lenet5", out=tmp_path / "reference", data_dir=tiny_cifar, **RUN)

    assert resumed.epochs_run == 2
    assert _without_timing(resumed.history) == _without_timing(reference.history)
    assert len((killed / "metrics.jsonl").read_text().splitlines()) == 3
    _assert_same_final_files(killed, tmp_path / "reference")
    assert _checkpoint_state(killed)["loss_curve"] == _checkpoint_state(tmp_path / "reference")["loss_curve"]
    assert json.loads((killed / "config.json").read_text())["config"]["checkpoint_every"] == "3600s"


def test_sigterm_checkpoints_at_the_next_step_and_the_resumed_run_matches_an_uninterrupted_one(
    tiny_cifar, tmp_path
):
    from zoo.train import train

    stopped = tmp_path / "stopped"
    run = {**RUN, "checkpoint_every": "1h"}  # never due by time: the checkpoint is SIGTERM's
    err = _sigterm_at(14, stopped, tiny_cifar, run, tmp_path / "parked")  # in epoch 2, batch 6 of 8
    state = _checkpoint_state(stopped)
    assert (state["epoch"], state["global_step"]) == (1, 14)  # the step it was in, finished and saved
    assert state["partial_epoch"]["batches_done"] == 6
    assert "TrainingInterrupted: interrupted: " in err and "continues at epoch 2, step 15" in err

    resumed = train("lenet5", out=stopped, data_dir=tiny_cifar, resume=True)
    reference = train("lenet5", out=tmp_path / "reference", data_dir=tiny_cifar, **run)
    assert _without_timing(resumed.history) == _without_timing(reference.history)
    _assert_same_final_files(stopped, tmp_path / "reference")


def test_sigterm_without_mid_epoch_checkpoints_stops_at_once_keeping_the_last_epoch(tiny_cifar, tmp_path):
    stopped = tmp_path / "stopped"
    err = _sigterm_at(14, stopped, tiny_cifar, RUN, tmp_path / "parked")
    assert _checkpoint_epoch(stopped) == 1 and _checkpoint_state(stopped).get("partial_epoch") is None
    assert "TrainingInterrupted: interrupted: " in err and "continues at epoch 2" in err


@pytest.mark.parametrize(
    "value, expected",
    [
        (500, (500, None)),
        ("500", (500, None)),
        ("90s", (None, 90.0)),
        ("10m", (None, 600.0)),
        ("1.5h", (None, 5400.0)),
    ],
)
def test_checkpoint_intervals_parse(value, expected):
    from zoo.train.options import CheckpointEvery

    every = CheckpointEvery.parse(value)
    assert (every.steps, every.seconds) == expected
    assert CheckpointEvery.parse(str(every)) == every  # config.json's spelling reads back


@pytest.mark.parametrize("value", ["0", "1.5", "10 minutes", "-3", "m", ""])
def test_bad_checkpoint_intervals_say_how_to_write_one(value, tmp_path, cli):
    code, _, err = cli("train", "lenet5", "--checkpoint-every", value, "--out", tmp_path / "run")
    assert code == 2
    [line] = error_lines(err)
    assert line.startswith(f"zoo: error: checkpoint interval {value!r} ")
    assert "(500) or a duration with its unit (90s, 10m, 1.5h)" in line or "under 100 days" in line
    assert not (tmp_path / "run").exists()


def test_non_finite_loss_names_the_step_and_keeps_the_last_checkpoint(tiny_cifar, tmp_path, cli, monkeypatch):
    import zoo.train.init_from as init_from  # where training builds its model
    from zoo.checkpoint import load_model

    real_create = init_from.create
    poison_at = STEPS_PER_EPOCH + 3  # epoch 2, batch 3

    def create(*args, **kwargs):
        model = real_create(*args, **kwargs)
        calls = [0]

        def poison(module, inputs, output):
            if module.training:
                calls[0] += 1
                if calls[0] == poison_at:
                    return output * float("inf")
            return None

        model.register_forward_hook(poison)
        return model

    monkeypatch.setattr(init_from, "create", create)
    out = tmp_path / "nan"
    code, _, err = cli(
        *[
            "train",
            "lenet5",
            "--epochs",
            "3",
            "--limit-train",
            "128",
            "--batch-size",
            "16",
            "--data-dir",
            tiny_cifar,
            "--out",
            out,
        ]
    )
    assert code == 1
    [line] = error_lines(err)
    assert f"epoch 2, batch 3 of {STEPS_PER_EPOCH} (global step {STEPS_PER_EPOCH + 3})" in line
    assert "holds epoch 1" in line and "Traceback" not in err

    assert _checkpoint_epoch(out) == 1
    model, metadata = load_model(out)
    assert metadata["zoo.epoch"] == "1"
    assert all(torch.isfinite(t).all() for t in model.state_dict().values() if t.is_floating_point())
    assert len((out / "metrics.jsonl").read_text().splitlines()) == 1
    assert not list(out.glob("checkpoint.*"))


def test_resume_refuses_changed_hyper_parameters_and_missing_runs(tiny_cifar, tmp_path, cli):
    out = tmp_path / "run"
    out.mkdir()
    code, _, err = cli(*["train", "lenet5", "--resume", "--out", out])
    assert code == 2 and "nothing to resume" in error_lines(err)[0]

    from zoo.train import train

    train("lenet5", out=out, data_dir=tiny_cifar, epochs=1, limit_train=32, batch_size=16)
    code, _, err = cli(*["train", "lenet5", "--resume", "--out", out, "--lr", "0.5"])
    assert code == 2
    [line] = error_lines(err)
    assert "lr (saved 0.1, given 0.5)" in line


def _fake_checkpoint(directory: Path, epoch: int, complete: bool = True) -> None:
    directory.mkdir(parents=True)
    (directory / "model.safetensors").write_text(f"weights {epoch}")
    if complete:
        (directory / "training_state.json").write_text(json.dumps({"epoch": epoch}))


@pytest.mark.parametrize(
    "layout, expected_epoch",
    [
        # killed while writing the new directory: the old checkpoint stays
        ({"checkpoint": (1, True), "checkpoint.new": (2, False)}, 1),
        # killed after the new one was complete, before or between the renames: the new one wins
        ({"checkpoint": (1, True), "checkpoint.new": (2, True)}, 2),
        ({"checkpoint.old": (1, True), "checkpoint.new": (2, True)}, 2),
        # killed after the switch, before the old one was removed
        ({"checkpoint": (2, True), "checkpoint.old": (1, True)}, 2),
    ],
)
def test_recover_keeps_the_newest_complete_checkpoint(tmp_path, layout, expected_epoch):
    from zoo.checkpoint import recover

    for name, (epoch, complete) in layout.items():
        _fake_checkpoint(tmp_path / name, epoch, complete)
    recover(tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["checkpoint"]
    assert _checkpoint_epoch(tmp_path) == expected_epoch


# Issue 18: the weight average (Page's EMA; airbench's Lookahead, started in epoch 2 here) and the
# BatchNorm parameter group, on a BatchNorm network with a whitening stem, survive a mid-epoch resume.
EMA_RUNS = {
    "fast": dict(recipe="fast"),
    "airbench94": dict(recipe="airbench94", ema_start=1),
}


# airbench94's run (Lookahead on top of the average) in the quick lane; fast's plain EMA, the same
# machinery, in the slow lane (~18 s on 2 cores; the quick lane must stay under 5 minutes).
@pytest.mark.parametrize("name", [pytest.param("fast", marks=pytest.mark.slow), pytest.param("airbench94")])
def test_resume_mid_epoch_replays_the_weight_average_exactly(name, tiny_cifar, tmp_path, monkeypatch):
    from helpers import interrupt_training_at

    from zoo.train import train
    from zoo.train.rundir import TrainingInterrupted

    run = dict(epochs=3, limit_train=128, limit_test=64, batch_size=16, checkpoint_every=3, **EMA_RUNS[name])
    killed = tmp_path / "killed"
    interrupt_training_at(monkeypatch, step=14)  # epoch 2, batch 6: the checkpoint holds step 12
    with pytest.raises(TrainingInterrupted):
        train("airbench94", out=killed, data_dir=tiny_cifar, **run)
    monkeypatch.undo()
    state = _checkpoint_state(killed)
    assert (state["global_step"], state["weight_average"]) == (12, {"started": True})
    tensors = load_file(killed / "checkpoint" / "training_state.safetensors")
    assert any(key.startswith("ema.live.") for key in tensors)

    resumed = train("airbench94", out=killed, data_dir=tiny_cifar, resume=True)
    reference = train("airbench94", out=tmp_path / "reference", data_dir=tiny_cifar, **run)
    assert _without_timing(resumed.history) == _without_timing(reference.history)
    _assert_same_final_files(killed, tmp_path / "reference")
    saved = load_file(killed / "checkpoint" / "model.safetensors")
    state = load_file(killed / "checkpoint" / "training_state.safetensors")
    live = {k[len("ema.live.") :]: v for k, v in state.items() if k.startswith("ema.live.")}
    differ = {k for k in saved if saved[k].is_floating_point() and not torch.equal(saved[k], live[k])}
    if name == "airbench94":  # Lookahead: the epoch ended copying the average back into the weights
        assert not differ
    else:  # Page: the model file holds the average, not the trained weights; the frozen ones agree
        assert {"fc.weight", "layer1.2.bias", "layer1.2.running_mean"} <= differ
        assert "whiten.weight" not in differ and "layer1.2.weight" not in differ
