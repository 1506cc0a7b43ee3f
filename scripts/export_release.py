"""Evaluate a `zoo train` run and export it as a release folder (what the Hub repo will hold).

    python scripts/export_release.py lenet5 runs/lenet5/checkpoint --repo-id cifar-zoo/lenet5-cifar10-jpeg \\
        --tag cifar10-jpeg --data-dir ../shared/data/cifar10-jpeg --trained-on "2-core x86-64 CPU" [--half]

Writes releases/<repo-name>/ (or --releases DIR/<repo-name>/: model.safetensors, config.json,
README.md) and the manifest entry with `revision: null`; `zoo push MODEL --from-folder
releases/<repo-name>` uploads it later, unchanged.
Flip TTA is measured for CIFAR-10 models only (MNIST digits are not mirror-symmetric), and flip +
translate TTA too where the model's recipe claims its figure with it (airbench94). With --half,
a model above 5M parameters is stored in float16 (else bfloat16) when that moves top-1 by less than
0.05 points, the rule the GPU release job applies too (zoo_release.job.choose_dtype); the figures
published are those of the stored weights, and the trials are printed. The entry also records the
top-1 of the seeded sample of test images `zoo eval --limit N` takes (`rehearsal`: 1,000, fewer for a large
model, zoo_release.job.rehearsal_images): the suite's quick release rehearsal reproduces it, while
the whole test set is checked in the slow lane (the largest models: `pytest -m whole_test_set`).
What the run changed of its named recipe (its config.json against the registered recipe, epochs
aside) is recorded as `recipe_changes` and shown on the model card.
--replace exports a new version of a tag already exported: its folder and manifest entry are
replaced once the new one is whole (git history keeps the old files).
--grown-from MODEL.TAG records the weights a grown model started from (`zoo grow`; default: what
the checkpoint's metadata says).
"""

from __future__ import annotations

import argparse
import json
import logging
import shutil
import sys
import tempfile
from pathlib import Path

import torch
from safetensors.torch import save_file
from zoo_release.job import cast, choose_dtype, measure, measure_options

from zoo import hub, model_info
from zoo._recipe import recipe_changes
from zoo.checkpoint import load_model, resolve_model_file
from zoo.data import load_dataset
from zoo.train.recipes import get_recipe

RELEASES = Path(__file__).resolve().parents[1] / "releases"
HALF_MIN_PARAMS = 5_000_000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model")
    parser.add_argument("checkpoint", type=Path)
    parser.add_argument("--repo-id", required=True)
    parser.add_argument("--tag", required=True)
    parser.add_argument("--data-dir", type=Path, required=True)
    parser.add_argument("--trained-on", required=True, help="device the weights were trained on")
    parser.add_argument("--epochs", type=int, help="epochs trained (default: the checkpoint's epoch)")
    parser.add_argument("--half", action="store_true", help="store in half precision where the rule allows")
    parser.add_argument("--grown-from", help="MODEL.TAG the weights were grown from (zoo grow)")
    parser.add_argument(
        "--releases", type=Path, default=RELEASES, help="folder of release folders (default: releases/)"
    )
    parser.add_argument(
        "--replace", action="store_true", help="a new version of a tag already exported: replaces its folder"
    )
    args = parser.parse_args()
    # zoo's progress lines (a pass over the test set takes minutes on a CPU) on stderr, which
    # `zoo campaign publish` shows as it comes
    zoo_log = logging.getLogger("zoo")
    zoo_log.addHandler(logging.StreamHandler(sys.stderr))
    zoo_log.setLevel(logging.INFO)
    folder = args.releases / hub.repo_dir_name(args.repo_id)
    if folder.exists() and any(folder.iterdir()) and not args.replace:  # said before minutes of evaluation
        sys.exit(
            f"export_release: {folder} holds a release already; --replace makes these weights its new version"
        )

    source = resolve_model_file(args.checkpoint)
    model, metadata = load_model(source)
    dataset = load_dataset(model_info(args.model).dataset, "test", args.data_dir)
    cpu = torch.device("cpu")
    min_params = HALF_MIN_PARAMS if args.half else float("inf")
    dtype, result, trials = choose_dtype(model.eval(), dataset, cpu, min_params)
    metrics = {
        **measure(model, dataset, cpu, plain=result, **measure_options(args.model)),
        "dataset": result.identity,
        "device": args.trained_on,
        "epochs": args.epochs or int(metadata["zoo.epoch"]),
    }
    if args.grown_from:
        metrics["grown_from"] = args.grown_from
    changes = changes_from_recipe(source)
    if changes:
        metrics["recipe_changes"] = changes
    new = folder.with_name(folder.name + ".new")  # the old release stays whole until this one is
    shutil.rmtree(new, ignore_errors=True)
    try:
        with tempfile.TemporaryDirectory() as tmp:
            if dtype != torch.float32:  # export keeps the dtype the file holds
                state = cast(model.state_dict(), dtype)  # model holds the chosen, rounded weights
                source = Path(tmp) / "model.safetensors"
                save_file({k: v.contiguous() for k, v in state.items()}, str(source), metadata=metadata)
            result = hub.export(f"{args.model}.{args.tag}", source, new, args.repo_id, metrics=metrics)
        shutil.rmtree(folder, ignore_errors=True)
        new.rename(folder)
    finally:  # half a release left beside the releases would be committed with them
        shutil.rmtree(new, ignore_errors=True)
    print(json.dumps({"folder": str(folder), "dtype_trials": trials, "entry": result.entry}, indent=2))


def changes_from_recipe(model_file: Path) -> dict:
    """What the run behind `model_file` (RUN/checkpoint/ or RUN/best/) changed of its named recipe,
    read from RUN/config.json; {} for a model file outside a run."""
    for folder in (model_file.parent, model_file.parent.parent):
        if (folder / "config.json").is_file():
            used = json.loads((folder / "config.json").read_text()).get("config", {}).get("recipe") or {}
            return recipe_changes(used, get_recipe(used["name"])) if "name" in used else {}
    return {}


if __name__ == "__main__":
    main()
