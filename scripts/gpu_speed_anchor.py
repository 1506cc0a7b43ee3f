"""airbench94 beside `zoo train fast_resnet9 --recipe fast` on one GPU (docs/gpu_release.md, "Speed anchor").

On the GPU machine, with airbench importable (installed, or a wheel unpacked onto PYTHONPATH):
    PYTHONPATH=$PWD python3 scripts/gpu_speed_anchor.py --data-dir DATA --out anchor.json
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--data-dir", type=Path, required=True, help="the folder holding cifar-10-batches-py/"
    )
    parser.add_argument("--out", type=Path, required=True, help="the JSON written")
    parser.add_argument("--runs", type=int, default=3, help="timed runs of each (after a warm-up)")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    out = args.out.resolve()  # airbench changes the working directory

    import torch
    from zoo_release import anchor

    if not torch.cuda.is_available():
        raise SystemExit("the speed anchor needs a CUDA GPU (airbench runs on CUDA only)")
    work = Path(tempfile.mkdtemp(prefix="anchor-"))
    anchor.write_airbench_data(args.data_dir, work)
    zoo_rows = anchor.time_zoo(args.data_dir.resolve(), work / "zoo", args.runs)
    airbench_rows = anchor.time_airbench(work, args.runs)
    summary = anchor.summarise(airbench_rows, zoo_rows, torch.cuda.get_device_name())
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(summary, indent=2) + "\n")
    print(json.dumps(summary, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
