"""Registers the built-in training recipes (seed200, fast, mlp) through the public hook."""

from zoo import Recipe, hookimpl

RECIPES = (
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


@hookimpl
def zoo_register_recipes(register):
    for recipe in RECIPES:
        register(recipe)
