"""Registers VGG-11 with and without BatchNorm."""

from zoo import ModelSpec, Paper, hookimpl
from zoo.models import vgg

PAPER = Paper(
    "Very Deep Convolutional Networks for Large-Scale Image Recognition", "https://arxiv.org/abs/1409.1556"
)
SEED = "VGG-A of the seeds' BatchNorm study (config A, classifier 512-512-512-10)"


@hookimpl
def zoo_register_models(register):
    for name, builder, params, tags in (
        ("vgg11", vgg.vgg11, 9_750_922, ()),
        ("vgg11_bn", vgg.vgg11_bn, 9_756_426, ("batchnorm",)),
    ):
        register(
            ModelSpec(
                name=name,
                family="vgg",
                builder=builder,
                params=params,
                macs=153_293_824,
                paper=PAPER,
                seed=SEED,
                kwargs={"drop_rate": 0.5},
                tags=tags,
            )
        )
