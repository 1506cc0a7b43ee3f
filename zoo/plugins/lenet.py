"""Registers LeNet-5."""

from zoo import ModelSpec, Paper, hookimpl
from zoo.models import lenet

# The seed's reported test top-1 (official CIFAR-10 / MNIST test sets), shown beside ours.
SEED_TOP1 = {
    "lenet5": "76.32 % (200 epochs)",
}

PAPER = Paper("Gradient-Based Learning Applied to Document Recognition", "https://doi.org/10.1109/5.726791")


@hookimpl
def zoo_register_models(register):
    register(
        ModelSpec(
            name="lenet5",
            family="lenet",
            builder=lenet.lenet5,
            params=62_006,
            macs=651_720,
            paper=PAPER,
            seed="seed 001 (LeNet-5 baseline, 76.32 % at 200 epochs)",
            seed_top1=SEED_TOP1["lenet5"],
            tags=("tiny",),
        )
    )
