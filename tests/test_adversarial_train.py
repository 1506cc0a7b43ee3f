"""Hostile and careless use of `zoo train` and of its run directories: corrupted and malformed
checkpoints, concurrent runs, an unwritable --out, a full disk (the other workflows' writers on a full
disk: test_adversarial_disk.py), Ctrl-C, an empty --data-dir.
Each case asserts what the user sees (exit code, one `zoo: error:` line naming the file) and that
nothing was overwritten.

Issue 11 items 3, 4, 6, 7, 10, 11, 18, 20.
"""

from __future__ import annotations

import errno
import json
import os
import shutil
import socket
import struct
import subprocess
import sys
from pathlib import Path

import pytest
from full_disk import fill, small_disk_fixture  # noqa: F401 (a fixture)
from helpers import flip_byte, interrupt_training_at, one_error, snapshot

pytest.importorskip("torch")

RUN = dict(epochs=1, limit_train=32, batch_size=16, val_size=16)  # one step; best/ too
TINY = ["--limit-train", "32", "--batch-size", "16"]
HELP = " (see `zoo train --help`)"  # what `zoo train` adds to a usage error (exit code 2)


@pytest.fixture(scope="module")
def trained(tiny_cifar, tmp_path_factory) -> Path:
    from zoo.train import train

    out = tmp_path_factory.mktemp("trained") / "run"
    train("lenet5", out=out, data_dir=tiny_cifar, **RUN)
    return out


@pytest.fixture
def run(trained, tmp_path) -> Path:
    """A private copy of a finished one-epoch lenet5 run (checkpoint/ and best/)."""
    return Path(shutil.copytree(trained, tmp_path / "run"))


@pytest.fixture
def no_data(monkeypatch):
    """Fail the test if anything loads a data set."""
    import zoo.data

    def load_dataset(*args, **kwargs):
        raise AssertionError("a data set was loaded")

    monkeypatch.setattr(zoo.data, "load_dataset", load_dataset)


def _set_record(run: Path, name: str, data: bytes) -> Path:
    """Replace checkpoint/<name> by `data`, with a record that vouches for it (a file born bad)."""
    from zoo._files import sha256_of

    path = run / "checkpoint" / name
    path.write_bytes(data)
    record = run / "checkpoint" / "training_state.json"
    state = json.loads(record.read_text())
    state["files"][name] = {"sha256": sha256_of(path), "size": len(data)}
    record.write_text(json.dumps(state))
    return path


# 3. Corrupted tensor bytes: resume and eval refuse, naming the file; nothing is overwritten.
@pytest.mark.parametrize("name", ["model.safetensors", "training_state.safetensors"])
def test_a_corrupted_checkpoint_is_neither_resumed_nor_overwritten(run, cli, name):
    corrupted = run / "checkpoint" / name
    flip_byte(corrupted)
    before = snapshot(run)

    code, _, err = cli("train", "lenet5", "--out", run, "--resume")

    assert code == 2
    assert one_error(err) == (
        f"zoo: error: {corrupted} is corrupted: its sha256 differs from what {run}/checkpoint/"
        "training_state.json recorded when zoo wrote it; refusing to use it (nothing was loaded or "
        f"overwritten): restore it from a copy, or train again{HELP}"
    )
    assert snapshot(run) == before


@pytest.mark.parametrize("folder", ["checkpoint", "best"])
def test_eval_refuses_a_corrupted_model_file(run, cli, tiny_cifar, folder):
    model = run / folder / "model.safetensors"
    flip_byte(model)
    code, _, err = cli("eval", "lenet5", "--checkpoint", run / folder, "--data-dir", tiny_cifar)
    assert code == 2
    line = one_error(err)
    assert line.startswith(f"zoo: error: {model} is corrupted: its sha256 differs from what {run / folder}/")


# 6. A model file that is not safetensors (huge or truncated header), vouched for by its record.
MALFORMED = {
    "text": b"this is not a safetensors file at all",
    "huge header": struct.pack("<Q", 2**40) + b"{}",
    "truncated": None,  # the real file, cut short
}


