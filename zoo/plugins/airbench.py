"""Registers airbench94, the network of K. Jordan's 94 % CIFAR-10 speed record (an extra model)."""

from zoo import ModelSpec, Paper, hookimpl
from zoo.models import airbench

PAPER = Paper("94% on CIFAR-10 in 3.29 Seconds on a Single GPU", "https://arxiv.org/abs/2404.00498")


@hookimpl
def zoo_register_models(register):
    register(
        ModelSpec(
            name="airbench94",
            family="airbench",
            builder=airbench.airbench94,
            params=1_972_792,
            trainable=1_971_352,
            macs=118_147_360,
            paper=PAPER,
            seed=(
                "none: an extra model (issue 18), K. Jordan's airbench94.py "
                "(github.com/KellerJordan/cifar10-airbench) in zoo's model API"
            ),
            kwargs={"act": "gelu"},
            recipe="airbench94",
        )
    )
