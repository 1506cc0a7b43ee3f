"""`zoo campaign run | status | publish` with a tiny real plan: mlp5 then lenet5 on small subsets.

One campaign is trained for the module (killed in its second step and resumed); tests that change
runs work on copies of it. Steps that need `zoo grow` or `zoo train --checkpoint-every` (other
branches) skip until those are merged.
"""

from __future__ import annotations

import csv
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest
from helpers import flip_byte, one_error, read_jsonl, snapshot

from zoo import campaign
from zoo.campaign import commands, runner

REPO = Path(__file__).resolve().parents[1]


_TWO_STEPS = """
[[run]]
name = "mlp"
model = "mlp5"
data_dir = "{data}"
options = {{ epochs = 1, limit_train = 256, limit_test = 256 }}

[[run]]
name = "lenet"
model = "lenet5"
options = {{ epochs = {lenet_epochs}, limit_train = 640, limit_test = 128, batch_size = 64 }}
"""


def write_plan(
    folder: Path, data: Path, extra: str = "", lenet_epochs: int = 2, *, two_steps: bool = True
) -> Path:
    """The two-step test plan (data_dir relative to the plan's folder, as the real plan has it),
    then `extra`; only `extra` with `two_steps=False`."""
    folder.mkdir(parents=True, exist_ok=True)
    plan = folder / "campaign.toml"
    steps = _TWO_STEPS.format(data=data, lenet_epochs=lenet_epochs) if two_steps else ""
    plan.write_text(
        f"""
[defaults]
data_dir = "{os.path.relpath(data / "cifar10-jpeg", folder)}"
tag = "campaign-test"
nice = 10
{steps}{extra}"""
    )
    return plan


@dataclass
class Campaign:
    root: Path
    plan: Path
    runs: Path

    def copy(self, target: Path) -> Campaign:
        shutil.copytree(self.runs, target / "runs")
        return Campaign(target, write_plan(target, self.data), target / "runs")

    @property
    def data(self) -> Path:
        return Path(json.loads((self.runs / "mlp" / "config.json").read_text())["config"]["data_dir"])


@pytest.fixture(scope="module")
def shared_cache(tmp_path_factory) -> Path:
    """One zoo cache for every process of this module: data-set md5s are computed once."""
    return tmp_path_factory.mktemp("zoo-cache")


@pytest.fixture
def env(shared_cache, monkeypatch):
    """Point this process (and the subprocesses it starts) at the module's cache; yields a setter
    for ZOO_CAMPAIGN_DIR."""
    monkeypatch.setenv("ZOO_CACHE_DIR", str(shared_cache))
    return lambda runs: monkeypatch.setenv("ZOO_CAMPAIGN_DIR", str(runs))


def _zoo(*args) -> list[str]:
    return [sys.executable, "-m", "zoo", *map(str, args)]


def _wait_for(condition, process: subprocess.Popen | None = None, timeout: float = 180) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert process is None or process.poll() is None, "the process ended first"
        assert time.monotonic() < deadline, "timed out"  # a hang guard, not a speed claim
        time.sleep(0.05)


def _exited(pid: int) -> bool:
    """Whether a child of this process (one whose Popen object is gone) has exited; reaps it."""
    try:
        return os.waitpid(pid, os.WNOHANG)[0] == pid
    except ChildProcessError:  # reaped already, by subprocess's clean-up of dropped Popen objects
        return True


@pytest.fixture(scope="module")
def finished(tmp_path_factory, shared_data, shared_cache):
    """A campaign killed (SIGKILL, campaign and `zoo train` alike) after the first epoch of its
    second step, then run again to the end; with mlp's folder as it was at the kill."""
    root = tmp_path_factory.mktemp("campaign")
    runs, plan = root / "runs", write_plan(root, shared_data)
    env = {**os.environ, "ZOO_CAMPAIGN_DIR": str(runs), "ZOO_CACHE_DIR": str(shared_cache)}
    command = _zoo("campaign", "run", "--foreground", "--plan", plan)
    first = subprocess.Popen(command, env=env, cwd=root, stdout=subprocess.DEVNULL, start_new_session=True)
    try:
        _wait_for(lambda: (runs / "lenet" / "checkpoint" / "training_state.json").is_file(), first)
    finally:
        os.killpg(first.pid, signal.SIGKILL)
        first.wait()
    mlp_at_kill = snapshot(runs / "mlp")
    again = subprocess.run(command, env=env, cwd=root, capture_output=True, text=True, timeout=300)
    assert again.returncode == 0, again.stdout + again.stderr
    return Campaign(root, plan, runs), mlp_at_kill, again.stdout


