"""Registers the Wide ResNets."""

from zoo import ModelSpec, Paper, hookimpl
from zoo.models import wide_resnet

# The seed's reported test top-1 (official CIFAR-10 / MNIST test sets), shown beside ours.
SEED_TOP1 = {
    "wrn16_8": "95.18 % (200 epochs)",
    "wrn28_10": "96.63 % (200 epochs)",
}

PAPER = Paper("Wide Residual Networks", "https://arxiv.org/abs/1605.07146")


@hookimpl
def zoo_register_models(register):
    # name, params, MACs, seed figure
    for name, params, macs, seed in (
        ("wrn16_8", 10_965_866, 1_548_145_664, "seed table: WideResNet16x8 10.97M"),
        ("wrn28_10", 36_489_290, 5_243_328_768, "seed table: WideResNet28x10 36.49M"),
    ):
        register(
            ModelSpec(
                name=name,
                family="wide_resnet",
                builder=getattr(wide_resnet, name),
                params=params,
                macs=macs,
                paper=PAPER,
                seed=f"{seed}; code: weiaicunzai/pytorch-cifar100",
                seed_top1=SEED_TOP1.get(name, ""),
                kwargs={"dropout": 0.5, "preact_shortcut": False},
            )
        )
