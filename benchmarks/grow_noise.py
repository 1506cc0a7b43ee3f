"""What `zoo.grow`'s symmetry-breaking noise costs: logits and top-1 of source vs grown model.

    python benchmarks/grow_noise.py --data-dir ../shared/data/cifar10-jpeg --images 128
    python benchmarks/grow_noise.py --pair resnet18:resnet34 --source runs/r18 --noise 0

For each pair and noise level: max |logit difference| (and the largest |logit|, for scale) and
the share of images whose top-1 class changed, on the first N CIFAR-10 test images, eval mode.
Without --source the source is its architecture with randomised BatchNorm statistics and
affines (a stand-in for trained weights), seeded.
"""

from __future__ import annotations

import argparse

import torch
from torch import nn

import zoo
from zoo.data import NORMALISATION, load_dataset

PAIRS = ("resnext29_2x64d:resnext29_8x64d", "wrn16_8:wrn28_10")


def randomise_batchnorm(model: nn.Module, seed: int) -> nn.Module:
    """Give every BatchNorm the spread of statistics and affines a trained model has."""
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, nn.BatchNorm2d):
                module.weight.uniform_(0.5, 1.5, generator=generator)
                module.bias.normal_(0.0, 0.2, generator=generator)
                module.running_mean.normal_(0.0, 0.2, generator=generator)
                module.running_var.uniform_(0.5, 2.0, generator=generator)
    return model


@torch.no_grad()
def logits(model: nn.Module, images: torch.Tensor, batch: int = 32) -> torch.Tensor:
    model.eval()
    return torch.cat([model(images[i : i + batch]) for i in range(0, len(images), batch)])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", default="../shared/data/cifar10-jpeg")
    parser.add_argument("--images", type=int, default=128)
    parser.add_argument("--pair", action="append", help="SOURCE:TARGET (default: the pairs with copies)")
    parser.add_argument("--source", help="a model file / run folder to grow instead of a randomised source")
    parser.add_argument("--noise", type=float, action="append", help="default: 0, 1e-3, 1e-2")
    args = parser.parse_args()
    test = load_dataset("cifar10", "test", args.data_dir)
    mean, std = (torch.tensor(v).view(1, 3, 1, 1) for v in NORMALISATION["cifar10"])
    images = (test.images[: args.images].float() / 255 - mean) / std
    labels = test.labels[: args.images]
    print(
        "| source -> target | noise | max abs logit diff | max abs logit | top-1 changed "
        "| accuracy before / after |"
    )
    print("|---|---|---|---|---|---|")
    for pair in args.pair or PAIRS:
        name, target = pair.split(":")
        torch.manual_seed(0)  # the same randomised source in every run
        source = args.source or randomise_batchnorm(zoo.create(name), seed=0)
        before = logits(zoo.checkpoint.load_model(source)[0] if args.source else source, images)
        for noise in args.noise or (0.0, 1e-3, 1e-2):
            after = logits(zoo.grow(source, target, noise=noise), images)
            changed = (after.argmax(1) != before.argmax(1)).float().mean().item()
            diff, scale = (after - before).abs().max().item(), before.abs().max().item()
            accuracy = [(out.argmax(1) == labels).float().mean().item() for out in (before, after)]
            print(
                f"| {name} -> {target} | {noise:g} | {diff:.3g} | {scale:.3g} | {changed:.2%} "
                f"| {accuracy[0]:.2%} / {accuracy[1]:.2%} |",
                flush=True,
            )


if __name__ == "__main__":
    main()
