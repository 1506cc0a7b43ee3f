"""Hostile and careless input to `zoo eval`, `zoo push`, `zoo bench` and training options:
malformed model files, output paths that cannot be written, non-finite numbers, an empty
--data-dir, Ctrl-C. Each case asserts the exit code and the one `zoo: error:` line, and that the
work was not started when its output could not be kept.

Issue 11 items 5, 12, 13, 14, 15, 18 (any command), 20 (eval).
"""

from __future__ import annotations

import struct
from pathlib import Path

import pytest
from helpers import one_error

torch = pytest.importorskip("torch")

import zoo  # noqa: E402
from zoo.checkpoint import save_model  # noqa: E402


@pytest.fixture
def checkpoint(tmp_path) -> Path:
    """A plain lenet5 model file (no run record beside it)."""
    torch.manual_seed(0)
    return save_model(zoo.create("lenet5"), tmp_path / "model", name="lenet5")


def _never(what: str):
    def called(*args, **kwargs):
        raise AssertionError(f"{what} ran, though its output could not be written")

    return called


# 5. --checkpoint that is not safetensors, or has a huge or truncated header: eval and push.
MALFORMED = {
    "text": lambda good: b"this is not a safetensors file at all",
    "huge header": lambda good: struct.pack("<Q", 2**40) + b"{}",
    "truncated": lambda good: good[:-100],
}


@pytest.mark.parametrize("kind", list(MALFORMED))
def test_a_malformed_checkpoint_is_one_line_for_eval_and_push(checkpoint, tmp_path, cli, zoo_manifest, kind):
    bad = tmp_path / "bad.safetensors"
    bad.write_bytes(MALFORMED[kind](checkpoint.read_bytes()))
    manifest = zoo_manifest.read_bytes()
    start = f"zoo: error: {bad} is not a readable safetensors file ("
    end = "): it is truncated, corrupted or of another format; give a model file that `zoo train` (or "
    end += "zoo.checkpoint.save_model) wrote"

    code, _, err = cli("eval", "lenet5", "--checkpoint", bad, "--data-dir", tmp_path / "no-data")
    line = one_error(err)
    assert code == 2 and line.startswith(start) and line.endswith(end + " (see `zoo eval --help`)")

    release = tmp_path / "release"
    code, _, err = cli("push", "lenet5", "--checkpoint", bad, "--repo-id", "org/lenet5", "--export", release)
    line = one_error(err)
    # the same bad input, the same exit code as for eval
    assert code == 2 and line.startswith(start) and line.endswith(end + " (see `zoo push --help`)")
    assert not release.exists() and zoo_manifest.read_bytes() == manifest


# 12, 15. Every float option must be finite (inf passed the range checks; --val-size inf crashed).
@pytest.mark.parametrize(
    "option", ["--lr", "--weight-decay", "--val-size", "--momentum", "--label-smoothing"]
)
def test_train_refuses_non_finite_numbers(tmp_path, cli, option):
    for value in ("inf", "-inf", "nan"):
        code, _, err = cli("train", "lenet5", option, value, "--out", tmp_path / "run")
        assert code == 2
        assert one_error(err) == (
            f"zoo: error: {option} {value} is not a finite number: give one (see `zoo train --help`)"
        )
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize("name", ["lr", "weight_decay", "val_size", "label_smoothing"])
def test_the_training_api_refuses_non_finite_numbers(tmp_path, name):
    from zoo.train import TrainConfigError, train

    with pytest.raises(
        TrainConfigError, match=rf"^{name} = inf is not a finite number: give a finite value$"
    ):
        train("lenet5", out=tmp_path / "run", **{name: float("inf")})
    assert not (tmp_path / "run").exists()


def test_bench_refuses_a_non_finite_min_time(cli, monkeypatch):
    monkeypatch.setattr("zoo.bench.benchmark", _never("the benchmark"))
    code, _, err = cli("bench", "lenet5", "--min-time", "inf")
    assert code == 2 and one_error(err) == (
        "zoo: error: --min-time inf is not a finite number: give one (see `zoo bench --help`)"
    )


# 13. --confusion under a file: refused before the evaluation, not after it.
def test_eval_checks_the_confusion_path_before_evaluating(checkpoint, tmp_path, cli, monkeypatch):
    monkeypatch.setattr("zoo.evaluate.evaluate_model", _never("the evaluation"))
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    target = blocker / "confusion.png"
    code, _, err = cli("eval", "lenet5", "--checkpoint", checkpoint, "--confusion", target)
    assert code == 2
    assert one_error(err) == (
        f"zoo: error: --confusion {target} cannot be created: {blocker} is a file, not a folder; "
        "give another path"
    )
    assert blocker.read_text() == "not a folder"


# 14. `zoo bench --out-dir` that is a file: refused before benchmarking.
def test_bench_checks_the_csv_folder_before_benchmarking(tmp_path, cli, monkeypatch):
    monkeypatch.setattr("zoo.bench.benchmark", _never("the benchmark"))
    blocker = tmp_path / "results"
    blocker.write_text("not a folder")
    code, _, err = cli("bench", "lenet5", "--out-dir", blocker)
    assert code == 2
    assert (
        one_error(err)
        == f"zoo: error: --out-dir {blocker} is a file, not a folder: give a folder to write into"
    )
    assert blocker.read_text() == "not a folder"


# 18, for any command: Ctrl-C is one line and exit code 130, not silence.
def test_ctrl_c_in_any_command_says_interrupted(checkpoint, cli, monkeypatch):
    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr("zoo.evaluate.evaluate_model", interrupted)
    code, _, err = cli("eval", "lenet5", "--checkpoint", checkpoint)
    assert code == 130 and one_error(err) == "zoo: error: interrupted"


# 20, for eval: an explicit empty --data-dir is named, and not downloaded into without --download.
def test_eval_names_an_empty_data_dir_and_does_not_download(checkpoint, tmp_path, cli, monkeypatch):
    from zoo.data import _cifar

    monkeypatch.setattr(_cifar, "_download", _never("a download"))
    empty = tmp_path / "empty"
    empty.mkdir()
    code, _, err = cli("eval", "lenet5", "--checkpoint", checkpoint, "--data-dir", empty)
    assert code == 2
    line = one_error(err)
    assert line.startswith(f"zoo: error: no CIFAR-10 data in {empty}: expected {empty}/cifar-10-batches-py/")
    assert "pass --download" in line and not any(empty.iterdir())
