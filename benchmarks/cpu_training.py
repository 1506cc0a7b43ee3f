"""Training speed on this CPU against its limit, per model: zoo's whole loop, the bare step, plain fp32.

For each model, at its default recipe's batch size, on random data, the script times four things,
each in a process of its own (the C allocator's setting is per process), alternating them
`--repeats` times so that machine load hits all alike (the medians are printed):
  plain    the textbook fp32 step: contiguous tensors ready in memory, forward, loss, backward, SGD
           step, with the system's malloc as it comes
  system   the bare step below, with the system's malloc as it comes
  bare     the same step on channels_last tensors in the precision zoo picks for this CPU (bf16
           autocast where the CPU has native bf16, else fp32), with freed memory kept for reuse as
           zoo's CPU training runs (zoo._memory): what the CPU's fast kernels reach
  zoo      what `zoo train` runs by default on this device: zoo.train.loop.train_one_epoch over a
           zoo.data.DeviceLoader (uint8 images normalised and augmented per batch as the recipe says),
           with the precision, memory format and allocator setting zoo.train picks ("auto")
and, once first, the matmul peak in that precision: a large matrix product on all threads (the best
of a few). On a CPU without native bf16 (AVX2 only, say) both bare and the peak are fp32, and x fp32
is what channels_last and the kept memory buy.

Columns:
  e2e img/s    images per second of `zoo`, the whole training loop with its data pipeline
  bare img/s   images per second of `bare`
  x fp32       bare img/s / plain img/s: what bf16 autocast (where native), channels_last and the
               kept memory buy together
  x kept       bare img/s / system img/s: what keeping freed memory alone buys
  peak %       bare FLOP/s as a share of the measured matmul peak; a step's FLOPs are
               3 x forward MACs (zoo.model_info(name).macs) x 2 per image (forward, two backward)
  loop %       e2e img/s / bare img/s: what the loop around the step keeps of it
  zoo settings the precision, memory format and allocator setting `zoo` ran with

    python benchmarks/cpu_training.py [--models resnet18 fast_resnet9] [--steps 4] [--repeats 3]

The default models: every built-in model with a convolution (the seed models but the MLPs, and airbench94).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from contextlib import nullcontext

import torch
from torch import nn

import zoo
from zoo._memory import ENV, keep_freed_memory
from zoo.data import Augment, DeviceLoader
from zoo.data.array_dataset import ArrayDataset
from zoo.train.budget import Head
from zoo.train.distributed import DistContext
from zoo.train.loop import train_one_epoch
from zoo.train.optim import build_loss, build_optimizer, build_schedule
from zoo.train.recipes import default_recipe_name, get_recipe
from zoo.train.report import EpochProgress
from zoo.train.runtime import Precision, choose_channels_last, choose_precision


def conv_models() -> list[str]:
    """Every built-in model with a convolution (built on the meta device: no memory, no init)."""
    names = []
    for name in zoo.list_models():
        if not zoo.model_info(name).plugin.startswith("zoo.plugins."):
            continue  # a third-party plugin's model
        with torch.device("meta"):
            model = zoo.create(name)
        if any(isinstance(m, nn.Conv2d) for m in model.modules()):
            names.append(name)
    return names


def matmul_peak(dtype: torch.dtype, size: int = 2048, repeats: int = 5, seconds: float = 0.5) -> float:
    """FLOP/s of a `size`-square matmul in `dtype` on all threads: the best of `repeats` timings of
    `seconds`."""
    a, b = (torch.randn(size, size).to(dtype) for _ in range(2))
    out = torch.empty(size, size, dtype=dtype)
    for _ in range(3):  # oneDNN picks and primes its kernel
        torch.mm(a, b, out=out)
    best = 0.0
    for _ in range(repeats):
        done, start = 0, time.perf_counter()
        while (elapsed := time.perf_counter() - start) < seconds:
            torch.mm(a, b, out=out)
            done += 1
        best = max(best, 2 * size**3 * done / elapsed)
    return best


def bare_step(name: str, batch: int, steps: int, warmup: int, *, fast: Precision | None) -> float:
    """img/s of forward, loss, backward and SGD step on ready tensors: fp32, or with `fast` that
    precision's autocast on channels_last."""
    spec = zoo.model_info(name)
    layout = torch.channels_last if fast else torch.contiguous_format
    model = zoo.create(name).train().to(memory_format=layout)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9, weight_decay=5e-4)
    loss_fn = nn.CrossEntropyLoss()
    x = torch.randn(batch, *spec.input_size).contiguous(memory_format=layout)
    y = torch.randint(0, spec.num_classes, (batch,))
    autocast = fast.autocast if fast else nullcontext

    def step() -> None:
        with autocast():
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


