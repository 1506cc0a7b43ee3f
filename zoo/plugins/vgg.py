"""Registers VGG-11 with and without BatchNorm."""

from zoo import ModelSpec, Paper, hookimpl
from zoo.models import vgg

# The seed's reported test top-1 (official CIFAR-10 / MNIST test sets), shown beside ours.
SEED_TOP1 = {
    "vgg11": "79.5 % (20 epochs, SGD 0.1, no schedule)",
    "vgg11_bn": "82.8 % (20 epochs, SGD 0.1, no schedule)",
}

PAPER = Paper(
    "Very Deep Convolutional Networks for Large-Scale Image Recognition", "https://arxiv.org/abs/1409.1556"
)
SEED = "VGG-A of the seeds' BatchNorm study (config A, classifier 512-512-512-10); code:"


@hookimpl
def zoo_register_models(register):
    for name, builder, params, drop_rate, tags, code in (
        ("vgg11", vgg.vgg11, 9_750_922, 0.5, (), "the course's VGG_A"),
        ("vgg11_bn", vgg.vgg11_bn, 9_754_698, 0.0, ("batchnorm",), "the seed's VGG_A_BatchNorm"),
    ):
        register(
            ModelSpec(
                name=name,
                family="vgg",
                builder=builder,
                params=params,
                macs=153_293_824,
                paper=PAPER,
                seed=f"{SEED} {code}",
                seed_top1=SEED_TOP1.get(name, ""),
                kwargs={"drop_rate": drop_rate},
                tags=tags,
            )
        )
