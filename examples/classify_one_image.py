"""Classify one image with published weights: create -> eval -> preprocess -> predict -> class name.

    python examples/classify_one_image.py cat.png            # any RGB image; resized to 32x32
    python examples/classify_one_image.py cat.png --model fast_resnet9

A model comes out of `zoo.create` in training mode, like every `nn.Module`: `.eval()` switches
BatchNorm and dropout to inference, and `zoo.preprocess(model)` applies the mean/std the weights
were trained with. Skipping either is the usual cause of "low accuracy" with pretrained CIFAR models.
"""

from __future__ import annotations

import argparse

import torch
from PIL import Image

import zoo


def classify(path: str, model_name: str = "lenet5", top: int = 3) -> list[tuple[str, float]]:
    """The `top` classes of the image in `path` and their probabilities."""
    model = zoo.create(model_name, pretrained=True).eval()
    x = zoo.preprocess(model)(Image.open(path).convert("RGB"))
    with torch.inference_mode():
        probabilities = model(x.unsqueeze(0)).softmax(1)[0]
    names = zoo.class_names(model)
    best = probabilities.topk(top)
    return [(names[i], float(p)) for p, i in zip(best.values, best.indices)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("image")
    parser.add_argument(
        "--model", default="lenet5", help="a model with published weights (`zoo list --pretrained`)"
    )
    args = parser.parse_args()
    for name, probability in classify(args.image, args.model):
        print(f"{name:12} {probability:6.1%}")


if __name__ == "__main__":
    main()