def test_a_killed_campaign_resumes_and_keeps_finished_steps(finished):
    done, mlp_at_kill, output = finished
    assert snapshot(done.runs / "mlp") == mlp_at_kill  # not trained again, not touched
    assert "resuming at epoch" in (done.runs / "lenet.log").read_text()
    assert [row["epoch"] for row in read_jsonl(done.runs / "lenet" / "metrics.jsonl")] == [1, 2]
    assert "campaign finished: 2 of 2 steps done" in output
    assert "campaign finished: 2 of 2 steps done" in (done.runs / "campaign.log").read_text()


def test_status_says_done_with_top1(finished, env, cli):
    done = finished[0]
    env(done.runs)
    code, out, _ = cli("campaign", "status", "--plan", done.plan, "--json")
    assert code == 0
    report = json.loads(out)
    assert [(s["name"], s["state"], s["epoch"], s["epochs"]) for s in report["steps"]] == [
        ("mlp", "done", 1, 1),
        ("lenet", "done", 2, 2),
    ]
    assert all(0 <= s["top1"] <= 100 for s in report["steps"]) and report["process"] is None
    code, out, _ = cli("campaign", "status", "--plan", done.plan)
    assert code == 0 and "lenet" in out and "done" in out and "campaign process: none" in out


def test_a_published_step_without_its_run_is_skipped_not_trained_again(env, shared_data, tmp_path, cli):
    """A new machine with an empty campaign dir: what the manifest lists is not retrained, and a
    step that grows from it grows from the published weights."""
    grown = "[[run]]\nname = 'bigger'\nmodel = 'lenet5'\ntag = 'bigger'\ngrow_from = 'lenet'\n"
    plan = campaign.load_plan(write_plan(tmp_path, shared_data, grown + "options = { epochs = 1 }\n"))
    released = {"metrics": {"top1": 61.25}, "epochs": 3}  # what the manifest says of lenet5's release
    published = {"mlp5": {"campaign-test": {}}, "lenet5": {"campaign-test": released}}
    (tmp_path / "weights_manifest.json").write_text(json.dumps({"models": published}))
    env(tmp_path / "runs")
    folder = campaign.CampaignDir(tmp_path / "runs")
    assert [s.state for s in campaign.status(plan).steps] == ["published", "published", "waiting"]
    code, out, _ = cli("campaign", "status", "--plan", tmp_path / "campaign.toml")
    assert code == 0 and re.search(r"\bmlp +published +-/1 .* - *$", out, re.MULTILINE), out
    assert re.search(r"\blenet +published +3/2 +61\.25 .* - *$", out, re.MULTILINE), out  # the release's
    assert runner.next_step(plan, folder).name == "bigger"
    assert runner.blocked(plan, plan.step("bigger"), folder) is None
    assert runner.growth_origin(plan, plan.step("bigger"), folder) == "lenet5.campaign-test"
    # a run stopped before its first checkpoint has nothing to continue: still published, not retrained
    stopped_early = folder.run("lenet")
    stopped_early.mkdir(parents=True)
    (stopped_early / "config.json").write_text(json.dumps({"config": {"model": "lenet5"}}))
    assert [s.state for s in campaign.status(plan).steps][:2] == ["published", "published"]
    two_steps = campaign.load_plan(write_plan(tmp_path / "two", shared_data))
    shutil.copy(tmp_path / "weights_manifest.json", tmp_path / "two")
    assert campaign.run_foreground(two_steps) == ["mlp", "lenet"]
    assert not folder.run("mlp").exists() and not (stopped_early / "checkpoint").exists()
    assert "lenet: skipped: lenet5.campaign-test is published already" in folder.log.read_text()


def test_estimates_count_the_smaller_images_of_progressive_resize_at_their_share_of_pixels(
    env, shared_data, tmp_path
):
    step = "[[run]]\nname = 'r18'\nmodel = 'resnet18'\n"
    resized = "options = { epochs = 6, batch_size = 64, progressive_resize = '16:0.4,24:0.3' }\n"
    plan = campaign.load_plan(write_plan(tmp_path, shared_data, step + resized, two_steps=False))
    env(tmp_path / "runs")
    run = tmp_path / "runs" / "r18"
    run.mkdir(parents=True)
    recipe = {"epochs": 6, "batch_size": 64, "progressive_resize": "16:0.4,24:0.3"}
    record = {"config": {"model": "resnet18", "recipe": recipe}, "dataset": {"train": 1000}}
    (run / "config.json").write_text(json.dumps(record))
    # epochs 1-3 at 16 px (a quarter of the pixels): 100 s and 40 img/s each, so a full-size epoch
    # would take 400 s at 10 img/s
    rows = [{"epoch": e, "img_per_s": 40.0, "seconds": 100.0} for e in (1, 2, 3)]
    (run / "metrics.jsonl").write_text("".join(json.dumps(row) + "\n" for row in rows))
    r18 = campaign.status(plan).steps[0]
    assert r18.state == "stopped" and r18.img_per_s == 40.0  # the speed it ran at
    # left: 2 epochs at 24 px ((24/32)^2 = 0.5625 of the pixels) and 1 at full size
    assert r18.seconds_left == pytest.approx((2 * 0.5625 + 1) * 400)
    # a waiting step of the same model takes the measured full-size speed, 10 img/s, at its shares
    waiting = "[[run]]\nname = 'again'\nmodel = 'resnet18'\ntag = 'longer'\n" + resized.replace(
        "epochs = 6", "epochs = 10"
    )
    plan = campaign.load_plan(write_plan(tmp_path, shared_data, step + resized + waiting, two_steps=False))
    again = campaign.status(plan).steps[1]
    shares = 4 * 0.25 + 3 * 0.5625 + 3 * 1.0  # 10 epochs: 4 at 16 px, 3 at 24, 3 at full size
    assert again.state == "waiting" and again.seconds_left == pytest.approx(shares * 50_000 / 10)


