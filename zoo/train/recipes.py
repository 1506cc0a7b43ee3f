"""Named training recipes: every hyper-parameter of a published training run, in one frozen record.

A recipe names its source and the claim it reproduces. Options given to `zoo.train.train` (or on
the command line) override single fields: recipe defaults < explicit options.
"""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass, fields

from .._errors import ZooError


class RecipeError(ZooError, ValueError):
    """An unknown recipe name or a recipe field with a value training cannot use."""


@dataclass(frozen=True)
class Recipe:
    """All hyper-parameters of one training run (runtime settings such as device live elsewhere).

    Scheduler fields apply to the scheduler that reads them: ``plateau_*`` and ``min_lr`` to
    ``plateau`` (``min_lr`` also floors ``cosine``), ``step_size``/``gamma`` to ``step``,
    ``exponential`` and ``cyclic`` (half-cycle in epochs), ``warmup`` to ``onecycle``. ``None``
    means the scheduler's own default. ``val_size`` holds out a fraction (< 1) or a count of the
    training images for validation: the per-epoch evaluation and the plateau scheduler then use
    it, and ``best/`` keeps the epoch with the best validation accuracy. With ``val_size == 0``
    the test split is evaluated each epoch.
    """

    name: str
    source: str
    claim: str
    epochs: int = 200
    batch_size: int = 128
    optimizer: str = "sgd"
    lr: float = 0.1
    momentum: float | None = 0.9  # SGD momentum, or beta1 of the Adam family; None: the optimizer's default
    nesterov: bool = False
    weight_decay: float = 5e-4
    scheduler: str = "plateau"
    plateau_factor: float = 0.5
    plateau_patience: int = 5
    plateau_cooldown: int = 5
    min_lr: float = 1e-6
    step_size: int | None = None
    gamma: float | None = None
    warmup: float = 0.25
    loss: str = "ce"
    label_smoothing: float = 0.0
    crop_padding: int = 4
    flip: bool = True
    cutout: int = 0
    tta: bool = False
    val_size: float = 0.0

    def to_dict(self) -> dict:
        return {f.name: getattr(self, f.name) for f in fields(self)}


DESCRIPTIVE_FIELDS = ("name", "source", "claim")
HYPER_PARAMETERS = tuple(f.name for f in fields(Recipe) if f.name not in DESCRIPTIVE_FIELDS)

_RECIPES: dict[str, Recipe] = {
    r.name: r
    for r in (
        Recipe(
            name="seed200",
            source="seed 001, table 6 (the 200-epoch CIFAR-10 baselines)",
            claim="the table 6 test accuracies at 200 epochs, e.g. LeNet-5 76.32 %",
            epochs=200,
            batch_size=128,
            optimizer="sgd",
            lr=0.1,
            momentum=0.9,
            weight_decay=5e-4,
            scheduler="plateau",
            plateau_factor=0.5,
            plateau_patience=5,
            plateau_cooldown=5,
            min_lr=1e-6,
            crop_padding=4,
            flip=True,
        ),
        Recipe(
            name="fast",
            source=(
                "D. Page, 'How to Train Your ResNet' (myrtle.ai, 2018-2019) and K. Jordan, airbench "
                "(arXiv:2404.00498): ResNet-9 with ghost BatchNorm, label smoothing 0.2, one-cycle "
                "SGD-Nesterov at batch 512, crop + flip + 8x8 cutout, flip TTA"
            ),
            claim="94 % CIFAR-10 test accuracy in about 10 epochs (Page's final DAWNBench entry)",
            epochs=10,
            batch_size=512,
            optimizer="sgd",
            lr=0.4,
            momentum=0.9,
            nesterov=True,
            weight_decay=5e-4,
            scheduler="onecycle",
            warmup=0.25,
            label_smoothing=0.2,
            crop_padding=4,
            flip=True,
            cutout=8,
            tta=True,
        ),
        Recipe(
            name="mlp",
            source=(
                "seed 004 (MNIST MLPs): Adam 1e-3, batch 64, ReduceLROnPlateau on validation loss, "
                "the epoch with the best validation accuracy kept, no augmentation, 10 % validation split"
            ),
            claim="the seed 004 MNIST test accuracies of the best-on-validation epoch",
            epochs=20,
            batch_size=64,
            optimizer="adam",
            lr=1e-3,
            momentum=None,
            weight_decay=0.0,
            scheduler="plateau",
            plateau_factor=0.5,
            plateau_patience=2,
            plateau_cooldown=0,
            min_lr=1e-6,
            crop_padding=0,
            flip=False,
            val_size=0.1,
        ),
    )
}

# First match wins; a model matching none trains with "seed200".
_FAMILY_DEFAULTS = (("mlp*", "mlp"), ("fast_resnet*", "fast"))


def list_recipes() -> list[str]:
    """Names of the built-in recipes."""
    return sorted(_RECIPES)


def get_recipe(name: str) -> Recipe:
    """The built-in recipe called `name`."""
    try:
        return _RECIPES[name]
    except KeyError:
        raise RecipeError(f"unknown recipe {name!r}; recipes: {', '.join(list_recipes())}") from None


def default_recipe_name(model: str) -> str:
    """The recipe a model trains with when none is named (by model-name pattern)."""
    for pattern, recipe in _FAMILY_DEFAULTS:
        if fnmatch.fnmatchcase(model, pattern):
            return recipe
    return "seed200"
