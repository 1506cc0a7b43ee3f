"""Registers ResNet-9 (Myrtle layout) and its fast-training variant."""

from zoo import ModelSpec, Paper, hookimpl
from zoo.models import resnet9

PAPER = Paper("How to train your ResNet", "https://myrtle.ai/learn/how-to-train-your-resnet/")


@hookimpl
def zoo_register_models(register):
    register(
        ModelSpec(
            name="resnet9",
            family="resnet9",
            builder=resnet9.resnet9,
            params=6_573_130,
            macs=379_261_952,
            paper=PAPER,
            seed="seed 001 §1.4.1 (ResNet18 reduced by two residual blocks, GELU)",
            kwargs={"act": "gelu"},
        )
    )
    register(
        ModelSpec(
            name="fast_resnet9",
            family="resnet9",
            builder=resnet9.fast_resnet9,
            params=6_573_130,
            macs=379_261_952,
            paper=PAPER,
            seed="seed 001 §1.4.2 (pool before BN, Ghost BatchNorm; recipe: label smoothing, flip TTA)",
            kwargs={"act": "gelu", "virtual_batch_size": 32},
            tags=("ghost_bn",),
        )
    )
