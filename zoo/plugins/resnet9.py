"""Registers ResNet-9 (Myrtle layout) and its fast-training variant."""

from zoo import ModelSpec, Paper, hookimpl
from zoo.models import resnet9

# The seed's reported test top-1 (official CIFAR-10 / MNIST test sets), shown beside ours.
SEED_TOP1 = {
    "resnet9": "83.31 % (10 epochs); 93.07 % (200 epochs)",
    "fast_resnet9": "94.03 % (10 epochs); 95.77 % (200 epochs)",
}

PAPER = Paper("How to train your ResNet", "https://myrtle.ai/learn/how-to-train-your-resnet/")


@hookimpl
def zoo_register_models(register):
    register(
        ModelSpec(
            name="resnet9",
            family="resnet9",
            builder=resnet9.resnet9,
            params=6_573_120,
            macs=379_261_952,
            paper=PAPER,
            seed="seed 001 §1.4.1 (ResNet18 less two residual blocks, GELU); code: the seed's resnet9.py",
            seed_top1=SEED_TOP1["resnet9"],
            kwargs={"act": "gelu"},
        )
    )
    register(
        ModelSpec(
            name="fast_resnet9",
            family="resnet9",
            builder=resnet9.fast_resnet9,
            params=6_573_849,
            trainable=6_570_880,
            macs=380_008_448,
            paper=PAPER,
            seed="seed 001 §1.4.2 (whitening, pool before BN, Ghost BN); code: the seed's fastresnet9.py",
            seed_top1=SEED_TOP1["fast_resnet9"],
            kwargs={"act": "gelu", "num_splits": 16},
            tags=("ghost_bn",),
            recipe="fast",
        )
    )
