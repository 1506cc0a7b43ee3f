"""Registers AlexNet (CIFAR form)."""

from zoo import ModelSpec, Paper, hookimpl
from zoo.models import alexnet

# The seed's reported test top-1 (official CIFAR-10 / MNIST test sets), shown beside ours.
SEED_TOP1 = {
    "alexnet": "77.82 % (200 epochs)",
}

PAPER = Paper(
    "ImageNet Classification with Deep Convolutional Neural Networks",
    "https://papers.nips.cc/paper/2012/hash/c399862d3b9d6b76c8436e924a68c45b-Abstract.html",
)


@hookimpl
def zoo_register_models(register):
    register(
        ModelSpec(
            name="alexnet",
            family="alexnet",
            builder=alexnet.alexnet,
            params=2_472_266,
            macs=14_957_056,
            paper=PAPER,
            seed="seed 001 §1.2.2 (AlexNet, CIFAR form, 2.47 M params)",
            seed_top1=SEED_TOP1["alexnet"],
        )
    )
