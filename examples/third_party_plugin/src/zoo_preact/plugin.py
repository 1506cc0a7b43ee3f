"""The plugin: a model family, a training recipe and published weights, each through its zoo hook."""

from pathlib import Path

import zoo

from .model import preact_resnet10_tiny, preact_resnet18

PAPER = zoo.Paper("Identity Mappings in Deep Residual Networks", "https://arxiv.org/abs/1603.05027")

QUICK = zoo.Recipe(
    name="preact_quick",
    source="zoo-preact (this example): the 'fast' recipe's one-cycle SGD-Nesterov, shortened for a CPU",
    claim="preact_resnet10_tiny: 59 % CIFAR-10 test accuracy after 6 epochs of 10,000 images on a CPU",
    epochs=6,
    batch_size=128,
    optimizer="sgd",
    lr=0.2,
    momentum=0.9,
    nesterov=True,
    weight_decay=5e-4,
    scheduler="onecycle",
    warmup=0.25,
    label_smoothing=0.1,
    crop_padding=4,
    flip=True,
)


@zoo.hookimpl
def zoo_register_models(register):
    register(
        zoo.ModelSpec(
            name="preact_resnet18",
            family="preact_resnet",
            builder=preact_resnet18,
            params=11_172_170,
            macs=555_422_720,  # FlopCounterMode's total for one 3x32x32 image, halved
            paper=PAPER,
            seed="not in the seeds: example third-party plugin",
            tags=("example",),
        )
    )
    register(
        zoo.ModelSpec(
            name="preact_resnet10_tiny",
            family="preact_resnet",
            builder=preact_resnet10_tiny,
            params=77_778,
            macs=4_153_984,
            paper=PAPER,
            seed="not in the seeds: example third-party plugin with shipped weights",
            tags=("example", "tiny"),
            recipe="preact_quick",  # what `zoo train preact_resnet10_tiny` uses unless told otherwise
        )
    )


@zoo.hookimpl
def zoo_register_recipes(register):
    register(QUICK)


@zoo.hookimpl
def zoo_register_weights(register):
    # Schema v1, validated like zoo's own; the files lie in weights/<repo name>/ beside it.
    register(Path(__file__).parent / "weights" / "weights_manifest.json")
