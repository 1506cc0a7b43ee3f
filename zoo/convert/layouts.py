"""Where each source repository keeps each zoo model's tensors: explicit key maps, per family.

A `Layout` renames a source state-dict key by its module path (the key less its last part:
weight, bias, running_mean, ...). Each rule is ``(regex, target)``: the regex must match the whole
module path; the target is a ``str.format`` template over the regex groups, or a function of them
where a stage number shifts. A key no rule matches is an error, never silently dropped.

Sources (module names as in their code; the seed copied most of its models from the other two):

* ``pytorch-cifar``: kuangliu/pytorch-cifar (models/resnet.py, resnext.py, densenet.py).
* ``cifar-zoo``: BIGBALLON/CIFAR-ZOO (models/lenet.py, alexnet.py, resnext.py, genet.py,
  densenet.py).
* ``seed``: the seed's Project2/code/CIFAR-10/models/ (those copies, plus its own resnet9.py and
  fastresnet9.py, and a wideresnet.py in weiaicunzai/pytorch-cifar100's layout) and
  Project2/code/VGG_BatchNorm/models/vgg.py (the course's VGG_A, the seed's VGG_A_BatchNorm).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import torch

Target = str | Callable[..., str]
Transform = Callable[[str, torch.Tensor, torch.Tensor], torch.Tensor]

SOURCES = ("seed", "pytorch-cifar", "cifar-zoo")

# The per-channel (mean, std) each code base normalised its training images with.
_CIFAR_MEAN = (0.4914, 0.4822, 0.4465)
NORMALISATION = {
    "seed": (_CIFAR_MEAN, (0.2470, 0.2435, 0.2616)),  # the seed's main.py
    "pytorch-cifar": (_CIFAR_MEAN, (0.2023, 0.1994, 0.2010)),
    "cifar-zoo": (_CIFAR_MEAN, (0.2023, 0.1994, 0.2010)),
}


@dataclass(frozen=True)
class Layout:
    """How one source code base names one zoo model's tensors.

    `options` are the zoo builder options that make the zoo model compute what the source
    module computes (recorded in the converted checkpoint); `transform` reshapes a source tensor
    whose form differs from the zoo's (called with the zoo key, the source tensor and the zoo
    model's tensor, only when the shapes differ).
    """

    code: str  # the source class, for messages
    rules: tuple[tuple[str, Target], ...]
    options: Mapping[str, Any] = field(default_factory=dict)
    transform: Transform | None = None


def _stage(offset: int, template: str) -> Callable[..., str]:
    """A target whose first group is a stage number counted from `offset` (zoo stages count from 0)."""
    return lambda stage, *rest: template.format(int(stage) - offset, *rest)


# --- kuangliu/pytorch-cifar -----------------------------------------------------------------
# ResNet and ResNeXt share the block naming: convK/bnK pairs and a Sequential shortcut (conv, bn).
PYTORCH_CIFAR_RESNET = Layout(
    "ResNet / ResNeXt (models/resnet.py, models/resnext.py)",
    (
        (r"conv1", "stem.0"),
        (r"bn1", "stem.1"),
        (r"layer(\d)\.(\d+)\.conv(\d)", _stage(1, "stages.{}.{}.conv{}.0")),
        (r"layer(\d)\.(\d+)\.bn(\d)", _stage(1, "stages.{}.{}.conv{}.1")),
        (r"layer(\d)\.(\d+)\.shortcut\.([01])", _stage(1, "stages.{}.{}.shortcut.{}")),
        (r"linear", "fc"),
    ),
)


def _densenet(code: str, stem: str, dense: str, trans: str, layer: tuple[str, ...], head: str) -> Layout:
    """Dense block i and transition i (from 1) sit at 2i - 2 and 2i - 1 of the zoo's `stages`;
    `layer` names a dense layer's BN, 1x1 conv, BN, 3x3 conv in the source."""
    zoo_layer = ("conv1.0", "conv1.2", "conv2.0", "conv2.2")  # zoo: (BN, ReLU, conv) twice
    rules: list[tuple[str, Target]] = [(stem, "stem"), (r"bn", "norm"), (head, "fc")]
    rules += [
        (rf"{dense}(\d)\.(\d+)\.{src}", lambda i, j, dst=dst: f"stages.{2 * int(i) - 2}.{j}.{dst}")
        for src, dst in zip(layer, zoo_layer)
    ]
    rules += [(rf"{trans}(\d)\.bn", lambda i: f"stages.{2 * int(i) - 1}.0")]
    rules += [(rf"{trans}(\d)\.conv", lambda i: f"stages.{2 * int(i) - 1}.2")]
    return Layout(code, tuple(rules))


