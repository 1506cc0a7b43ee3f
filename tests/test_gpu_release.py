"""The GPU release job (scripts/zoo_release/, scripts/gpu_release.py) rehearsed on CPU with lenet5.

A GPU machine is not always at hand, so everything but the GPU itself is tested here: the plan, the
skipping, the fetch limits of the transport, shards and parts, the collect step through
`zoo.hub.export` (from gathered outboxes or a work folder copied back), half-precision releases
loading into float32 models, and the runbook's commands.
"""

from __future__ import annotations

import importlib.util
import json
import re
import shutil
from pathlib import Path

import pytest
import torch
from zoo_release import job, plan, transport
from zoo_release.collect import collect, missing_files

import zoo
from zoo import hub
from zoo._files import sha256_of
from zoo.checkpoint import save_model
from zoo.train import get_recipe
from zoo.train.recipes import check_recipe
from zoo.weights import weights_entry

REPO = Path(__file__).resolve().parents[1]


def _script(name: str):
    spec = importlib.util.spec_from_file_location(name, REPO / "scripts" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_plan_puts_the_mission_models_first_with_usable_recipes():
    models = [item.model for item in plan.PRIORITY]
    assert models[:6] == [
        "resnet34",
        "geresnext29_8x64d",
        "resnet18",
        "wrn28_10",
        "resnext29_32x4d",
        "densenet121",
    ]
    assert len(set(models)) == len(models)
    check_recipe(get_recipe("gpu-onecycle"))
    assert get_recipe("gpu-onecycle").nesterov and get_recipe("gpu-onecycle").label_smoothing > 0
    assert {plan.recipe_for(m).name for m in models} == {"gpu-onecycle", "fast"}
    assert plan.recipe_for("fast_resnet9").name == "fast"


def test_models_are_parsed_with_their_own_or_the_default_budget():
    items = plan.parse_models("resnet34=2m, resnet18")
    assert items == [plan.Item("resnet34", 120.0), plan.Item("resnet18", 90)]
    with pytest.raises(plan.PlanError, match="lenet5 has no default budget"):
        plan.parse_models("lenet5")
    with pytest.raises(plan.PlanError, match="not a duration"):
        plan.parse_models("resnet34=soon")
    with pytest.raises(zoo.UnknownModelError):
        plan.parse_models("resnet35=60")


def test_the_job_skips_what_no_longer_fits_and_goes_on_after_a_failure(tmp_path, monkeypatch):
    trained = []

    def fake_release(item, settings, test_sets):
        trained.append(item.model)
        if item.model == "resnet18":
            raise RuntimeError("CUDA out of memory")
        return {"wall_seconds": item.budget_s + 3, "metrics": {"top1": 50.0}, "epochs": 1}

    monkeypatch.setattr(job, "release_one", fake_release)
    monkeypatch.setattr(job, "_line", lambda report: "ok")
    items = [plan.Item("resnet18", 10), plan.Item("wrn28_10", 100), plan.Item("lenet5", 10)]
    summary = job.run_job(items, job.Settings(tmp_path, total_s=60, margin_s=5), log=lambda line: None)
    assert trained == ["resnet18", "lenet5"], "wrn28_10's 100 s do not fit in 60: skipped, not started"
    assert summary["failed"] == {"resnet18": "RuntimeError: CUDA out of memory"}
    assert summary["skipped"]["wrn28_10"].startswith("needs 105 s")
    assert list(summary["done"]) == ["lenet5"]
    assert json.loads((tmp_path / job.SUMMARY).read_text())["done"] == {"lenet5": "ok"}


def _finished(work: Path, model: str, sizes: dict[str, int]) -> None:
    (work / model).mkdir(parents=True)
    for name, size in sizes.items():
        (work / model / name).write_bytes(bytes(size))
    transport.mark_finished(work, model)


def test_send_keeps_each_call_within_the_limits_and_fetches_the_rest_later(tmp_path):
    work, calls = tmp_path / "work", [tmp_path / f"out{i}" for i in range(3)]
    _finished(
        work,
        "a",
        {"eval.json": 10, "model-00001-of-00002.safetensors": 600, "model-00002-of-00002.safetensors": 600},
    )
    _finished(work, "b", {"eval.json": 10, "config.json": 10, "model.safetensors": 300})
    limits = transport.Limits(files=4, bytes=1000)
    first = transport.send(work, calls[0], limits=limits)
    # a's second shard does not fit the bytes left: b's smaller files go in its place.
    assert first.files == [
        "a/eval.json",
        "a/model-00001-of-00002.safetensors",
        "b/eval.json",
        "b/config.json",
    ]
    second = transport.send(work, calls[1], limits=limits)
    assert second.files == ["a/model-00002-of-00002.safetensors", "b/model.safetensors"]
    assert not second.remaining and "nothing left" in second.summary()
    again = transport.send(work, calls[2], ["b/model.safetensors"])
    assert again.files == ["b/model.safetensors"] and (calls[2] / "b" / "model.safetensors").is_file()
    with pytest.raises(FileNotFoundError, match="has no b/nothing"):
        transport.send(work, calls[2], ["b/nothing"])


def _fetch_all(work: Path, root: Path, limits: transport.Limits) -> list[Path]:
    """Outboxes of successive fetches until nothing is left, as the fetch loop of the runbook does."""
    outboxes = []
    while not outboxes or transport.send(work, outboxes[-1], limits=limits).remaining:
        outboxes.append(root / f"fetch{len(outboxes)}")
        assert len(outboxes) < 50, "the fetches never end"
    return [o for o in outboxes if o.is_dir()]


# 8 files, 1320 bytes: the smaller a limit, the more fetches bring them back.
@pytest.mark.parametrize(
    "limits, fetches",
    [(transport.Limits(files=2), 4), (transport.Limits(bytes=650), 3), (transport.Limits(0, 0), 1)],
    ids=["2 files", "650 bytes", "no limit"],
)
def test_the_fetch_limits_set_how_many_fetches_bring_everything_back(tmp_path, limits, fetches):
    sizes = {"eval.json": 10, "config.json": 20, "metrics.csv": 30, "model.safetensors": 600}
    _finished(tmp_path / "work", "a", sizes)
    _finished(tmp_path / "work", "b", sizes)
    outboxes = _fetch_all(tmp_path / "work", tmp_path, limits)
    held = [sorted(p.relative_to(o).as_posix() for p in o.rglob("*") if p.is_file()) for o in outboxes]
    assert sorted(sum(held, [])) == sorted(f"{m}/{n}" for m in "ab" for n in sizes), "each file once"
    for files, outbox in zip(held, outboxes):
        assert limits.fits(len(files), sum((outbox / f).stat().st_size for f in files)), files
    assert len(outboxes) == fetches, held


def test_a_file_no_fetch_can_bring_back_is_refused_with_the_flags_to_change(tmp_path):
    _finished(tmp_path / "work", "a", {"eval.json": 10, "model.safetensors": 600})
    with pytest.raises(transport.LimitsError, match=r"a/model.safetensors \(600 bytes\).*--max-bytes"):
        transport.send(tmp_path / "work", tmp_path / "out", limits=transport.Limits(bytes=500))
    assert not (tmp_path / "out").exists(), "refused before anything was sent"
    with pytest.raises(transport.LimitsError, match="0 \\(no limit\\) or positive, got -1 files"):
        transport.Limits(files=-1)


def test_sizes_are_read_in_decimal_and_binary_units():
    assert transport.parse_size("62MiB") == 62 * 2**20
    assert transport.parse_size("15MB") == 15_000_000 and transport.parse_size("1.5kB") == 1500
    assert transport.parse_size("4096") == 4096 and transport.parse_size("0") == 0
    with pytest.raises(transport.LimitsError, match="'15 parsecs' is not a size"):
        transport.parse_size("15 parsecs")


def test_the_run_flags_become_the_job_settings_and_bad_ones_stop_it_before_training(tmp_path):
    cli = _script("gpu_release")
    parser, out = cli.build_parser(), str(tmp_path / "out")
    flags = ["run", "--budget", "5m", "--out", out, "--max-files", "3", "--max-bytes", "2MB"]
    settings = cli.settings_from(parser.parse_args([*flags, "--max-file-bytes", "500kB"]))
    assert settings.total_s == 300 and settings.outbox == Path(out)
    assert settings.limits == transport.Limits(files=3, bytes=2_000_000) and settings.file_bytes == 500_000
    defaults = cli.settings_from(parser.parse_args(["run", "--budget", "60"]))
    assert defaults.limits == transport.Limits() and defaults.file_bytes == transport.FILE_BYTES
    assert defaults.outbox is None
    with pytest.raises(SystemExit, match="files of up to 3000000 bytes do not fit a fetch of 2000000"):
        cli.settings_from(parser.parse_args([*flags, "--max-file-bytes", "3MB"]))
    with pytest.raises(SystemExit, match="largest file must be positive"):
        cli.settings_from(parser.parse_args(["run", "--budget", "60", "--max-file-bytes", "0"]))
    with pytest.raises(SystemExit, match="needs --budget"):
        cli.main(["run", "--work", str(tmp_path / "w2")])


def test_the_cli_plans_sends_and_names_what_collect_still_needs(zoo_manifest, tmp_path, capsys):
    cli = _script("gpu_release")
    assert cli.main(["plan", "--models", "resnet34=60,fast_resnet9"]) == 0
    assert re.search(r"resnet34 +60 s +gpu-onecycle\nfast_resnet9 +40 s +fast", capsys.readouterr().out)
    work = tmp_path / "work"
    _finished(work, "resnet34", {"eval.json": 0, "config.json": 5, "metrics.csv": 5})
    (work / "resnet34" / "eval.json").write_text(json.dumps({"files": {"model.safetensors": {}}}))
    assert cli.main(["send", str(work), "--out", str(tmp_path / "out"), "--max-files", "2"]) == 0
    assert "sent 2 file(s); 1 file(s)" in capsys.readouterr().out, "--max-files is honoured"
    assert cli.main(["send", str(work), "--out", str(tmp_path / "out2")]) == 0
    assert "metrics.csv\nsent 1 file(s); nothing left to fetch" in capsys.readouterr().out
    assert cli.main(["collect", str(tmp_path / "out"), "--releases", str(tmp_path / "releases")]) == 0
    out = capsys.readouterr().out
    assert f"send {cli.WORK} --out OUTBOX --again resnet34/model.safetensors" in out
    assert "for the next run: --models resnet34,geresnext29_8x64d," in out


def test_collect_reads_a_work_folder_copied_back_whole(tmp_path):
    work = tmp_path / "work"
    _finished(work, "resnet34", {"eval.json": 0})
    (work / "resnet34" / "eval.json").write_text(json.dumps({"files": {"model.safetensors": {}}}))
    (work / "wrn28_10").mkdir()  # training when the machine stopped: not finished, not a release
    (work / "cache").mkdir()
    done = collect(work, tmp_path / "releases", log=lambda line: None)
    assert done.incomplete == {"resnet34": ["resnet34/model.safetensors"]} and not done.failed


def test_a_file_larger_than_a_part_travels_in_parts(tmp_path):
    data = bytes(range(256)) * 10
    (tmp_path / "big").write_bytes(data)
    parts = transport.split_file(tmp_path / "big", 1000)
    assert [p.name for p in parts] == ["big.part0", "big.part1", "big.part2"]
    parts[1].unlink()
    assert not transport.join_parts(tmp_path, "big", 3)
    (tmp_path / "big.part1").write_bytes(data[1000:2000])
    assert transport.join_parts(tmp_path, "big", 3) and (tmp_path / "big").read_bytes() == data


def test_collect_sets_a_corrupt_file_aside_and_asks_for_its_parts_again(tmp_path):
    folder, data = tmp_path / "wrn28_10", bytes(range(200))
    folder.mkdir()
    (folder / "w").write_bytes(data)
    record = {"w": {"sha256": sha256_of(folder / "w"), "size": 200, "parts": 2}}
    transport.split_file(folder / "w", 100)
    (folder / "w.part1").write_bytes(bytes(100))  # damaged on the way
    assert missing_files(folder, record) == ["wrn28_10/w.part0", "wrn28_10/w.part1"]
    assert sorted(p.name for p in folder.iterdir()) == ["w.corrupt", "w.part0.corrupt", "w.part1.corrupt"]
    (folder / "w.part0").write_bytes(data[:100])  # fetched again with --again
    assert missing_files(folder, record) == ["wrn28_10/w.part1"]
    (folder / "w.part1").write_bytes(data[100:])
    assert missing_files(folder, record) == [] and (folder / "w").read_bytes() == data


def test_half_precision_weights_export_as_such_and_load_into_float32(zoo_manifest, tmp_path, monkeypatch):
    torch.manual_seed(0)
    model = zoo.create("lenet5").half()
    checkpoint = save_model(model, tmp_path / "run", name="lenet5", extra={"dataset": "cifar10-jpeg"})
    folder = tmp_path / "releases" / "lenet5-half"
    hub.export("lenet5.half", checkpoint, folder, "zoo-test/lenet5-half", metrics={"top1": 10.0})
    assert weights_entry("lenet5", "half")["dtype"] == "float16"
    assert (folder / "model.safetensors").stat().st_size < 62006 * 3, "stored in 2 bytes a value"
    monkeypatch.setenv("ZOO_WEIGHTS_DIR", str(folder.parent))
    loaded = zoo.create("lenet5", pretrained="half")
    for key, value in model.state_dict().items():
        assert loaded.state_dict()[key].dtype == torch.float32
        assert torch.equal(loaded.state_dict()[key], value.float()), key


def test_flip_translate_tta_is_measured_where_the_recipe_claims_with_it(tiny_cifar, zoo_manifest):
    from zoo._weights_entry import METRICS
    from zoo.data import load_dataset
    from zoo.evaluate import evaluate

    assert job.claimed_tta("airbench94") == "flip_translate"  # airbench's 94 % is with it
    assert job.claimed_tta("fast_resnet9") == "flip"
    torch.manual_seed(0)
    model = zoo.create("lenet5").eval()
    dataset = load_dataset("cifar10", "test", tiny_cifar)
    plain = job.measure(model, dataset, "cpu")
    assert "top1_tta" in plain and "top1_tta_translate" not in plain
    both = job.measure(model, dataset, "cpu", tta="flip_translate")
    expected = evaluate(model, dataset, device="cpu", tta="flip_translate").top1
    assert both["top1_tta_translate"] == round(expected, 2) and set(both) - set(plain) <= set(METRICS)


def test_the_runbook_commands_parse(tmp_path):
    text = (REPO / "docs" / "gpu_release.md").read_text()
    parsers = {name: _script(name).build_parser() for name in ("gpu_release", "gpu_speed_anchor")}
    seen = {name: set() for name in parsers}
    for name, command in re.findall(r"scripts/(gpu_release|gpu_speed_anchor)\.py([^`\n]*)", text):
        args = re.split(r"&&|;|\|\||'|\"", command)[0].replace("$OUT", str(tmp_path)).split()
        if args:  # else the script is only named
            parsers[name].parse_args(args)  # an unknown step or flag exits here
            seen[name].add(args[0] if name == "gpu_release" else "--data-dir" in args)
    assert seen == {"gpu_release": {"plan", "run", "send", "collect"}, "gpu_speed_anchor": {True}}
    for flag in set(re.findall(r"(?<![\w-])--[a-z][a-z-]+", text)):
        known = [p for p in parsers.values() if flag in _flags(p)]
        assert known or flag in DOC_FOREIGN_FLAGS, f"the runbook names {flag}, which no script takes"


# Flags of other tools' commands the runbook shows (rsync, pip).
DOC_FOREIGN_FLAGS = {"--exclude", "--remove-source-files", "--no-deps", "--no-index", "--no-compile",
                     "--no-cache-dir", "--upgrade", "--target", "--recipe"}  # fmt: skip


def _flags(parser) -> set[str]:
    import argparse

    subparsers = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    children = [child for action in subparsers for child in action.choices.values()]
    return set(parser._option_string_actions) | {f for child in children for f in _flags(child)}


def test_airbench_data_has_the_layout_its_loader_reads(tiny_cifar, tmp_path):
    from zoo_release.anchor import summarise, write_airbench_data

    folder = write_airbench_data(tiny_cifar, tmp_path)
    data = torch.load(folder / "test.pt", weights_only=True)
    assert data["images"].dtype == torch.uint8 and data["images"].shape[1:] == (32, 32, 3)
    assert len(data["labels"]) == len(data["images"]) and data["classes"][0] == "airplane"
    summary = summarise([{"seconds": 4.0, "top1": 94.1}], [{"seconds": 10.0, "top1": 93.9}], "gpu")
    assert summary["ratio_zoo_to_airbench"] == 2.5 and summary["reached_94"] == {
        "airbench94": True,
        "zoo": False,
    }


@pytest.mark.slow
def test_a_cpu_dry_run_of_the_whole_job_publishes_loadable_weights(
    shared_data, zoo_manifest, tmp_path, monkeypatch
):
    """lenet5 through the job (half precision forced, tiny shards, parts, several fetches), collect, load."""
    data_dir = shared_data / "cifar10-jpeg"
    work, calls = tmp_path / "work", [tmp_path / "call1"]
    tiny = {"device": "cpu", "limit_train": 256, "limit_test": 100, "batch_size": 64, "epochs": 2}
    settings = job.Settings(
        work, total_s=300, data_dir=data_dir, outbox=calls[0], limits=transport.Limits(files=6),
        file_bytes=40_000, shard_bytes=20_000, half_min_params=0, overrides=tiny,
    )  # fmt: skip
    summary = job.run_job([plan.Item("lenet5", 60)], settings, log=lambda line: None)
    assert list(summary["done"]) == ["lenet5"], summary
    report = json.loads((work / "lenet5" / "eval.json").read_text())
    assert report["epochs"] == 2 and report["test_images"] == 100 and report["dataset"] == "cifar10-jpeg"
    assert set(report["metrics"]) == {"top1", "top1_tta", "exact_top1", "loss", "rehearsal"}
    # fewer test images than the rehearsal takes: it is the whole (100-image) test set
    assert report["metrics"]["rehearsal"] == {"images": 100, "top1": report["metrics"]["top1"]}
    assert abs(report["dtype_trials"][-1]["top1"] - report["dtype_trials"][0]["top1"]) < 0.05 or (
        report["dtype"] == "float32"
    )
    assert json.loads((work / "lenet5" / "config.json").read_text())["time_budget_fit"]["epochs"] >= 2
    assert len((work / "lenet5" / "metrics.csv").read_text().splitlines()) == 3
    assert all(p.stat().st_size <= 40_000 for p in (work / "lenet5").glob("model*")), "shards and parts"
    assert len(list((calls[0] / "lenet5").iterdir())) == 6, "the job's fetch holds what the limits allow"
    calls += _fetch_all(work, tmp_path / "later", settings.limits)
    assert len(calls) >= 2, "later fetches bring the rest"

    gathered, releases = tmp_path / "gathered", tmp_path / "releases"
    for call in calls:
        shutil.copytree(call, gathered, dirs_exist_ok=True)
    held_back = sorted((gathered / "lenet5").glob("*.part1"))[0]
    held_back.rename(tmp_path / held_back.name)
    first = collect(gathered, releases, log=lambda line: None)
    assert first.incomplete == {"lenet5": [f"lenet5/{held_back.name}"]} and not first.published
    (tmp_path / held_back.name).rename(held_back)
    done = collect(gathered, releases, data_dir=data_dir, measure_here=True, log=lambda line: None)
    entry = done.published["lenet5.cifar10-jpeg"]
    measured_here = {**entry["metrics"], "rehearsal": entry["rehearsal"]}  # the rehearsal stands apart
    assert measured_here == report["metrics"], "the CPU measures what the job measured"
    assert entry["dtype"] == report["dtype"] and entry["recipe"] == "gpu-onecycle" and entry["epochs"] == 2
    assert re.fullmatch(r".+, \d+ s", entry["device"])

    monkeypatch.setenv("ZOO_WEIGHTS_DIR", str(releases))
    loaded = zoo.create("lenet5", pretrained=True)
    stored = job.cast(
        zoo.checkpoint.load_state(work / "lenet5" / "run" / "checkpoint"), getattr(torch, entry["dtype"])
    )
    assert all(torch.equal(loaded.state_dict()[k], v.to(torch.float32)) for k, v in stored.items())


# This project's lent GPU machine receives the working tree with each command, within 64 MiB together
# with the carried CIFAR-10 part (two batch files, about 61 MB): what travels besides the data must stay
# small.
TRAVEL_LIMIT = 64 * 2**20 - 2 * 30_730_000 - 256_000  # 64 MiB, less two batch files and batches.meta


def _tracked_bytes(root: Path, *exclude: str) -> int:
    import subprocess

    names = subprocess.run(["git", "ls-files", "-z"], cwd=root, capture_output=True, check=True).stdout
    paths = [n for n in names.decode().split("\0") if n and not n.startswith(exclude)]
    return sum((root / p).stat().st_size for p in paths if (root / p).is_file())


def test_the_tree_that_travels_to_a_gpu_leaves_room_for_the_data():
    root = Path(__file__).resolve().parents[1]
    if not (root / ".git").exists():
        pytest.skip("not a git checkout")
    assert _tracked_bytes(root, "releases/") < TRAVEL_LIMIT, "park releases/ (scripts/releases-park.sh)"


def test_park_untracks_and_ignores_releases_and_unpark_restores_them(tmp_path):
    import subprocess

    script = Path(__file__).resolve().parents[1] / "scripts" / "releases-park.sh"
    repo = tmp_path / "repo"
    (repo / "releases" / "m").mkdir(parents=True)
    (repo / "releases" / "m" / "model.safetensors").write_bytes(b"w" * 1000)
    (repo / "code.py").write_text("x = 1\n")

    def git(*args: str) -> str:
        return subprocess.run(["git", *args], cwd=repo, capture_output=True, text=True, check=True).stdout

    git("init", "-q")
    git("-c", "user.name=t", "-c", "user.email=t@t", "add", ".")
    git("-c", "user.name=t", "-c", "user.email=t@t", "commit", "-q", "-m", "init")
    subprocess.run([str(script), "park"], cwd=repo, check=True, capture_output=True)
    assert git("ls-files").split() == ["code.py"]
    assert git("ls-files", "--others", "--exclude-standard") == ""  # not untracked either: ignored
    assert (repo / "releases" / "m" / "model.safetensors").stat().st_size == 1000  # still on disk
    subprocess.run([str(script), "unpark"], cwd=repo, check=True, capture_output=True)
    assert git("status", "--porcelain") == "" and "releases/m/model.safetensors" in git("ls-files")


def test_the_rehearsal_of_a_large_model_takes_fewer_images_within_its_cost():
    sizes = {name: job.rehearsal_images(name) for name in ("lenet5", "vgg11", "resnet18", "resnext29_8x64d")}
    assert sizes["lenet5"] == sizes["vgg11"] == job.REHEARSAL_IMAGES  # small models: the full sample
    assert sizes["resnext29_8x64d"] < sizes["resnet18"] < job.REHEARSAL_IMAGES
    for name, images in sizes.items():
        assert images % 100 == 0 and 100 <= images
        cost = images * zoo.model_info(name).macs
        assert cost <= job.REHEARSAL_MACS or images == 100, (name, images, cost)
    assert job.measure_options("airbench94") == {"tta": "flip_translate", "rehearsal": 1000}
