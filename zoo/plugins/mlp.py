"""Registers the seed 004 MLPs (MNIST)."""

from zoo import ModelSpec, Paper, hookimpl
from zoo.models import mlp

# The seed's reported test top-1 (official CIFAR-10 / MNIST test sets), shown beside ours.
SEED_TOP1 = {
    "mlp5": "97.74 % (He init)",
    "mlp22": "97.40 % (20 epochs)",
}

PAPER = Paper(
    "Delving Deep into Rectifiers: Surpassing Human-Level Performance on ImageNet Classification",
    "https://arxiv.org/abs/1502.01852",
)

# name, builder, exact params, exact MACs (1x28x28 input)
MODELS = (
    ("mlp5", mlp.mlp5, 111_514, 111_264),
    ("mlp5_bn", mlp.mlp5_bn, 111_994, 111_264),
    ("mlp22", mlp.mlp22, 6_165_038, 6_157_880),
    ("mlp22_bn", mlp.mlp22_bn, 6_179_334, 6_157_880),
    ("mlp41", mlp.mlp41, 10_246_202, 10_229_192),
    ("mlp41_bn", mlp.mlp41_bn, 10_280_202, 10_229_192),
    ("mlp41_res", mlp.mlp41_res, 10_758_922, 10_716_576),
)


@hookimpl
def zoo_register_models(register):
    for name, builder, params, macs in MODELS:
        batch_norm = name.endswith(("_bn", "_res"))
        order = "Linear -> ReLU -> BatchNorm1d" if batch_norm else "Linear -> ReLU"
        register(
            ModelSpec(
                name=name,
                family="mlp",
                builder=builder,
                params=params,
                macs=macs,
                paper=PAPER,
                seed=f"seed 004 ({name}: {order}, He normal init)",
                seed_top1=SEED_TOP1.get(name, ""),
                dataset="mnist",
                input_size=(1, 28, 28),
                kwargs={"init": "he"},
                recipe="mlp",
                tags=("batchnorm",) if batch_norm else (),
            )
        )