PYTORCH_CIFAR_DENSENET = _densenet(
    "DenseNet (models/densenet.py)", "conv1", "dense", "trans", ("bn1", "conv1", "bn2", "conv2"), "linear"
)

# --- BIGBALLON/CIFAR-ZOO ----------------------------------------------------------------------
CIFAR_ZOO_LENET = Layout(
    "LeNet (models/lenet.py)",
    (
        (r"conv_1", "features.0"),
        (r"conv_2", "features.3"),
        (r"fc_1", "pre_logits.1"),
        (r"fc_2", "pre_logits.3"),
        (r"fc_3", "fc"),
    ),
)
CIFAR_ZOO_ALEXNET = Layout(
    "AlexNet (models/alexnet.py)", ((r"features\.(\d+)", "features.{}"), (r"fc", "fc"))
)

_ZOO_BOTTLENECK = r"stage_(\d)\.stage_\d_bottleneck_(\d+)\."
CIFAR_ZOO_RESNEXT = Layout(
    "ResNeXt / GeResNeXt (models/resnext.py, models/genet.py)",
    (
        (r"conv_1_3x3", "stem.0"),
        (r"bn_1", "stem.1"),
        *(
            (_ZOO_BOTTLENECK + src, _stage(1, "stages.{}.{}." + dst))
            for src, dst in (
                ("conv_reduce", "conv1.0"),
                ("bn_reduce", "conv1.1"),
                ("conv_conv", "conv2.0"),
                ("bn", "conv2.1"),
                ("conv_expand", "conv3.0"),
                ("bn_expand", "conv3.1"),
                ("shortcut\\.shortcut_conv", "shortcut.0"),
                ("shortcut\\.shortcut_bn", "shortcut.1"),
                ("ge_module\\.downop\\.dwconv", "attn.gather.0"),
                ("ge_module\\.downop\\.bn", "attn.gather.1"),
                ("ge_module\\.mlp\\.([02])", "attn.excite.{}"),
            )
        ),
        (r"fc", "fc"),
    ),
)

# DenseNet-BC: CIFAR-ZOO names its blocks dense1, dense2, dense_3 and transitions trans_1, trans_2.
CIFAR_ZOO_DENSENET = _densenet(
    "DenseNet-BC (models/densenet.py)",
    "conv_1",
    "dense_?",
    "trans_",
    ("bn_1", "conv_1", "bn_2", "conv_2"),
    "fc",
)

# --- the seed's own models ----------------------------------------------------------------------
# wideresnet.py: init_conv, stages conv2..conv4 of blocks whose `residual` Sequential is
# BN(0) ReLU(1) conv(2) BN(3) ReLU(4) Dropout(5) conv(6), a `shortcut` Sequential, then bn, linear.
SEED_WIDE_RESNET = Layout(
    "WideResNet (wideresnet.py, weiaicunzai/pytorch-cifar100 layout)",
    (
        (r"init_conv", "stem"),
        *(
            (rf"conv(\d)\.(\d+)\.residual\.{src}", _stage(2, "stages.{}.{}." + dst))
            for src, dst in (("0", "norm1"), ("2", "conv1"), ("3", "norm2"), ("6", "conv2"))
        ),
        (r"conv(\d)\.(\d+)\.shortcut\.0", _stage(2, "stages.{}.{}.shortcut")),
        (r"bn", "norm"),
        (r"linear", "fc"),
    ),
)


