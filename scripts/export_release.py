"""Evaluate a `zoo train` run and export it as a release folder (what the Hub repo will hold).

    python scripts/export_release.py lenet5 runs/lenet5/checkpoint --repo-id cifar-zoo/lenet5-cifar10-jpeg \\
        --tag cifar10-jpeg --data-dir ../shared/data/cifar10-jpeg --trained-on "2-core x86-64 CPU"

Writes releases/<repo-name>/ (model.safetensors, config.json, README.md) and the manifest entry with
`revision: null`; `zoo push MODEL --from-folder releases/<repo-name>` uploads it later, unchanged.
Flip TTA is measured for CIFAR-10 models only (MNIST digits are not mirror-symmetric).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from zoo import hub, model_info
from zoo.checkpoint import read_metadata
from zoo.evaluate import evaluate_model

RELEASES = Path(__file__).resolve().parents[1] / "releases"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model")
    parser.add_argument("checkpoint", type=Path)
    parser.add_argument("--repo-id", required=True)
    parser.add_argument("--tag", required=True)
    parser.add_argument("--data-dir", type=Path, required=True)
    parser.add_argument("--trained-on", required=True, help="device the weights were trained on")
    parser.add_argument("--epochs", type=int, help="epochs trained (default: the checkpoint's epoch)")
    args = parser.parse_args()

    plain = evaluate_model(args.model, checkpoint=args.checkpoint, data_dir=args.data_dir)
    metadata = read_metadata(args.checkpoint)
    metrics = {
        "top1": round(plain.top1, 2),
        "loss": round(plain.loss, 4),
        "dataset": plain.identity,
        "device": args.trained_on,
        "epochs": args.epochs or int(metadata["zoo.epoch"]),
    }
    if plain.exact_top1 is not None:
        metrics["exact_top1"] = round(plain.exact_top1, 2)
    if model_info(args.model).dataset == "cifar10":
        flipped = evaluate_model(args.model, checkpoint=args.checkpoint, data_dir=args.data_dir, tta="flip")
        metrics["top1_tta"] = round(flipped.top1, 2)
    folder = RELEASES / hub.repo_dir_name(args.repo_id)
    result = hub.export(f"{args.model}.{args.tag}", args.checkpoint, folder, args.repo_id, metrics=metrics)
    print(json.dumps({"folder": str(folder), "entry": result.entry}, indent=2))


if __name__ == "__main__":
    main()
