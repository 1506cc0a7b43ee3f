"""Measure a published release's quick-rehearsal figure again, at the size its model gets now.

    python scripts/rehearse_release.py resnext29_8x64d.cifar10-jpeg [MODEL.TAG ...] \\
        --data-dir ../shared/data/cifar10-jpeg

The manifest's `rehearsal` is the top-1 of the seeded test sample `zoo eval --limit N` takes, which
tests/test_release.py reproduces in the quick suite. An export records it at
`zoo_release.job.rehearsal_images(model)` images (1,000, fewer for a large model); a release
exported before that rule took 1,000 images, minutes of the quick suite for the largest models.
This evaluates the release's own weights (releases/ beside the manifest) exactly as the rehearsal
does, on the images it will take, and rewrites the entry's `rehearsal` only: the whole-test-set
figures stay those the export measured.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from zoo_release.job import full_fp32, rehearsal_images

from zoo.evaluate import evaluate_model
from zoo.weights import weights_entry
from zoo.weights.manifest import manifest_path, write_entry


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("releases", nargs="+", metavar="MODEL.TAG")
    parser.add_argument("--data-dir", type=Path, required=True, help="the release's data set folder")
    args = parser.parse_args()
    for name in args.releases:
        model, _, tag = name.partition(".")
        entry = weights_entry(model, tag) if tag else None
        if entry is None:
            print(f"error: {name!r} is no release in {manifest_path()} (write MODEL.TAG)", file=sys.stderr)
            return 2
        images = rehearsal_images(model)
        with full_fp32():
            result = evaluate_model(name, pretrained=True, data_dir=args.data_dir, limit=images)
        if result.identity != entry["dataset"]:
            print(f"error: {args.data_dir} holds {result.identity}, {name} was measured on "
                  f"{entry['dataset']}", file=sys.stderr)  # fmt: skip
            return 2
        before = entry.get("rehearsal")
        entry = {**entry, "rehearsal": {"images": images, "top1": round(result.top1, 2)}}
        write_entry(model, tag, entry)
        print(f"{name}: rehearsal {before} -> {entry['rehearsal']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