def test_a_waiting_step_is_estimated_from_zoo_bench_until_the_campaign_measures_it(
    env, shared_data, tmp_path, cli
):
    import torch

    from zoo.bench import CSV_COLUMNS, csv_name, default_out_dir

    plan = campaign.load_plan(write_plan(tmp_path, shared_data))
    env(tmp_path / "runs")
    mlp = campaign.status(plan).steps[0]
    assert (mlp.state, mlp.seconds_left) == ("waiting", None) and "not measured" in mlp.note
    results = default_out_dir() / csv_name(torch.device("cpu"))
    results.parent.mkdir(parents=True)
    rows = [{"model": "mlp5", "mode": "train", "img_per_s": speed} for speed in ("64", "not a number", "128")]
    rows.append({"model": "lenet5", "mode": "eval", "img_per_s": "999"})
    with results.open("w", newline="") as out:
        writer = csv.DictWriter(out, fieldnames=CSV_COLUMNS, restval="")
        writer.writeheader()
        writer.writerows(rows)
    mlp, lenet = campaign.status(plan).steps
    assert mlp.seconds_left == pytest.approx(256 / 128)  # 1 epoch of 256 images at the newest figure
    assert mlp.note == "estimate at 128 img/s (`zoo bench` here)"
    assert lenet.seconds_left is None  # only an eval figure recorded: no training speed
    assert campaign.status(plan).remaining() == (pytest.approx(2.0), 2, 1)
    code, out, _ = cli("campaign", "status", "--plan", tmp_path / "campaign.toml")
    assert "left in all: ~2s on this machine (2 steps, 1 of them not estimated)" in out, out
    started = tmp_path / "runs" / "mlp"  # stopped before its first epoch ended: no speed of its own
    started.mkdir(parents=True)
    record = {"config": {"model": "mlp5", "recipe": {"epochs": 3}}, "dataset": {"train": 512}}
    (started / "config.json").write_text(json.dumps(record))
    mlp = campaign.status(plan).steps[0]
    assert mlp.state == "stopped" and mlp.seconds_left == pytest.approx(3 * 512 / 128)
    # its first mid-epoch checkpoint: half of epoch 1 (4 batches of 64) in 8 s is its own speed, 32 img/s
    record["config"]["recipe"]["batch_size"] = 64
    (started / "config.json").write_text(json.dumps(record))
    (started / "checkpoint").mkdir()
    partial = {"epoch": 1, "batches_done": 4, "batches": 8, "seconds": 8.0, "lr": 0.1}
    (started / "checkpoint" / "training_state.json").write_text(
        json.dumps({"epoch": 0, "partial_epoch": partial})
    )
    mlp = campaign.status(plan).steps[0]
    assert (mlp.epoch, mlp.progress, mlp.img_per_s) == (0, 0.5, 32.0)
    assert mlp.seconds_left == pytest.approx(2.5 * 512 / 32)  # resumed, it trains 2.5 epochs more
    code, out, _ = cli("campaign", "status", "--plan", tmp_path / "campaign.toml")
    assert code == 0 and re.search(r"\bmlp +stopped +0\.5/3 +- +32 ", out), out