@pytest.mark.parametrize("name", ["model.safetensors", "training_state.safetensors"])
@pytest.mark.parametrize("kind", list(MALFORMED))
def test_resume_of_a_malformed_checkpoint_file_is_one_line(run, cli, kind, name):
    path = run / "checkpoint" / name
    _set_record(run, name, MALFORMED[kind] or path.read_bytes()[:-100])
    before = snapshot(run)
    code, _, err = cli("train", "lenet5", "--out", run, "--resume")
    assert code == 2
    line = one_error(err)
    assert line.startswith(f"zoo: error: {path} is not a readable safetensors file (")
    assert snapshot(run) == before


# 7. A state JSON (or run config) that is not UTF-8.
@pytest.mark.parametrize("name", ["checkpoint/training_state.json", "config.json"])
def test_resume_with_a_non_utf8_json_is_one_line(run, cli, name):
    path = run / name
    path.write_bytes(b"\xff\xfe" + path.read_bytes())
    before = snapshot(run)
    code, _, err = cli("train", "lenet5", "--out", run, "--resume")
    assert code == 2
    assert one_error(err).startswith(
        f"zoo: error: {path} is unreadable (not UTF-8 text (byte 0xff at offset 0))"
    )
    assert snapshot(run) == before


# 4. Two runs on one --out: the second is refused; a lock left by a dead run is taken over.
def test_a_second_run_on_a_busy_out_is_refused(tmp_path, cli, no_data):
    out = tmp_path / "run"
    out.mkdir()
    (out / "notes.txt").write_text("the first run's files")
    holder = subprocess.Popen(  # another process holding the run directory the way `zoo train` does
        [sys.executable, "-c", LOCK_HOLDER, str(out / ".zoo-train.lock")], stdout=subprocess.PIPE, text=True
    )
    try:
        assert holder.stdout.readline().strip() == "held"
        before = snapshot(out)
        for args in ([], ["--resume"]):
            code, _, err = cli("train", "lenet5", "--epochs", "1", "--out", out, *args)
            assert code == 2
            assert one_error(err) == (
                f"zoo: error: --out {out} is in use by another `zoo train` (pid {holder.pid} on "
                f"{socket.gethostname()}): wait for it to finish, or choose another --out{HELP}"
            )
            assert snapshot(out) == before
    finally:
        holder.kill()
        holder.wait()


LOCK_HOLDER = """
import fcntl, json, os, socket, sys, time
fd = os.open(sys.argv[1], os.O_RDWR | os.O_CREAT, 0o644)
fcntl.flock(fd, fcntl.LOCK_EX)
os.write(fd, json.dumps({"pid": os.getpid(), "host": socket.gethostname()}).encode())
print("held", flush=True)
time.sleep(600)
"""


def test_two_zoo_trains_exclude_each_other(tmp_path, cli, no_data):
    from zoo.train.rundir import claim_run_dir

    out = tmp_path / "run"
    with claim_run_dir(out):  # what the first `zoo train` holds while it runs
        code, _, err = cli("train", "lenet5", "--epochs", "1", "--out", out)
        assert code == 2 and f"in use by another `zoo train` (pid {os.getpid()} on" in one_error(err)
    assert not out.exists()  # the claim created the folder and nothing was written: it is gone


def test_a_stale_lock_is_taken_over_and_released(tmp_path):
    from zoo.train.rundir import LOCK_FILE, claim_run_dir

    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True)
    out = tmp_path / "run"
    out.mkdir()
    lock = out / LOCK_FILE
    lock.write_text(json.dumps({"pid": int(dead.stdout), "host": socket.gethostname()}))
    with claim_run_dir(out):
        assert json.loads(lock.read_text())["pid"] == os.getpid()
    assert not lock.exists() and out.is_dir()


# 10. An --out that cannot be written: refused before any data set is loaded.
def test_an_unwritable_out_is_refused_before_loading_data(tmp_path, cli, no_data):
    if os.geteuid() == 0:  # root writes anywhere but in sysfs
        out = Path("/sys/zoo-adversarial-test-run")
    else:
        parent = tmp_path / "read-only"
        parent.mkdir(mode=0o555)
        out = parent / "run"
    code, _, err = cli("train", "lenet5", "--epochs", "1", "--out", out)
    assert code == 2
    line = one_error(err)
    assert line.startswith(f"zoo: error: --out {out} is not writable (") and line.endswith(
        "choose another --out" + HELP
    )
    assert not out.exists()