def _images(spec, n: int) -> ArrayDataset:
    channels, height, width = spec.input_size
    generator = torch.Generator().manual_seed(0)
    images = torch.randint(0, 256, (n, channels, height, width), dtype=torch.uint8, generator=generator)
    labels = torch.randint(0, spec.num_classes, (n,), generator=generator)
    classes = tuple(str(i) for i in range(spec.num_classes))
    return ArrayDataset(images, labels, "random", classes, (0.5,) * channels, (0.25,) * channels)


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
    settings += " + freed memory kept" if keep_freed_memory() == "kept" else ""
    return batch * steps / seconds, settings


MEASUREMENTS = {  # name: (malloc choice of its process, what it times)
    "plain": ("system", "the textbook fp32 step"),
    "system": ("system", "the bare step, system malloc"),
    "bare": ("keep", "the bare step, freed memory kept"),
    "zoo": ("keep", "zoo's training loop"),
}


def measure(what: str, name: str, batch: int, steps: int, warmup: int) -> dict:
    """One measurement in this process (a child of `main`): img/s and the settings it ran with."""
    keep_freed_memory()  # as ZOO_CPU_MALLOC, which `main` set for this child, says
    fast = choose_precision(torch.device("cpu"), "auto")
    if what == "zoo":
        speed, settings = zoo_path(name, batch, steps, warmup)
        return {"img_per_s": speed, "settings": settings}
    return {"img_per_s": bare_step(name, batch, steps, warmup, fast=None if what == "plain" else fast)}


def _child(args: argparse.Namespace, what: str, name: str, batch: int) -> dict:
    command = [
        sys.executable, __file__, "--measure", what, "--models", name, "--batch", str(batch),
        "--steps", str(args.steps), "--warmup", str(args.warmup),
        *(["--threads", str(args.threads)] if args.threads else []),
    ]  # fmt: skip
    env = {**os.environ, ENV: MEASUREMENTS[what][0]}
    done = subprocess.run(command, env=env, capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"{name}: measuring {MEASUREMENTS[what][1]} failed:\n{done.stderr}")
    return json.loads(done.stdout.splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+", help="default: every built-in model with a convolution")
    parser.add_argument("--steps", type=int, default=4, help="timed steps per measurement")
    parser.add_argument("--warmup", type=int, default=2, help="untimed steps first")
    parser.add_argument("--repeats", type=int, default=3, help="alternating measurements of each kind")
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--measure", choices=list(MEASUREMENTS), help=argparse.SUPPRESS)  # a child's
    parser.add_argument("--batch", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    if args.measure:
        print(json.dumps(measure(args.measure, args.models[0], args.batch, args.steps, args.warmup)))
        return
    keep_freed_memory()
    fast = choose_precision(torch.device("cpu"), "auto")  # what zoo trains in here
    peak = matmul_peak(fast.dtype or torch.float32)
    capability = torch.backends.cpu.get_cpu_capability()
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, cpu capability {capability}; "
          f"{fast.name} matmul peak {peak / 1e9:.0f} GFLOP/s (bare steps in {fast.name})")  # fmt: skip
    print(f"{'model':<18}{'batch':>6}{'e2e img/s':>11}{'bare img/s':>12}{'x fp32':>8}{'x kept':>8}"
          f"{'peak %':>8}{'loop %':>8}  zoo settings")  # fmt: skip
    for name in args.models or conv_models():
        batch = get_recipe(default_recipe_name(name)).batch_size
        runs: dict[str, list[float]] = {what: [] for what in MEASUREMENTS}
        settings = ""
        for _ in range(args.repeats):
            for what in MEASUREMENTS:
                result = _child(args, what, name, batch)
                runs[what].append(result["img_per_s"])
                settings = result.get("settings", settings)
        plain, system, bare, ours = (statistics.median(runs[k]) for k in MEASUREMENTS)
        share = bare * 6 * zoo.model_info(name).macs / peak  # 3 x forward MACs x 2 FLOPs per image
        print(f"{name:<18}{batch:>6}{ours:>11.0f}{bare:>12.0f}{bare / plain:>7.2f}x{bare / system:>7.2f}x"
              f"{share:>8.0%}{ours / bare:>8.0%}  {settings}", flush=True)  # fmt: skip


if __name__ == "__main__":
    main()
