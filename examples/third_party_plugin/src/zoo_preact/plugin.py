"""The plugin: registers preact_resnet18 with zoo through the public hook."""

import zoo

from .model import preact_resnet18


@zoo.hookimpl
def zoo_register_models(register):
    register(
        zoo.ModelSpec(
            name="preact_resnet18",
            family="preact_resnet",
            builder=preact_resnet18,
            params=11_172_170,
            macs=555_422_720,
            paper=zoo.Paper(
                "Identity Mappings in Deep Residual Networks", "https://arxiv.org/abs/1603.05027"
            ),
            seed="not in the seeds: example third-party plugin",
            tags=("example",),
        )
    )
