"""Back from the GPU: verify the fetched shards, reassemble each model, export it as every release is.

What came back from the GPU machine is gathered as ``DIR/<model>/`` (eval.json, shards or their parts,
config.json, metrics.csv): either the fetched outboxes copied together, or the job's whole work folder
copied back (its finished.txt then says which model folders are finished). A model is published only
when every weights file eval.json lists is there with its recorded sha256 and size; `zoo.hub.export`
then writes releases/<repo-name>/ and the manifest entry, whose device field says where and how long
it trained ("NVIDIA H200, 143 s").
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from zoo.hub import sha256_of

from .transport import EVAL_FILE, FINISHED, finished_models, join_parts

RELEASE_SHARD_BYTES = 95_000_000  # a float32 wrn28_10 (146 MB) as two files, each under 100 MB


@dataclass
class Collected:
    """Per model: the manifest entry published, the files still missing, or why it failed."""

    published: dict[str, dict[str, Any]] = field(default_factory=dict)
    incomplete: dict[str, list[str]] = field(default_factory=dict)  # model -> "model/name" to fetch
    failed: dict[str, str] = field(default_factory=dict)


def missing_files(folder: Path, files: dict[str, dict[str, Any]]) -> list[str]:
    """Weights files of `folder` absent or not matching their record (parts joined first), as the
    names `transport.send --again` takes. A file that does not match is set aside as ``*.corrupt``."""
    missing = []
    for name, record in files.items():
        parts = record.get("parts", 1)
        pieces = [f"{name}.part{i}" for i in range(parts)] if parts > 1 else [name]
        if not join_parts(folder, name, parts):
            missing += [f"{folder.name}/{n}" for n in pieces if not (folder / n).is_file()]
            continue
        path = folder / name
        if path.stat().st_size != record["size"] or sha256_of(path) != record["sha256"]:
            for piece in {name, *pieces}:  # fetched again; never published
                if (folder / piece).is_file():
                    (folder / piece).rename(folder / f"{piece}.corrupt")
            missing += [f"{folder.name}/{n}" for n in pieces]
    return missing


def model_folders(gathered: Path) -> list[Path]:
    """The model folders of `gathered`: a work folder's finished ones (not its cache or a model cut
    short), else every folder, as the fetched outboxes hold only model folders."""
    if (gathered / FINISHED).is_file():
        return [gathered / model for model in finished_models(gathered)]
    return sorted(p for p in gathered.iterdir() if p.is_dir())


def reassemble(folder: Path, files: dict[str, dict[str, Any]]) -> Path:
    """One zoo model file, ``folder/checkpoint/model.safetensors``, from the verified shards."""
    from safetensors.torch import save_file

    from zoo.checkpoint import MODEL_FILE
    from zoo.weights import read_weights

    state, metadata = read_weights({name: folder / name for name in files})
    path = folder / "checkpoint" / MODEL_FILE
    path.parent.mkdir(exist_ok=True)
    meta = {k: v for k, v in metadata.items() if k.startswith("zoo.")}
    save_file(state, str(path), metadata={"format": "pt", **meta})
    return path


def remeasure(checkpoint: Path, report: dict[str, Any], data_dir: Path | None) -> dict[str, float]:
    """The metrics of `checkpoint` measured on this machine's CPU, on the images the job measured."""
    import torch

    import zoo
    from zoo.checkpoint import load_model
    from zoo.data import load_dataset

    from .job import measure, measure_options

    model, _ = load_model(checkpoint)
    dataset = load_dataset(zoo.model_info(report["model"]).dataset, "test", data_dir)
    if report["test_images"] < len(dataset):
        dataset = dataset.subset(torch.arange(report["test_images"]))
    return measure(model, dataset, "cpu", **measure_options(report["model"]))


def publish(
    checkpoint: Path, report: dict[str, Any], releases: Path, org: str, tag: str | None, metrics=None
):
    """Export the reassembled `checkpoint` with `zoo.hub.export`; the `PushResult`."""
    from zoo import hub

    tag = tag or report["dataset"]
    repo_id = f"{org}/{report['model']}-{tag}"
    provenance = {
        "dataset": report["dataset"],
        "recipe": report["recipe"],
        "epochs": report["epochs"],
        "device": f"{report['device']}, {round(report['train_seconds'])} s",
    }
    return hub.export(
        f"{report['model']}.{tag}",
        checkpoint,
        releases / hub.repo_dir_name(repo_id),
        repo_id,
        metrics={**(metrics or report["metrics"]), **provenance},
        max_shard_size=RELEASE_SHARD_BYTES,
    )


def collect(
    gathered: Path,
    releases: Path,
    *,
    org: str = "cifar-zoo",
    tag: str | None = None,
    data_dir: Path | None = None,
    measure_here: bool = False,
    log=print,
) -> Collected:
    """Publish every complete model folder of `gathered`; report the incomplete and the failed.

    `measure_here`: measure top-1 again on this machine's CPU and publish those figures (slow for
    the large models; the device's figures are fp32 without TF32, so they should agree).
    """
    from zoo import ZooError

    done = Collected()
    for folder in model_folders(Path(gathered)):
        if not (folder / EVAL_FILE).is_file():
            done.incomplete[folder.name] = [f"{folder.name}/{EVAL_FILE}"]
            continue
        report = json.loads((folder / EVAL_FILE).read_text())
        missing = missing_files(folder, report["files"])
        if missing:
            done.incomplete[folder.name] = missing
            continue
        try:
            checkpoint, metrics = reassemble(folder, report["files"]), None
            if measure_here:
                metrics = remeasure(checkpoint, report, data_dir)
                log(f"{folder.name}: measured here {metrics}, on the device {report['metrics']}")
            result = publish(checkpoint, report, releases, org, tag, metrics)
        except (ZooError, ValueError, OSError) as error:
            done.failed[folder.name] = f"{type(error).__name__}: {error}"
            continue
        done.published[f"{result.model}.{result.tag}"] = result.entry
        entry = result.entry
        log(f"{result.model}.{result.tag}: top-1 {entry['metrics']['top1']} %, {entry['device']}")
    return done