def test_a_run_in_flight_shows_its_last_evaluated_top1_and_the_epoch_it_is_from(
    env, shared_data, tmp_path, cli
):
    plan = campaign.load_plan(write_plan(tmp_path, shared_data))
    env(tmp_path / "runs")
    started = tmp_path / "runs" / "mlp"
    started.mkdir(parents=True)
    record = {"config": {"model": "mlp5", "recipe": {"epochs": 4}}, "dataset": {"train": 512}}
    (started / "config.json").write_text(json.dumps(record))
    (started / "checkpoint").mkdir()
    (started / "checkpoint" / "training_state.json").write_text(json.dumps({"epoch": 3}))
    rows = [  # evaluated every second epoch: epoch 3 has no test figure
        {"epoch": 1, "seconds": 4.0, "test_acc": None},
        {"epoch": 2, "seconds": 4.0, "test_acc": 0.625},
        {"epoch": 3, "seconds": 4.0, "test_acc": None},
    ]
    (started / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    mlp = campaign.status(plan).steps[0]
    assert (mlp.state, mlp.epoch, mlp.top1, mlp.top1_epoch) == ("stopped", 3, 62.5, 2)
    code, out, _ = cli("campaign", "status", "--plan", tmp_path / "campaign.toml")
    assert code == 0 and re.search(r"\bmlp +stopped +3/4 +62\.50@2 ", out), out
    rows[2]["test_acc"] = 0.75  # evaluated after the last finished epoch: no '@'
    (started / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    code, out, _ = cli("campaign", "status", "--plan", tmp_path / "campaign.toml")
    assert code == 0 and re.search(r"\bmlp +stopped +3/4 +75\.00 ", out), out


def test_run_starts_in_the_background_and_refuses_a_second_run(finished, env, cli, tmp_path):
    done = finished[0].copy(tmp_path)
    env(done.runs)
    code, out, _ = cli("campaign", "run", "--plan", done.plan)
    nothing = "nothing to run: every step is finished or blocked (`zoo campaign status` says which)\n"
    assert (code, out) == (0, nothing)
    (done.runs / "lenet" / "result.json").unlink()  # unfinished now, and the plan asks for more epochs:
    write_plan(tmp_path, done.data, lenet_epochs=3)  # `zoo train --resume` refuses the changed plan
    code, out, _ = cli("campaign", "run", "--plan", done.plan)
    assert code == 0 and "step lenet (lenet5): resumes it after epoch 2/2" in out
    pid = int(out.split("(pid ")[1].split(",")[0])
    assert str(done.runs / "campaign.log") in out and "zoo campaign status" in out
    for mode in ([], ["--foreground"]):  # the background process holds the lock from the start
        code, _, err = cli("campaign", "run", "--plan", done.plan, *mode)
        line = one_error(err)
        assert code == 2 and f"pid {pid}" in line and "campaign.log" in line
    _wait_for(lambda: _exited(pid), timeout=120)
    log = (done.runs / "campaign.log").read_text()
    assert "lenet: stopped: `zoo train` failed (exit code 2): --resume continues the saved run" in log
    assert "epochs (saved 2, given 3)" in log and "zoo: error" not in log  # one line, not two
    report = campaign.status(campaign.load_plan(done.plan))
    assert report.process is None and report.steps[1].state == "failed"


def test_stop_ends_the_background_campaign_with_its_step_saved_and_run_resumes_it(
    shared_data, env, cli, tmp_path
):
    extra = "[[run]]\nname = 'long'\nmodel = 'lenet5'\n"
    extra += "options = { epochs = 500, limit_train = 640, limit_test = 64, batch_size = 64 }\n"
    extra += "checkpoint_every = '1h'\n"  # never due by time: what is saved at the stop is SIGTERM's doing
    plan = write_plan(tmp_path, shared_data, extra, two_steps=False)
    runs = tmp_path / "runs"
    env(runs)
    assert cli("campaign", "stop")[:2] == (0, "no campaign process is running\n")
    code, out, _ = cli("campaign", "run", "--plan", plan)
    assert code == 0, out
    pid = int(out.split("(pid ")[1].split(",")[0])
    _wait_for(lambda: (runs / "long" / "metrics.jsonl").is_file())  # training, past its first epoch
    code, out, err = cli("campaign", "stop", "--timeout", "120")
    assert code == 0, err
    assert out.startswith(f"campaign pid {pid} stopped, its step saved; `zoo campaign run` resumes it")
    assert _exited(pid)
    report = campaign.status(campaign.load_plan(plan))
    assert report.process is None and report.steps[0].state == "stopped"
    assert (runs / "long" / "checkpoint" / "training_state.json").is_file()
    assert "campaign stopped (interrupted)" in (runs / "campaign.log").read_text()
    step_log = (runs / "long.log").read_text()
    assert "interrupted: " in step_log and re.search(r"continues at epoch \d+, step \d+", step_log), step_log
    loaded = campaign.load_plan(plan)
    how = campaign.runner.describe(loaded, loaded.steps[0], campaign.CampaignDir(runs))
    assert re.fullmatch(r"resumes it after epoch \d+/500( and \d+ % of epoch \d+)?", how), how


def test_a_run_already_training_a_step_is_waited_for_not_restarted(shared_data, env, tmp_path):
    extra = "[[run]]\nname = 'quick'\nmodel = 'lenet5'\ntag = 'quick'\n"
    extra += "options = { epochs = 1, limit_train = 128, limit_test = 128 }\n"
    plan = campaign.load_plan(write_plan(tmp_path, shared_data, extra))
    runs = tmp_path / "runs"
    env(runs)
    for name in ("mlp", "lenet"):  # finished, as far as the campaign can tell: only `quick` matters
        (runs / name).mkdir(parents=True)
        (runs / name / "result.json").write_text("{}")
    by_hand = subprocess.Popen(
        commands.train_command(plan.step("quick"), runs / "quick", resume=False),
        cwd=tmp_path,
        stderr=subprocess.DEVNULL,
    )
    _wait_for(lambda: campaign.RunFolder(runs / "quick").trainer is not None, by_hand)
    assert campaign.run_foreground(plan, poll_s=0.1) == ["mlp", "lenet", "quick"]
    assert by_hand.wait() == 0
    assert f"waiting for pid {by_hand.pid}" in (runs / "campaign.log").read_text()
    assert not (runs / "quick.log").exists()  # the campaign started no `zoo train` of its own


def test_a_failing_step_stops_the_campaign_and_leaves_every_run_as_it_was(finished, env, cli, tmp_path):
    done = finished[0].copy(tmp_path)
    env(done.runs)
    (done.runs / "mlp" / "result.json").unlink()  # unfinished, with a corrupt checkpoint to resume
    flip_byte(done.runs / "mlp" / "checkpoint" / "model.safetensors")
    shutil.rmtree(done.runs / "lenet")
    before = snapshot(done.runs / "mlp")
    code, _, err = cli("campaign", "run", "--foreground", "--plan", done.plan)
    line = one_error(err)
    assert code == 1 and line.startswith("zoo: error: mlp: stopped: `zoo train` failed (exit code 2)")
    assert "model.safetensors" in line and str(done.runs / "mlp.log") in line
    assert line.removeprefix("zoo: error: ") in (done.runs / "campaign.log").read_text().splitlines()[-1]
    assert snapshot(done.runs / "mlp") == before and not (done.runs / "lenet").exists()
    mlp = campaign.status(campaign.load_plan(done.plan)).steps[0]
    assert (mlp.state, mlp.note) == ("failed", line.removeprefix("zoo: error: mlp: "))


def test_publish_exports_finished_runs_and_refuses_unfinished_ones(finished, env, cli, tmp_path):
    done = finished[0].copy(tmp_path)
    env(done.runs)
    lenet_result = (done.runs / "lenet" / "result.json").read_bytes()
    (done.runs / "lenet" / "result.json").unlink()
    manifest, readme, releases = tmp_path / "manifest.json", tmp_path / "README.md", tmp_path / "releases"
    shutil.copy(REPO / "weights_manifest.json", manifest)
    shutil.copy(REPO / "README.md", readme)
    where = ["--plan", done.plan, "--manifest", manifest, "--readme", readme, "--releases", releases]
    code, _, err = cli("campaign", "publish", "lenet", *where)
    assert code == 2 and "step lenet is not finished (after epoch 2/2)" in one_error(err)
    shutil.copytree(REPO / "scripts", tmp_path / "scripts")  # publish runs the checkout's scripts
    code, out, err = cli("campaign", "publish", *where)
    assert code == 0, err
    assert "published mlp5.campaign-test (step mlp): top-1" in out and "MB" in out
    assert re.search(r"float32: top-1 [\d.]+ % of 10,000 images \(\d+ s\)", err)  # shown as it ran
    entry = json.loads(manifest.read_text())["models"]["mlp5"]["campaign-test"]
    assert entry["dtype"] == "float32"  # under 5M parameters: --half keeps float32
    assert "recipe_changes" not in entry  # the step set epochs only: its recipe as registered
    assert entry["epochs"] == 1 and "min of training" in entry["device"]
    assert (releases / "mlp5-campaign-test" / "model.safetensors").is_file()
    assert "`campaign-test`: " in readme.read_text()
    assert "lenet5.campaign-test" not in out  # unfinished: left for a later publish
    code, _, err = cli("campaign", "publish", "mlp", *where)
    assert code == 2 and "published already" in one_error(err)
    code, out, _ = cli("campaign", "status", "--plan", done.plan, "--manifest", manifest, "--json")
    assert json.loads(out)["steps"][0]["published"] is True
    (done.runs / "lenet" / "result.json").write_bytes(lenet_result)
    code, _, err = cli("campaign", "publish", "lenet", *where)
    assert code == 0, err
    entry = json.loads(manifest.read_text())["models"]["lenet5"]["campaign-test"]
    assert entry["recipe"] == "seed200" and entry["recipe_changes"] == {"batch_size": 64}


def test_export_refuses_a_folder_holding_a_release_before_evaluating_and_replace_swaps_it(
    finished, env, tmp_path, shared_data
):
    done = finished[0]
    env(done.runs)
    releases, manifest = tmp_path / "releases", tmp_path / "manifest.json"
    old = releases / "mlp5-mnist"
    old.mkdir(parents=True)
    (old / "stale.bin").write_text("an older version")
    shutil.copy(REPO / "weights_manifest.json", manifest)
    export = [
        sys.executable, REPO / "scripts" / "export_release.py", "mlp5", done.runs / "mlp" / "checkpoint",
        "--repo-id", "cifar-zoo/mlp5-mnist", "--tag", "mnist", "--data-dir", shared_data,
        "--trained-on", "test", "--releases", releases,
    ]  # fmt: skip
    environ = {**os.environ, "ZOO_MANIFEST": str(manifest)}
    refused = subprocess.run(list(map(str, export)), env=environ, capture_output=True, text=True, timeout=300)
    assert refused.returncode == 1 and "float32: top-1" not in refused.stderr  # before any evaluation
    assert refused.stderr.strip() == (
        f"export_release: {old} holds a release already; --replace makes these weights its new version"
    )
    replaced = subprocess.run(
        [*map(str, export), "--replace"], env=environ, capture_output=True, text=True, timeout=300
    )
    assert replaced.returncode == 0, replaced.stderr
    assert sorted(p.name for p in old.iterdir()) == ["README.md", "config.json", "model.safetensors"]
    assert sorted(p.name for p in releases.iterdir()) == ["mlp5-mnist"]  # no half-made folder beside it
    entry = json.loads(manifest.read_text())["models"]["mlp5"]["mnist"]
    assert entry["device"] == "test" and entry["revision"] is None


@pytest.mark.slow  # ~9 s (an export); the quick lane has publish's own end-to-end test
def test_an_improve_step_retrains_a_release_and_replaces_it_only_when_better(
    finished, env, cli, tmp_path, shared_data
):
    """A retrain of a published MODEL.TAG: trained although the tag is published, kept back while
    its top-1 is not above the release's, then exported as the release's new version."""
    shutil.copytree(finished[0].runs / "mlp", tmp_path / "runs" / "mlp")
    retrain = f"[[run]]\nname = 'mlp'\nmodel = 'mlp5'\nimprove = true\ndata_dir = '{shared_data}'\n"
    plan_file = write_plan(tmp_path, shared_data, retrain + "options = { epochs = 1 }\n", two_steps=False)
    plan = campaign.load_plan(plan_file)
    manifest, readme, releases = (
        tmp_path / "weights_manifest.json",
        tmp_path / "README.md",
        tmp_path / "releases",
    )
    shipped = json.loads((REPO / "weights_manifest.json").read_text())
    older = {**shipped["models"]["mlp5"]["mnist"], "metrics": {"top1": 99.99}}  # the release to beat
    manifest.write_text(json.dumps({**shipped, "models": {"mlp5": {"campaign-test": older}}}))
    shutil.copy(REPO / "README.md", readme)
    shutil.copytree(REPO / "scripts", tmp_path / "scripts")
    (releases / "mlp5-campaign-test").mkdir(parents=True)
    (releases / "mlp5-campaign-test" / "stale.bin").write_text("the older version")
    env(tmp_path / "runs")
    folder = campaign.CampaignDir(tmp_path / "runs")
    step = plan.step("mlp")
    # the published tag does not make the retrain done: with no run here, it waits to be trained
    shutil.move(folder.run("mlp"), tmp_path / "mlp-run")
    assert not runner.published_unstarted(plan, step, folder) and runner.next_step(plan, folder) == step
    assert [s.state for s in campaign.status(plan).steps] == ["waiting"]
    shutil.move(tmp_path / "mlp-run", folder.run("mlp"))
    top1 = campaign.RunFolder(folder.run("mlp")).top1
    where = ["--plan", plan_file, "--manifest", manifest, "--readme", readme, "--releases", releases]
    code, _, err = cli("campaign", "publish", "mlp", *where)
    assert code == 2 and one_error(err).endswith(
        f"step mlp reached {top1:.2f} %, not above mlp5.campaign-test's published 99.99 %: "
        "the release stays as it is"
    )
    code, out, _ = cli("campaign", "publish", *where)  # every finished step: this one is kept back, said once
    assert code == 0 and out.splitlines()[0].startswith("kept: step mlp reached"), out
    assert len(out.splitlines()) == 1  # neither an export nor "nothing to publish"
    assert json.loads(manifest.read_text())["models"]["mlp5"]["campaign-test"] == older
    code, out, _ = cli("campaign", "status", "--plan", plan_file, "--manifest", manifest)
    assert f"mlp: step mlp reached {top1:.2f} %, not above" in out  # status says why it stays done
    assert (releases / "mlp5-campaign-test" / "stale.bin").is_file()
    # a weaker release: the retrain replaces it, folder and entry
    manifest.write_text(
        json.dumps({**shipped, "models": {"mlp5": {"campaign-test": {**older, "metrics": {"top1": 1.0}}}}})
    )
    code, out, err = cli("campaign", "publish", *where)
    assert code == 0 and "published mlp5.campaign-test (step mlp)" in out, err
    entry = json.loads(manifest.read_text())["models"]["mlp5"]["campaign-test"]
    assert entry["metrics"]["top1"] > 1.0 and entry["files"] != older["files"]
    assert sorted(p.name for p in (releases / "mlp5-campaign-test").iterdir()) == [
        "README.md",
        "config.json",
        "model.safetensors",
    ]
    status = campaign.status(plan, manifest=manifest).steps[0]
    assert status.state == "done" and status.published
    code, _, err = cli("campaign", "publish", "mlp", *where)
    assert code == 2 and "published already" in one_error(err)
    # a new machine (no run here): the release is this step's, so it is not trained again
    shutil.rmtree(folder.run("mlp"))
    assert runner.published_unstarted(plan, step, folder) and runner.next_step(plan, folder) is None


ONE_STEP = "[defaults]\ntag = 'x'\n[[run]]\nmodel = 'lenet5'\n"


@pytest.mark.parametrize(
    "plan, message",
    [
        (None, "no campaign plan at"),
        ("[[run]\nmodel = 1", "is not valid TOML"),
        ("[defaults]\ntag = 'x'\n", "run: expected one [[run]] table per step"),
        ("[[run]]\nmodel = 'lenet5'\n", "run[1] (lenet5) tag is missing"),
        (ONE_STEP.replace("lenet5", "resnet19"), "model = 'resnet19': expected a registered model"),
        (ONE_STEP + "epochs = 3", "unknown field 'epochs'"),
        (ONE_STEP + "options = { lr = 'fast' }", "options.lr = 'fast': expected a number"),
        (ONE_STEP + "options = { epoch = 3 }", "options.epoch = 3: expected a `zoo train` option"),
        (ONE_STEP + "options = { out = 'x' }", "no out in options"),
        (ONE_STEP + "dtype = 'int8'", "dtype = 'int8': expected one of float16, float32"),
        (ONE_STEP + "improve = 'yes'", "improve = 'yes': expected true or false"),
        (ONE_STEP + "grow_from = 'later'", "grow_from = 'later': expected an earlier step"),
        (ONE_STEP + "[[run]]\nmodel = 'lenet5'", "name = 'lenet5': expected a name no other step has"),
        (ONE_STEP.replace("tag = 'x'", "tag = 'x'\nnice = 25"), "nice = 25: expected an int in 0..19"),
    ],
)
def test_malformed_plans_exit_2_with_one_line(plan, message, cli, tmp_path):
    path = tmp_path / "campaign.toml"
    if plan is not None:
        path.write_text(plan)
    code, _, err = cli("campaign", "status", "--plan", path)
    assert code == 2 and message in one_error(err), err


def test_an_unknown_step_exits_2(finished, env, cli):
    env(finished[0].runs)
    code, _, err = cli("campaign", "publish", "resnet18", "--plan", finished[0].plan)
    assert code == 2 and "unknown step 'resnet18'" in one_error(err) and "steps: mlp, lenet" in err


def test_the_release_plan_continues_the_resnet18_run_in_flight():
    plan = campaign.load_plan(REPO / "campaign.toml")
    first = plan.steps[0]
    assert (first.name, first.model, first.recipe) == ("resnet18-e20", "resnet18", "onecycle-bn")
    assert first.options == {"batch_size": 256, "lr": 0.2, "epochs": 20, "eval_every": 2}
    assert [s.model for s in plan.steps] == [
        "resnet18", "resnet34", "resnext29_2x64d", "resnext29_8x64d", "geresnext29_8x64d",
        "resnext29_2x32d",  # ahead of the wrn pair: the cheapest model left on an fp32-only CPU
        # then cheapest first, with smaller images early; the costliest, grown wrn28_10, last
        "densenet121", "densenet100_bc", "resnext29_32x4d", "resnet50", "wrn16_8",
        # retrains of short releases below their seed's figure, cheapest first
        "simp_res9", "vgg11_bn", "vgg11", "res9", "resnet9",
        "wrn28_10",
    ]  # fmt: skip
    resized = [s.model for s in plan.steps if s.options.get("progressive_resize") == "16:0.4,24:0.3"]
    assert resized == [
        "densenet121", "densenet100_bc", "resnext29_32x4d", "resnet50", "wrn16_8", "simp_res9", "res9",
        "resnet9",
    ]  # fmt: skip
    retrains = [s for s in plan.steps if s.improve]
    shipped = json.loads(plan.manifest.read_text())["models"]
    assert [s.name for s in retrains] == [f"{s.model}-retrain" for s in retrains]
    assert all(s.tag in shipped.get(s.model, {}) for s in retrains)  # each retrains a published release
    large = [s for s in plan.steps if not s.improve]
    grown = {s.model: plan.source_step(s).model for s in plan.steps if s.grow_from}
    assert grown == {
        "resnet34": "resnet18",
        "resnext29_8x64d": "resnext29_2x64d",
        "geresnext29_8x64d": "resnext29_8x64d",
        "wrn28_10": "wrn16_8",
    }
    assert all(s.recipe == "onecycle-bn" and 128 <= s.options["batch_size"] <= 256 for s in large)
    assert (first.data_dir.resolve(), first.dtype, plan.nice) == (
        REPO.parent / "shared/data/cifar10-jpeg",
        "float16",
        10,
    )


def test_train_commands_follow_the_plan(tmp_path, shared_data):
    extra = "[[run]]\nname = 'flags'\nmodel = 'lenet5'\ntag = 'flags'\ncheckpoint_every = '10m'\n"
    extra += "options = { tta = true, channels_last = false }\n"
    lenet, out = campaign.load_plan(write_plan(tmp_path, shared_data, extra)).step("flags"), tmp_path / "out"
    fresh = commands.train_command(lenet, out, resume=False, init_from=tmp_path / "grown")
    assert fresh[:6] == [sys.executable, "-m", "zoo", "train", "lenet5", "--out"]
    assert "--tta" in fresh and "--no-channels-last" in fresh and "--init-from" in fresh
    resumed = commands.train_command(lenet, out, resume=True, init_from=tmp_path / "grown")
    assert resumed[-1] == "--resume" and "--init-from" not in resumed
    assert fresh[fresh.index("--checkpoint-every") + 1] == "10m"


@pytest.mark.slow
def test_a_grow_step_grows_then_fine_tunes(finished, env, tmp_path):
    done = finished[0].copy(tmp_path)
    env(done.runs)
    tiny = "options = { epochs = 1, limit_train = 128, limit_test = 64, batch_size = 64 }\n"
    extra = f"[[run]]\nname = 'r18'\nmodel = 'resnet18'\n{tiny}"
    extra += f"[[run]]\nname = 'r34'\nmodel = 'resnet34'\ngrow_from = 'r18'\n{tiny}"
    plan = campaign.load_plan(write_plan(tmp_path, done.data, extra))
    assert campaign.run_foreground(plan) == ["mlp", "lenet", "r18", "r34"]
    assert (done.runs / "r34.grown" / "model.safetensors").is_file()
    log = (done.runs / "r34.log").read_text()
    assert f"zoo grow {done.runs / 'r18'} resnet34" in log and "--init-from" in log
    config = json.loads((done.runs / "r34" / "config.json").read_text())
    assert config["config"]["init_from"].endswith("r34.grown/model.safetensors")


def test_a_kill_mid_epoch_resumes_mid_epoch(shared_data, shared_cache, tmp_path):
    extra = "[[run]]\nname = 'long'\nmodel = 'lenet5'\ntag = 'long'\ncheckpoint_every = '1s'\n"
    extra += "options = { epochs = 1, limit_train = 8192, limit_test = 128, batch_size = 32 }\n"
    plan = write_plan(tmp_path, shared_data, extra, two_steps=False)  # the one step is what it tests
    runs = tmp_path / "runs"
    env = {**os.environ, "ZOO_CAMPAIGN_DIR": str(runs), "ZOO_CACHE_DIR": str(shared_cache)}
    command = _zoo("campaign", "run", "--foreground", "--plan", plan)
    first = subprocess.Popen(
        command, env=env, cwd=tmp_path, stdout=subprocess.DEVNULL, start_new_session=True
    )
    try:  # a checkpoint of the one epoch before it ended: a mid-epoch one
        _wait_for(lambda: (runs / "long" / "checkpoint" / "training_state.json").is_file(), first)
    finally:
        os.killpg(first.pid, signal.SIGKILL)
        first.wait()
    again = subprocess.run(command, env=env, cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert again.returncode == 0, again.stdout + again.stderr
    assert "--checkpoint-every 1s" in (runs / "long.log").read_text()
    assert campaign.RunFolder(runs / "long").finished
