"""How much `zoo.create(name, pretrained=True)` costs over loading the same file by hand.

Publishes freshly initialised weights to the local test hub (tests/hub_server.py), pulls them into a
temporary Hugging Face cache, then times side by side, interleaved, in one process:

- raw:          safetensors.torch.load_file(<cached file>) + model construction + load_state_dict
- zoo:          zoo.create(name, pretrained=True), with the verification sidecar (no re-hash)
- zoo rehash:   the same with ZOO_REHASH=1 (sha256 of every file on every load)

Target: zoo / raw <= 1.3.
Run: python benchmarks/load_time.py [--models lenet5 resnet18] [--repeats 15] [--threads 1]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def _serve_and_configure(tmp: Path):
    """Start the test hub and aim huggingface_hub and zoo at it (before huggingface_hub is imported)."""
    sys.path.insert(0, str(REPO / "tests"))
    from hub_server import HubServer

    server = HubServer().start()
    manifest = tmp / "weights_manifest.json"
    manifest.write_text(json.dumps({"schema_version": 1, "models": {}}))
    os.environ.update(
        {
            "HF_ENDPOINT": server.url,
            "HF_HOME": str(tmp / "hf"),
            "HF_HUB_CACHE": str(tmp / "hf" / "hub"),
            "HF_HUB_DISABLE_TELEMETRY": "1",
            "HF_HUB_DISABLE_PROGRESS_BARS": "1",
            "ZOO_MANIFEST": str(manifest),
            "ZOO_CACHE_DIR": str(tmp / "zoo-cache"),
        }
    )
    for name in ("HF_TOKEN", "HF_HUB_OFFLINE", "ZOO_WEIGHTS_DIR", "ZOO_REHASH"):
        os.environ.pop(name, None)
    return server


def _publish(name: str, tmp: Path) -> Path:
    import torch

    import zoo
    from zoo import hub
    from zoo._files import RACY_SECONDS
    from zoo.checkpoint import save_model

    torch.manual_seed(0)
    checkpoint = save_model(zoo.create(name), tmp / "runs" / name, name=name)
    hub.push(name, checkpoint, f"bench/{name}", tag="bench", metrics={"top1": 0.0})
    [path] = hub.pull(name)[f"{name}.bench"]
    # A file this fresh is re-hashed until its stat can be trusted (zoo.weights._verify): time steady state.
    time.sleep(RACY_SECONDS)
    return path


def _timings(name: str, path: Path, repeats: int) -> dict[str, list[float]]:
    from safetensors.torch import load_file

    import zoo

    spec = zoo.model_info(name)

    def raw() -> None:
        model = spec.builder(num_classes=spec.num_classes, **spec.kwargs)
        model.load_state_dict(load_file(str(path)))

    def via_zoo() -> None:
        zoo.create(name, pretrained=True)

    def via_zoo_rehash() -> None:
        os.environ["ZOO_REHASH"] = "1"
        try:
            zoo.create(name, pretrained=True)
        finally:
            del os.environ["ZOO_REHASH"]

    cases = {"raw": raw, "zoo": via_zoo, "zoo rehash": via_zoo_rehash}
    times: dict[str, list[float]] = {label: [] for label in cases}
    for fn in cases.values():  # warm-up: imports, registry, page cache
        fn()
    order = list(cases)
    shuffle = random.Random(0).shuffle
    for _ in range(repeats):
        shuffle(order)  # interleaved in a new order each round: load and allocator state hit every case alike
        for label in order:
            fn = cases[label]
            start = time.perf_counter()
            fn()
            times[label].append(time.perf_counter() - start)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+", default=["lenet5", "resnet18"])
    parser.add_argument("--repeats", type=int, default=15)
    parser.add_argument(
        "--threads",
        type=int,
        default=1,
        help="torch threads (1: copies do not wait on a busy machine's cores)",
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="zoo-load-bench-") as tmp_dir:
        tmp = Path(tmp_dir)
        server = _serve_and_configure(tmp)
        try:
            import torch

            torch.set_num_threads(args.threads)
            print(
                f"torch {torch.__version__}, {torch.get_num_threads()} threads, "
                f"{args.repeats} interleaved runs; median (and min: less sensitive to other load)"
            )
            print(
                f"{'model':<10} {'file MB':>8} {'raw ms':>14} {'zoo ms':>14} {'zoo/raw':>12} "
                f"{'rehash ms':>14} {'rehash/raw':>12}"
            )
            for name in args.models:
                path = _publish(name, tmp)
                times = _timings(name, path, args.repeats)
                columns = [f"{name:<10}", f"{path.stat().st_size / 1e6:>8.2f}"]
                raw_med, raw_min = statistics.median(times["raw"]), min(times["raw"])
                for label in ("raw", "zoo", "zoo rehash"):
                    med, low = statistics.median(times[label]), min(times[label])
                    columns.append(f"{med * 1e3:>7.1f} ({low * 1e3:>4.1f})")
                    if label != "raw":
                        columns.append(f"{med / raw_med:>5.2f} ({low / raw_min:.2f})")
                print(" ".join(columns))
        finally:
            server.stop()


if __name__ == "__main__":
    main()
