"""Share of a resnet18 CPU train step spent producing the batch in zoo.data.DeviceLoader (target <= 5 %).

Two measurements, printed side by side:
  in-loop   `steps` real train steps (batch from the loader, forward, backward, SGD step); the time in
            next(loader) over the whole step. The first step is a warm-up and not counted.
  epoch     one whole epoch of batch production alone (per-epoch shuffle and augmentation draws
            included, amortised over its batches), against the in-loop median compute time.

    python benchmarks/train_step_data_share.py --data-dir /path/with/cifar-10-batches-py [--steps 5]
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch
import torch.nn.functional as F

import zoo
from zoo.data import Augment, DeviceLoader, load_dataset


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", default=None, help="CIFAR-10 directory (default: zoo's data cache)")
    parser.add_argument("--model", default="resnet18")
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--steps", type=int, default=5, help="timed train steps after one warm-up step")
    parser.add_argument("--channels-last", action="store_true")
    parser.add_argument("--threads", type=int, default=None)
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)

    train = load_dataset("cifar10", "train", args.data_dir)
    loader = DeviceLoader(
        train, args.batch_size, train=True, augment=Augment(), channels_last=args.channels_last
    )
    torch.manual_seed(0)
    model = zoo.create(args.model).train()
    if args.channels_last:
        model = model.to(memory_format=torch.channels_last)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9, nesterov=True, weight_decay=5e-4)

    batches = iter(loader)
    data_s, step_s = [], []
    for _ in range(1 + args.steps):
        start = time.perf_counter()
        x, y = next(batches)
        loaded = time.perf_counter()
        optimizer.zero_grad(set_to_none=True)
        F.cross_entropy(model(x), y).backward()
        optimizer.step()
        end = time.perf_counter()
        data_s.append(loaded - start)
        step_s.append(end - start)
    first_batch_s = data_s[0]  # includes the epoch's shuffle and augmentation draws
    data_s, step_s = data_s[1:], step_s[1:]

    loader.set_epoch(1)
    start = time.perf_counter()
    produced = sum(1 for _ in loader)
    epoch_per_batch = (time.perf_counter() - start) / produced
    compute = statistics.median(s - d for s, d in zip(step_s, data_s))

    layout = "channels_last" if args.channels_last else "contiguous"
    print(
        f"{args.model} train step on CPU ({torch.get_num_threads()} threads), {train.identity} train, "
        f"batch {args.batch_size}, {layout}, torch {torch.__version__}"
    )
    print(
        f"  in-loop ({args.steps} steps): data {1e3 * sum(data_s) / len(data_s):.2f} ms/batch of "
        f"{1e3 * sum(step_s) / len(step_s):.0f} ms/step -> share {100 * sum(data_s) / sum(step_s):.2f} %"
    )
    print(
        f"  epoch ({produced} batches, data only): {1e3 * epoch_per_batch:.2f} ms/batch vs compute "
        f"{1e3 * compute:.0f} ms -> share {100 * epoch_per_batch / (epoch_per_batch + compute):.2f} %"
    )
    print(
        f"  first batch of an epoch (shuffle + augmentation draws for all {len(train)} images): "
        f"{1e3 * first_batch_s:.1f} ms"
    )


if __name__ == "__main__":
    main()
