"""Registers Res9 and Res9 with the simplified bottleneck block."""

from zoo import ModelSpec, Paper, hookimpl
from zoo.models import res9

# The seed's reported test top-1 (official CIFAR-10 / MNIST test sets), shown beside ours.
SEED_TOP1 = {
    "res9": "89.83 % (50 epochs, SGD 0.01)",
    "simp_res9": "87.80 % (50 epochs); 94.29 % (best config, 150 epochs)",
}

PAPER = Paper("Deep Residual Learning for Image Recognition", "https://arxiv.org/abs/1512.03385")


@hookimpl
def zoo_register_models(register):
    for name, builder, params, macs, seed in (
        ("res9", res9.res9, 2_218_954, 256_576_000, "seed 000 §1.1 (Res9, about 2.2 M params)"),
        (
            "simp_res9",
            res9.simp_res9,
            831_050,
            167_774_720,
            "seed 000 §1.1 (Res9 with a simplified bottleneck block, about 0.85 M params)",
        ),
    ):
        register(
            ModelSpec(
                name=name,
                family="res9",
                builder=builder,
                params=params,
                macs=macs,
                paper=PAPER,
                seed=seed,
                seed_top1=SEED_TOP1.get(name, ""),
                kwargs={"stem": "3x3", "act": "relu"},
            )
        )
