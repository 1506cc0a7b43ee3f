"""The comparison arms of benchmarks/budget_recipes.py and growth_pays.py: they outlive a session
(finished arms are read back, a cut-off one resumes, rows are saved after every arm, other settings
are refused: benchmarks/_arms.py), and what they report and plot."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from helpers import read_jsonl

REPO = Path(__file__).resolve().parents[1]
SCRIPT = REPO / "benchmarks" / "budget_recipes.py"


@pytest.fixture
def budget_recipes(shared_data, tmp_path):
    out = tmp_path / "arms"
    env = {**os.environ, "ZOO_CACHE_DIR": str(tmp_path / "cache")}

    def run(*arms: str, epochs: int = 1) -> subprocess.CompletedProcess:
        command = [
            sys.executable, str(SCRIPT), "--model", "lenet5", "--arms", *arms, "--epochs", str(epochs),
            "--batch-size", "64", "--lr", "0.05", "--limit-train", "256", "--limit-test", "128",
            "--data-dir", str(shared_data / "cifar10-jpeg"), "--out", str(out),
        ]  # fmt: skip
        return subprocess.run(command, env=env, capture_output=True, text=True, timeout=600)

    return run, out


def _rows(out: Path) -> dict[str, dict]:
    return {row["arm"]: row for row in json.loads((out / "budget_recipes.json").read_text())["arms"]}


@pytest.mark.slow  # four script runs (~30 s): the quick lane stays under 5 minutes on 2 cores
def test_arms_are_saved_one_by_one_read_back_resumed_and_kept_to_their_settings(budget_recipes):
    run, out = budget_recipes
    # lenet5's classifier needs 32x32 images, so the low-resolution arm fails after the first arm ran
    failed = run("onecycle-bn", "low-res-early")
    assert failed.returncode != 0 and "progressive_resize" in failed.stderr, failed.stderr
    first = _rows(out)
    assert list(first) == ["onecycle-bn"] and 0 <= first["onecycle-bn"]["top1"] <= 100
    assert first["onecycle-bn"]["epochs"] == 1 and first["onecycle-bn"]["dataset"] == "cifar10-jpeg"
    baseline_weights = (out / "onecycle-bn" / "checkpoint" / "model.safetensors").read_bytes()

    # an arm cut off after its last checkpoint, before its result: resumed, not restarted
    again = run("ema")
    assert again.returncode == 0, again.stderr
    (out / "ema" / "result.json").unlink()
    ema_rows = read_jsonl(out / "ema" / "metrics.jsonl")
    done = run("onecycle-bn", "ema")
    assert done.returncode == 0, done.stderr
    assert (out / "ema" / "result.json").is_file()
    assert read_jsonl(out / "ema" / "metrics.jsonl") == ema_rows  # no epoch trained twice
    assert (out / "onecycle-bn" / "checkpoint" / "model.safetensors").read_bytes() == baseline_weights
    rows = _rows(out)
    assert rows["onecycle-bn"] == first["onecycle-bn"] and set(rows) == {"onecycle-bn", "ema"}
    assert "| ema | ema_momentum=0.99, ema_every=5 |" in done.stdout
    assert (out / "budget_recipes.png").read_bytes().startswith(b"\x89PNG")  # drawn from the rows

    refused = run("onecycle-bn", epochs=2)
    assert refused.returncode != 0 and "epochs 1 -> 2" in refused.stderr, refused.stderr
    assert _rows(out) == rows


def _benchmark_module(script: Path = SCRIPT):
    sys.path.insert(0, str(script.parent))  # the script imports its sibling _arms
    try:
        spec = importlib.util.spec_from_file_location(script.stem, script)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
    finally:
        sys.path.remove(str(SCRIPT.parent))
    return module


def test_an_equal_time_arm_gets_the_epochs_that_fit_the_baselines_minutes():
    arms = _benchmark_module()
    assert arms.equal_time_epochs(6, baseline_minutes=30.0, cheaper_minutes=18.0) == 10  # 6 x 30/18
    assert arms.equal_time_epochs(6, baseline_minutes=30.0, cheaper_minutes=20.1) == 8  # rounded down
    assert arms.equal_time_epochs(6, baseline_minutes=30.0, cheaper_minutes=31.0) == 6  # never fewer
    rows = {"onecycle-bn": {"minutes": 29.0}, "low-res-early": {"minutes": 14.5}}
    changes = arms.arm_changes("low-res-equal-time", rows, 6)
    assert changes == {**arms.ARMS["low-res-early"], "epochs": 12}
    assert arms.arm_changes("ema", rows, 6) == arms.ARMS["ema"]
    with pytest.raises(SystemExit, match="needs the minutes of low-res-early: run it first"):
        arms.arm_changes("low-res-equal-time", {"onecycle-bn": {"minutes": 29.0}}, 6)


def _finished_run(out: Path, rows: list[dict]) -> None:
    """A run folder as `zoo train` leaves it once finished (what benchmarks/_arms.py reads back)."""
    out.mkdir(parents=True)
    record = {"config": {"model": "x"}, "dataset": {"identity": "cifar10-jpeg", "train": 100}}
    (out / "config.json").write_text(json.dumps(record))
    (out / "metrics.jsonl").write_text("".join(json.dumps(row) + "\n" for row in rows))
    (out / "result.json").write_text(json.dumps({"final": rows[-1]}))


def test_the_growth_arm_curve_runs_on_across_its_two_models_and_is_plotted(tmp_path):
    from matplotlib.image import imread

    growth = _benchmark_module(REPO / "benchmarks" / "growth_pays.py")
    _finished_run(tmp_path / "source", [
        {"epoch": 1, "test_acc": 0.2, "seconds": 60.0}, {"epoch": 2, "test_acc": 0.3, "seconds": 90.0},
    ])  # fmt: skip
    _finished_run(tmp_path / "fine-tune", [{"epoch": 1, "test_acc": 0.4, "seconds": 120.0}])
    _finished_run(tmp_path / "scratch", [
        {"epoch": 1, "test_acc": None, "seconds": 150.0}, {"epoch": 2, "test_acc": 0.35, "seconds": 120.0},
    ])  # fmt: skip
    grown = tmp_path / "grown.safetensors"
    grown.write_bytes(b"present: the grow step is done")
    steps = [
        ("resnet18", {"out": tmp_path / "source"}),
        ("grow", {"out": grown, "source": tmp_path / "source", "target": "resnet34"}),
        ("resnet34", {"out": tmp_path / "fine-tune"}),
    ]
    row = growth.run_arm("grown", steps, {})
    assert (row["top1"], row["epochs"], row["minutes"]) == (40.0, [2, 1], 4.5)
    # minutes run on from the source's into the fine-tuning's; each point says which model it is
    assert row["curve"] == [[1.0, 20.0, "resnet18"], [2.5, 30.0, "resnet18"], [4.5, 40.0, "resnet34"]]
    scratch = growth.run_arm("scratch", [("resnet34", {"out": tmp_path / "scratch"})], {})
    assert scratch["curve"] == [[4.5, 35.0, "resnet34"]]  # an epoch without evaluation adds minutes only
    growth.plot([row, scratch], "two arms", tmp_path / "growth_pays.png")
    assert imread(tmp_path / "growth_pays.png").shape[:2] == (480, 840)  # 7 x 4 inches at 120 dpi
