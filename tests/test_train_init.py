"""`zoo train MODEL --init-from PATH`: a run that starts from a zoo model file (what `zoo grow` or
`zoo.checkpoint.save_model` writes) instead of a fresh initialisation or published weights."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from helpers import interrupt_training_at, one_error

RUN = dict(epochs=2, limit_train=32, batch_size=16)  # 2 steps an epoch
GROWN_FROM = "lenet5.cifar10-jpeg"  # what a grown file records as zoo.grown_from


def _model_file(tmp_path: Path, name: str = "lenet5", **extra) -> tuple[Path, dict[str, torch.Tensor]]:
    import zoo
    from zoo.checkpoint import save_model

    torch.manual_seed(123)  # weights no fresh lenet5 of the run's seed has
    model = zoo.create(name)
    folder = save_model(model, tmp_path / "grown", name=name, extra=extra).parent
    return folder, {k: v.clone() for k, v in model.state_dict().items()}


def test_a_run_starts_from_a_model_file_and_keeps_its_grown_from(tiny_cifar, tmp_path, monkeypatch):
    from zoo.checkpoint import read_metadata
    from zoo.train import train
    from zoo.train.rundir import TrainingInterrupted

    folder, weights = _model_file(tmp_path, grown_from=GROWN_FROM)
    first = {}

    def on_step(step) -> None:  # step 0 runs on the initial weights
        if step.step == 0:
            first.update({k: v.detach().clone() for k, v in step.net.state_dict().items()})

    out = tmp_path / "run"
    interrupt_training_at(monkeypatch, step=3)  # in epoch 2: epoch 1 is checkpointed
    with pytest.raises(TrainingInterrupted):
        train("lenet5", out=out, data_dir=tiny_cifar, init_from=str(folder), on_step=on_step, **RUN)
    monkeypatch.undo()
    assert first.keys() == weights.keys() and all(torch.equal(first[k], weights[k]) for k in weights)
    record = json.loads((out / "config.json").read_text())
    assert record["config"]["init_from"] == str((folder / "model.safetensors").resolve())
    assert record["grown_from"] == GROWN_FROM
    assert read_metadata(out / "checkpoint")["zoo.grown_from"] == GROWN_FROM

    (folder / "model.safetensors").unlink()  # a resume starts from the checkpoint, not the file
    result = train("lenet5", out=out, data_dir=tiny_cifar, resume=True)
    assert result.final["epoch"] == 2
    assert read_metadata(result.model_path)["zoo.grown_from"] == GROWN_FROM


def test_a_model_file_of_another_model_is_refused_naming_both(tmp_path, cli):
    folder, _ = _model_file(tmp_path, name="mlp5")
    file = folder / "model.safetensors"
    code, _, err = cli("train", "lenet5", "--init-from", file, "--out", tmp_path / "run")
    assert code == 2
    assert one_error(err) == (
        f"zoo: error: --init-from {file}: {file} holds a 'mlp5' model, not 'lenet5'; give a lenet5 model "
        "file, or lenet5[.TAG] for published weights (see `zoo train --help`)"
    )
    assert not (tmp_path / "run").exists()


def test_a_model_files_options_are_the_runs_unless_they_clash(tmp_path):
    import zoo
    from zoo.checkpoint import save_model
    from zoo.train import TrainConfigError, TrainOptions
    from zoo.train.config import resolve_config

    file = save_model(zoo.create("mlp5", act="gelu"), tmp_path / "m", name="mlp5", options={"act": "gelu"})
    config = resolve_config("mlp5", None, TrainOptions(init_from=file))
    assert config.model_options() == {"act": "gelu"} and config.init_from == str(file.resolve())
    with pytest.raises(TrainConfigError, match=r"act \(the file's 'gelu', this run's 'tanh'\)"):
        resolve_config("mlp5", None, TrainOptions(init_from=file, act="tanh"))
    with pytest.raises(TrainConfigError, match=rf"--init-from {tmp_path}/none: no model file at"):
        resolve_config("mlp5", None, TrainOptions(init_from=tmp_path / "none"))
