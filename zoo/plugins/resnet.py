"""Registers the CIFAR ResNets."""

from zoo import ModelSpec, Paper, hookimpl
from zoo.models import resnet

PAPER = Paper("Deep Residual Learning for Image Recognition", "https://arxiv.org/abs/1512.03385")


@hookimpl
def zoo_register_models(register):
    register(
        ModelSpec(
            name="resnet18",
            family="resnet",
            builder=resnet.resnet18,
            params=11_173_962,
            macs=555_422_720,
            paper=PAPER,
            seed="seed 001 table 6 (ResNet-18, CIFAR stem)",
            kwargs={"act": "relu"},
        )
    )
