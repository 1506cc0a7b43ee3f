"""Registers the CIFAR ResNets."""

from zoo import ModelSpec, Paper, hookimpl
from zoo.models import resnet

# The seed's reported test top-1 (official CIFAR-10 / MNIST test sets), shown beside ours.
SEED_TOP1 = {
    "resnet18": "95.29 % (200 epochs)",
    "resnet34": "95.58 % (200 epochs)",
    "resnet50": "94.66 % (200 epochs)",
}

PAPER = Paper("Deep Residual Learning for Image Recognition", "https://arxiv.org/abs/1512.03385")

# name, params, MACs, seed row
_MODELS = (
    ("resnet18", 11_173_962, 555_422_720, "seed 001 table 6 (ResNet-18, CIFAR stem)"),
    ("resnet34", 21_282_122, 1_159_402_496, "seed 001 table 6 (ResNet-34, CIFAR stem)"),
    ("resnet50", 23_520_842, 1_297_829_888, "seed 001 table 6 (ResNet-50, CIFAR stem)"),
)


@hookimpl
def zoo_register_models(register):
    for name, params, macs, seed in _MODELS:
        register(
            ModelSpec(
                name=name,
                family="resnet",
                builder=getattr(resnet, name),
                params=params,
                macs=macs,
                paper=PAPER,
                seed=seed,
                seed_top1=SEED_TOP1.get(name, ""),
                kwargs={"act": "relu"},
            )
        )
