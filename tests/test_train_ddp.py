"""`torchrun --nproc_per_node 2 -m zoo train`: DDP on CPU (gloo); rank 0 alone writes."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from helpers import lenet5_train_args, read_jsonl
from safetensors.torch import load_file


def test_torchrun_two_processes_train_and_only_rank0_writes(tiny_cifar, tmp_path):
    from zoo.checkpoint import load_model

    out = tmp_path / "ddp"
    cmd = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--standalone",
        "--nproc_per_node",
        "2",
        "-m",
        "zoo",
        *lenet5_train_args(tiny_cifar, out, limit=128),
        "--device",
        "cpu",
        "--checkpoint-every",
        "3",  # mid-epoch checkpoints gather every rank's running totals: a collective
    ]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=300, env=env)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stdout.count("lenet5: test accuracy") == 1  # rank 0 reports, rank 1 stays quiet

    rows = read_jsonl(out / "metrics.jsonl")
    assert [r["epoch"] for r in rows] == [1, 2]
    assert len((out / "metrics.csv").read_text().splitlines()) == 3
    assert sorted(p.name for p in out.iterdir()) == [
        "accuracy.png",
        "checkpoint",
        "config.json",
        "loss.png",
        "lr.png",
        "metrics.csv",
        "metrics.jsonl",
        "result.json",
    ]
    config = json.loads((out / "config.json").read_text())
    assert config["world_size"] == 2
    # The global batch of 32 is split 16 + 16, so each rank takes 4 steps over its 64 images.
    assert config["steps_per_epoch"] == 128 // 32

    state = load_file(out / "checkpoint" / "training_state.safetensors")
    assert {"rng.torch.rank0", "rng.torch.rank1"} <= set(state)
    assert not state["rng.torch.rank0"].equal(state["rng.torch.rank1"])  # ranks draw differently

    model, metadata = load_model(out)
    assert metadata["zoo.epoch"] == "2"
    assert all(t.isfinite().all() for t in model.state_dict().values() if t.is_floating_point())
    # Test metrics are reduced over both ranks, each of the 249 test images counted once (the loader
    # pads rank 1's share of 124 with a repeat): the accuracy is a whole number of 249ths.
    correct = rows[-1]["test_acc"] * 249
    assert abs(correct - round(correct)) < 1e-6