def _resnet9_rules(stem: tuple[str, ...], units: tuple[str, ...], fc: str) -> tuple[tuple[str, Target], ...]:
    """The seed's ResNet9s name their units conv1, conv2, ...: `stem` then the zoo's seven units."""
    body = ("layer1.0", "layer1.1.body.0", "layer1.1.body.1", "layer2", "layer3.0")
    body += ("layer3.1.body.0", "layer3.1.body.1")
    names = stem + body
    return (*((rf"{src}\.(\d)", dst + ".{}") for src, dst in zip(units, names)), (fc, "fc"))


SEED_RESNET9 = Layout(
    "resnet9 (resnet9.py)",
    _resnet9_rules(("stem",), tuple(f"conv{i}" for i in range(1, 9)), "linear10"),
)


def _average_ghost_splits(key: str, source: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """The seed's GhostBatchNorm keeps running stats per split (C * num_splits): average them,
    as its own ``train(False)`` does before evaluating."""
    if key.endswith(("running_mean", "running_var")) and source.numel() % target.numel() == 0:
        return source.view(-1, target.numel()).mean(0)
    return source


SEED_FAST_RESNET9 = Layout(
    "resnet9 (fastresnet9.py)",
    ((r"conv1", "stem.0"), *_resnet9_rules(("stem.1",), tuple(f"conv{i}" for i in range(2, 10)), "linear11")),
    transform=_average_ghost_splits,
)

# VGG_BatchNorm/models/vgg.py: `features` indexed as the zoo's; `classifier` Linear/ReLU(/BN1d).
SEED_VGG_A = Layout(
    "VGG_A (VGG_BatchNorm/models/vgg.py)",
    (
        (r"features\.(\d+)", "features.{}"),
        (r"classifier\.0", "pre_logits.2"),
        (r"classifier\.2", "pre_logits.5"),
        (r"classifier\.4", "fc"),
    ),
    options={"drop_rate": 0.0},  # VGG_A has no dropout
)
SEED_VGG_A_BN = Layout(
    "VGG_A_BatchNorm (VGG_BatchNorm/models/vgg.py)",
    (
        (r"features\.(\d+)", "features.{}"),
        *((rf"classifier\.{src}", f"pre_logits.{dst}") for src, dst in ((0, 2), (1, 3), (3, 6), (4, 7))),
        (r"classifier\.6", "fc"),
    ),
    options={"drop_rate": 0.0},
)

# zoo model -> {source: layout}. A source missing here has no counterpart of that model.
LAYOUTS: dict[str, dict[str, Layout]] = {
    "lenet5": {"seed": CIFAR_ZOO_LENET, "cifar-zoo": CIFAR_ZOO_LENET},
    "alexnet": {"seed": CIFAR_ZOO_ALEXNET, "cifar-zoo": CIFAR_ZOO_ALEXNET},
    **{
        name: {"seed": PYTORCH_CIFAR_RESNET, "pytorch-cifar": PYTORCH_CIFAR_RESNET}
        for name in (
            "resnet18",
            "resnet34",
            "resnet50",
            "resnext29_2x32d",
            "resnext29_2x64d",
            "resnext29_32x4d",
        )
    },
    # pytorch-cifar's (and so the seed's) ResNeXt29_8x64d is another network (89.60 M params).
    "resnext29_8x64d": {"cifar-zoo": CIFAR_ZOO_RESNEXT},
    "geresnext29_8x64d": {"seed": CIFAR_ZOO_RESNEXT, "cifar-zoo": CIFAR_ZOO_RESNEXT},
    "densenet100_bc": {"seed": CIFAR_ZOO_DENSENET, "cifar-zoo": CIFAR_ZOO_DENSENET},
    "densenet121": {"seed": PYTORCH_CIFAR_DENSENET, "pytorch-cifar": PYTORCH_CIFAR_DENSENET},
    "wrn16_8": {"seed": SEED_WIDE_RESNET},
    "wrn28_10": {"seed": SEED_WIDE_RESNET},
    "resnet9": {"seed": SEED_RESNET9},
    "fast_resnet9": {"seed": SEED_FAST_RESNET9},
    "vgg11": {"seed": SEED_VGG_A},
    "vgg11_bn": {"seed": SEED_VGG_A_BN},
}
