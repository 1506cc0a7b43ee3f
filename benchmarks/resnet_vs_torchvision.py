"""zoo's resnet18 against the same network assembled from torchvision's ResNet, side by side.

torchvision.models.resnet.ResNet(BasicBlock, [2, 2, 2, 2], num_classes=10) with conv1 replaced by a
3x3 stride-1 convolution and the max-pool by Identity is the CIFAR ResNet-18 zoo builds; both are
timed on the same device, batch and memory format, with the repeats interleaved (A B B A ...) so
that load changes on a shared machine hit both alike. Prints throughputs and the ratio zoo/torchvision
(median of the per-repeat ratios; >= 1.0 means zoo is at least as fast).

    python benchmarks/resnet_vs_torchvision.py [--batch-size 32] [--repeats 7] [--threads N]

The defaults keep a run to about 2-4 minutes on 2 CPU cores (a train step at batch 32 takes ~3 s there).
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch
from torch import nn

import zoo
from zoo._measure import count_macs, count_params
from zoo.bench import eval_step, train_step


def torchvision_resnet18() -> nn.Module:
    from torchvision.models.resnet import BasicBlock, ResNet

    model = ResNet(BasicBlock, [2, 2, 2, 2], num_classes=10)
    model.conv1 = nn.Conv2d(3, 64, 3, 1, 1, bias=False)
    model.maxpool = nn.Identity()
    return model


def interleaved_rates(steps: dict, batch: int, repeats: int, min_time: float) -> dict[str, list[float]]:
    """Images/s per repeat for each named step; the order alternates every repeat."""
    names = list(steps)
    per_repeat = {}
    for name, step in steps.items():
        step()  # warm-up: first-call allocations, oneDNN primitive caching
        start = time.perf_counter()
        step()
        per_repeat[name] = max(1, round(min_time / (time.perf_counter() - start)))
    rates: dict[str, list[float]] = {name: [] for name in names}
    for r in range(repeats):
        for name in names if r % 2 == 0 else reversed(names):
            start = time.perf_counter()
            for _ in range(per_repeat[name]):
                steps[name]()
            rates[name].append(batch * per_repeat[name] / (time.perf_counter() - start))
    return rates


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--min-time", type=float, default=0.5, help="seconds per repeat (>= 1 step)")
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--modes", default="eval,train")
    parser.add_argument("--formats", default="contiguous,channels_last")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    models = {"zoo": zoo.create("resnet18"), "torchvision": torchvision_resnet18()}
    counts = {k: (count_params(m), count_macs(m, (3, 32, 32))) for k, m in models.items()}
    assert counts["zoo"] == counts["torchvision"], f"not the same network: {counts}"
    print(
        f"resnet18 CIFAR, {counts['zoo'][0]:,} params, {counts['zoo'][1]:,} MACs; "
        f"torch {torch.__version__}, {torch.get_num_threads()} threads, batch {args.batch_size}, "
        f"{args.repeats} interleaved repeats (median, min-max)"
    )
    print(f"{'format':<15}{'mode':<7}{'zoo img/s':>22}{'torchvision img/s':>24}{'zoo/tv':>8}")
    for memory_format in args.formats.split(","):
        fmt = getattr(torch, "channels_last" if memory_format == "channels_last" else "contiguous_format")
        for mode in args.modes.split(","):
            x = torch.randn(args.batch_size, 3, 32, 32).contiguous(memory_format=fmt)
            steps = {}
            for name, model in models.items():
                model.to(memory_format=fmt).train(mode == "train")
                steps[name] = train_step(model, model, x, 10) if mode == "train" else eval_step(model, x)
            rates = interleaved_rates(steps, args.batch_size, args.repeats, args.min_time)
            # Each repeat's pair ran back to back, so their ratio cancels most of the shared-load drift.
            ratio = statistics.median(z / t for z, t in zip(rates["zoo"], rates["torchvision"]))
            cells = [f"{statistics.median(v):8.1f} ({min(v):.0f}-{max(v):.0f})" for v in rates.values()]
            print(f"{memory_format:<15}{mode:<7}{cells[0]:>22}{cells[1]:>24}{ratio:>7.3f}x", flush=True)


if __name__ == "__main__":
    main()