# 11. A full disk while checkpointing: the previous checkpoint survives, and the message says so. (An
# injected ENOSPC, so it runs everywhere; the cases below fill a real disk, where a tmpfs can be mounted.)
def test_a_full_disk_keeps_the_previous_checkpoint(tiny_cifar, tmp_path, cli, monkeypatch):
    import zoo.checkpoint
    from zoo.checkpoint import load_checkpoint, load_model

    real, calls = zoo.checkpoint.save_file, []

    def save_file(tensors, path, *args, **kwargs):
        calls.append("training_state" in str(path))
        if sum(calls) == 2:  # the epoch-2 checkpoint's training state
            raise OSError(errno.ENOSPC, "No space left on device", path)
        return real(tensors, path, *args, **kwargs)

    monkeypatch.setattr(zoo.checkpoint, "save_file", save_file)
    out = tmp_path / "run"
    code, _, err = cli("train", "lenet5", "--epochs", "2", *TINY, "--data-dir", tiny_cifar, "--out", out)

    assert code == 1
    assert one_error(err) == (
        f"zoo: error: the disk is full: could not write {out}/checkpoint/training_state.safetensors "
        f"(No space left on device); {out}/checkpoint still holds epoch 1, step 2 (the end of the epoch); "
        f"free space, then `zoo train lenet5 --out {out} --resume` continues at epoch 2, step 3"
    )
    assert load_checkpoint(out)[1]["epoch"] == 1 and load_model(out)[1]["zoo.epoch"] == "1"
    assert sorted(p.name for p in out.iterdir() if p.is_dir()) == ["checkpoint"]


KEPT_EPOCH_1 = (
    "{out}/checkpoint still holds epoch 1, step 2 (the end of the epoch); free space, then {resume} "
    "continues at epoch 2, step 3"
)
KEPT_ALL = (
    "{out}/checkpoint still holds epoch 2, step 4 (the last); free space, then {resume} continues at "
    "the run's end (its plots and result.json)"
)
# Where the disk fills: just before the given call of a writer (module, name); the run's extra
# arguments, the file that then fails, and what the message says is kept.
FULL_DISK_AT = [
    pytest.param(
        "zoo.train.run", "write_json", 1, [], "config.json",
        "nothing was saved yet: free space, then run the same command again", id="config.json",
    ),
    pytest.param(
        "zoo.train.resume", "save_best", 1, ["--val-size", "16"], "best/model.safetensors",
        "no checkpoint was saved yet: free space, then {resume} starts it over", id="best",
    ),
    pytest.param(
        "zoo.train.resume", "save_checkpoint", 3, ["--checkpoint-every", "1"], "checkpoint/model.safetensors",
        KEPT_EPOCH_1, id="mid-epoch checkpoint",
    ),
    pytest.param(
        "zoo.train.resume", "save_checkpoint", 2, [], "checkpoint/model.safetensors", KEPT_EPOCH_1,
        id="checkpoint",
    ),
    pytest.param(
        "zoo.train.report", "MetricsLog.rewrite", 2, [], "metrics.jsonl", KEPT_EPOCH_1, id="metrics",
    ),
    pytest.param("zoo.train.run", "plot_history", 1, [], "loss.png", KEPT_ALL, id="plots"),
]  # fmt: skip


# 11. A really full disk at each writer of a run: one line naming the file and what is kept, no traceback,
# the last complete checkpoint verifies, and the resume (or rerun) it advises finishes the run.
@pytest.mark.parametrize("module, name, call, args, failing, kept", FULL_DISK_AT)
def test_a_full_disk_is_one_line_and_the_last_checkpoint_survives(
    module, name, call, args, failing, kept, small_disk, tiny_cifar, cli, monkeypatch
):
    import importlib

    from zoo.checkpoint import load_checkpoint, load_model

    owner = importlib.import_module(module)
    owner, name = (getattr(owner, name.split(".")[0]), name.split(".")[1]) if "." in name else (owner, name)
    real, calls = getattr(owner, name), []

    def filling_first(*a, **k):
        calls.append(1)
        if len(calls) == call:
            fill(small_disk)
        return real(*a, **k)

    monkeypatch.setattr(owner, name, filling_first)
    out = small_disk / "run"
    run = ["train", "lenet5", "--epochs", "2", *TINY, "--limit-test", "32", *args, "--data-dir", tiny_cifar]
    code, _, err = cli(*run, "--out", out)

    assert code == 1
    kept = kept.format(out=out, resume=f"`zoo train lenet5 --out {out} --resume`")
    assert one_error(err) == (
        f"zoo: error: the disk is full: could not write {out}/{failing} (No space left on device); {kept}"
    )
    saved = load_checkpoint(out) if out.exists() else None  # verified against its sha256 record
    if saved is not None:
        assert load_model(out)[1]["zoo.epoch"] == str(saved[1]["epoch"])
    assert not [p for p in small_disk.rglob("*") if ".tmp-" in p.name or p.name.endswith(".new")]

    monkeypatch.undo()
    (small_disk / "ballast").unlink()
    code, _, err = cli(
        *(["train", "lenet5", "--out", out, "--resume"] if "resume" in kept else [*run, "--out", out])
    )
    assert code == 0, err
    assert load_checkpoint(out)[1]["epoch"] == 2 and (out / "loss.png").is_file()


