"""Registers the CIFAR DenseNets."""

from zoo import ModelSpec, Paper, hookimpl
from zoo.models import densenet

# The seed's reported test top-1 (official CIFAR-10 / MNIST test sets), shown beside ours.
SEED_TOP1 = {
    "densenet100_bc": "95.20 % (200 epochs)",
    "densenet121": "95.35 % (200 epochs)",
}

PAPER = Paper("Densely Connected Convolutional Networks", "https://arxiv.org/abs/1608.06993")


@hookimpl
def zoo_register_models(register):
    # name, params, MACs, seed figure
    for name, params, macs, seed in (
        ("densenet100_bc", 769_162, 287_929_692, "DenseNet100_bc 0.77M (L=100, k=12); code: CIFAR-ZOO"),
        ("densenet121", 6_956_298, 888_350_720, "DenseNet121 6.96M (k=32, CIFAR stem); code: pytorch-cifar"),
    ):
        register(
            ModelSpec(
                name=name,
                family="densenet",
                builder=getattr(densenet, name),
                params=params,
                macs=macs,
                paper=PAPER,
                seed=f"seed table: {seed}",
                seed_top1=SEED_TOP1.get(name, ""),
            )
        )
