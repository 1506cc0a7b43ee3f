"""zoo's default training path against a plain fp32 eager PyTorch loop, side by side, per model.

For each model, at its default recipe's batch size, on the same random data:
  plain    the loop a user writes: fp32, contiguous tensors already normalised, forward, loss,
           backward, SGD step. No data pipeline at all.
  zoo      what `zoo train` runs by default on this device: zoo.train.loop.train_one_epoch over a
           zoo.data.DeviceLoader (uint8 images normalised and augmented per batch as the recipe says),
           with the precision and memory format zoo.train.runtime picks ("auto").
Both time `--steps` steps after `--warmup` untimed ones, alternating plain/zoo `--repeats` times so
that machine load hits both alike; the ratio is the median zoo img/s over the median plain img/s.

    python benchmarks/cpu_training.py [--models resnet18 fast_resnet9 vgg11 alexnet mlp22] [--steps 4]
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch
from torch import nn

import zoo
from zoo.data import Augment, DeviceLoader
from zoo.data.array_dataset import ArrayDataset
from zoo.train.budget import Head
from zoo.train.distributed import DistContext
from zoo.train.loop import train_one_epoch
from zoo.train.optim import build_loss, build_optimizer, build_schedule
from zoo.train.recipes import default_recipe_name, get_recipe
from zoo.train.report import EpochProgress
from zoo.train.runtime import choose_channels_last, choose_precision

MODELS = ("resnet18", "fast_resnet9", "vgg11", "alexnet", "mlp22")


def _images(spec, n: int) -> ArrayDataset:
    channels, height, width = spec.input_size if len(spec.input_size) == 3 else (1, 28, 28)
    generator = torch.Generator().manual_seed(0)
    images = torch.randint(0, 256, (n, channels, height, width), dtype=torch.uint8, generator=generator)
    labels = torch.randint(0, spec.num_classes, (n,), generator=generator)
    classes = tuple(str(i) for i in range(spec.num_classes))
    return ArrayDataset(images, labels, "random", classes, (0.5,) * channels, (0.25,) * channels)


def plain_loop(name: str, batch: int, steps: int, warmup: int) -> float:
    """img/s of the textbook fp32 loop."""
    spec = zoo.model_info(name)
    model = zoo.create(name).train()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9, weight_decay=5e-4)
    loss_fn = nn.CrossEntropyLoss()
    x = torch.randn(batch, *spec.input_size)
    y = torch.randint(0, spec.num_classes, (batch,))

    def step() -> None:
        loss = loss_fn(model(x), y)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()

    for _ in range(warmup):
        step()
    start = time.perf_counter()
    for _ in range(steps):
        step()
    return batch * steps / (time.perf_counter() - start)


def zoo_path(name: str, batch: int, steps: int, warmup: int) -> tuple[float, str]:
    """img/s of zoo's default training path, and the settings it chose."""
    spec = zoo.model_info(name)
    recipe = get_recipe(default_recipe_name(name))
    device = torch.device("cpu")
    precision = choose_precision(device, "auto")
    model = zoo.create(name)
    channels_last = choose_channels_last(device, model, None)
    model = model.to(memory_format=torch.channels_last if channels_last else torch.preserve_format)
    augment = Augment(crop_padding=recipe.crop_padding, flip=recipe.flip, cutout=recipe.cutout)
    loader = DeviceLoader(
        _images(spec, batch * (steps + warmup)),
        batch,
        train=True,
        augment=augment,
        channels_last=channels_last,
        drop_last=True,
    )
    optimizer = build_optimizer(model.parameters(), recipe)
    schedule = build_schedule(optimizer, recipe, len(loader))
    ctx = DistContext(device=device)

    def run(n: int) -> float:
        start = time.perf_counter()
        train_one_epoch(
            model, Head(loader, n), build_loss(recipe, spec.num_classes), optimizer, schedule,
            precision, None, epoch=1, global_step=0, ctx=ctx, progress=EpochProgress(False),
        )  # fmt: skip
        return time.perf_counter() - start

    run(warmup)
    seconds = run(steps)
    settings = precision.name + (" + channels_last" if channels_last else "")
    return batch * steps / seconds, settings


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+", default=list(MODELS))
    parser.add_argument("--steps", type=int, default=4, help="timed steps per measurement")
    parser.add_argument("--warmup", type=int, default=2, help="untimed steps first")
    parser.add_argument("--repeats", type=int, default=3, help="alternating plain/zoo measurements")
    parser.add_argument("--threads", type=int, default=None)
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, cpu capability "
          f"{torch.backends.cpu.get_cpu_capability()}")  # fmt: skip
    print(f"{'model':<14}{'batch':>6}{'plain fp32 img/s':>18}{'zoo img/s':>12}{'ratio':>8}  zoo settings")
    for name in args.models:
        batch = get_recipe(default_recipe_name(name)).batch_size
        plain, ours = [], []
        for _ in range(args.repeats):
            plain.append(plain_loop(name, batch, args.steps, args.warmup))
            speed, settings = zoo_path(name, batch, args.steps, args.warmup)
            ours.append(speed)
        p, z = statistics.median(plain), statistics.median(ours)
        print(f"{name:<14}{batch:>6}{p:>18.0f}{z:>12.0f}{z / p:>7.2f}x  {settings}", flush=True)


if __name__ == "__main__":
    main()