# 18. Ctrl-C: one line saying what was saved and how to resume; the resume works.
def test_ctrl_c_says_what_was_saved_and_how_to_resume(tiny_cifar, tmp_path, cli, monkeypatch):
    out = tmp_path / "run"
    interrupt_training_at(monkeypatch, step=3)  # 2 steps an epoch: the first step of epoch 2
    code, _, err = cli("train", "lenet5", "--epochs", "2", *TINY, "--data-dir", tiny_cifar, "--out", out)
    assert code == 130
    assert one_error(err) == (
        f"zoo: error: interrupted: {out}/checkpoint holds epoch 1, step 2 (the end of the epoch); "
        f"`zoo train lenet5 --out {out} --resume` continues at epoch 2, step 3"
    )
    monkeypatch.undo()
    code, _, err = cli("train", "lenet5", "--out", out, "--resume")
    assert code == 0, err
    assert json.loads((out / "checkpoint" / "training_state.json").read_text())["epoch"] == 2


def test_ctrl_c_mid_epoch_says_where_the_resume_continues(tiny_cifar, tmp_path, cli, monkeypatch):
    out = tmp_path / "run"
    interrupt_training_at(monkeypatch, step=4)  # the second step of epoch 2; a checkpoint after every step
    args = ["--epochs", "2", *TINY, "--checkpoint-every", "1", "--data-dir", tiny_cifar, "--out", out]
    code, _, err = cli("train", "lenet5", *args)
    assert code == 130
    assert one_error(err) == (
        f"zoo: error: interrupted: {out}/checkpoint holds epoch 2, step 3 (batch 1 of 2); "
        f"`zoo train lenet5 --out {out} --resume` continues at epoch 2, step 4 (batch 2 of 2)"
    )


def test_ctrl_c_in_the_first_epoch_says_nothing_was_checkpointed(tiny_cifar, tmp_path, cli, monkeypatch):
    out = tmp_path / "run"
    interrupt_training_at(monkeypatch, step=1)
    code, _, err = cli("train", "lenet5", "--epochs", "2", *TINY, "--data-dir", tiny_cifar, "--out", out)
    assert code == 130
    assert one_error(err) == (
        "zoo: error: interrupted: no checkpoint was saved yet: "
        f"`zoo train lenet5 --out {out} --resume` starts it over"
    )


# 20. An explicit empty --data-dir is never a download target without --download.
def test_an_empty_data_dir_is_named_and_not_downloaded_into(tmp_path, cli, monkeypatch):
    from zoo.data import DatasetError, _cifar

    asked = []

    def download(data_dir):
        asked.append(data_dir)
        raise DatasetError("no network in this test")

    monkeypatch.setattr(_cifar, "_download", download)
    empty, out = tmp_path / "empty", tmp_path / "run"
    empty.mkdir()
    code, _, err = cli("train", "lenet5", "--epochs", "1", "--data-dir", empty, "--out", out)
    assert code == 2 and not asked
    assert one_error(err) == (
        f"zoo: error: no CIFAR-10 data in {empty}: expected {empty}/cifar-10-batches-py/ holding "
        "data_batch_1, data_batch_2, data_batch_3, data_batch_4, data_batch_5, test_batch, batches.meta "
        "(the torchvision layout); pass --download (download=True) to download the official release into "
        f"it, or point --data-dir (data_dir, ZOO_DATA_DIR) at a directory that holds it{HELP}"
    )
    assert not any(empty.iterdir()) and not out.exists()

    code, _, err = cli("train", "lenet5", "--epochs", "1", "--data-dir", empty, "--out", out, "--download")
    assert code == 2 and asked == [empty] and "no network in this test" in one_error(err)
