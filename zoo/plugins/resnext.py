"""Registers the CIFAR ResNeXt-29s and GE-ResNeXt-29."""

from zoo import ModelSpec, Paper, hookimpl
from zoo.models import resnext

# The seed's reported test top-1 (official CIFAR-10 / MNIST test sets), shown beside ours.
SEED_TOP1 = {
    "resnext29_2x32d": "94.02 % (200 epochs)",
    "resnext29_2x64d": "94.45 % (200 epochs)",
    "resnext29_32x4d": "95.03 % (200 epochs)",
    "geresnext29_8x64d": "96.88 % (200 epochs)",
}

RESNEXT = Paper(
    "Aggregated Residual Transformations for Deep Neural Networks",
    "https://arxiv.org/abs/1611.05431",
)
GATHER_EXCITE = Paper(
    "Gather-Excite: Exploiting Feature Context in Convolutional Neural Networks",
    "https://arxiv.org/abs/1810.12348",
)


@hookimpl
def zoo_register_models(register):
    # name, params, MACs, seed figure
    for name, params, macs, seed in (
        ("resnext29_2x32d", 2_297_418, 358_814_720, "ResNeXt29_2x32d 2.30M; code: pytorch-cifar"),
        ("resnext29_2x64d", 9_128_778, 1_409_492_992, "ResNeXt29_2x64d 9.13M; code: pytorch-cifar"),
        ("resnext29_32x4d", 4_774_218, 772_483_072, "ResNeXt29_32x4d 4.77M; code: pytorch-cifar"),
        ("resnext29_8x64d", 34_426_698, 5_387_266_048, "ResNeXt29_8x64d 34.43M; code: CIFAR-ZOO"),
    ):
        register(
            ModelSpec(
                name=name,
                family="resnext",
                builder=getattr(resnext, name),
                params=params,
                macs=macs,
                paper=RESNEXT,
                seed=f"seed table: {seed}",
                seed_top1=SEED_TOP1.get(name, ""),
            )
        )
    register(
        ModelSpec(
            name="geresnext29_8x64d",
            family="resnext",
            builder=resnext.geresnext29_8x64d,
            params=36_329_802,
            macs=5_389_158_400,
            paper=GATHER_EXCITE,
            seed="seed table: GeResNeXt29_8x64d 36.33M (GE-θ+, global extent); code: CIFAR-ZOO genet",
            seed_top1=SEED_TOP1["geresnext29_8x64d"],
            kwargs={"img_size": 32},
            tags=("attention",),
            description="ResNeXt-29 8x64d with Gather-Excite (GE-θ+) in every block",
        )
    )
