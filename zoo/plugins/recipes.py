"""Registers the built-in training recipes through the public hook."""

from dataclasses import replace

from zoo import Recipe, hookimpl

ONECYCLE_B128 = Recipe(
    name="onecycle-b128",
    source=(
        "L. Smith & N. Topin, 'Super-Convergence' (arXiv:1708.07120): one-cycle SGD-Nesterov; batch 128 "
        "and a peak lr of 0.04 for networks without BatchNorm (AlexNet, LeNet), which the BN recipes' "
        "0.4 at batch 512 would blow up; label smoothing 0.1; the seed's crop + flip"
    ),
    claim=(
        "the seed's 200-epoch figures of the BN-free CIFAR nets (alexnet 77.82 %) in a few tens of "
        "epochs on a CPU (set them with --time-budget); measured on cifar10-jpeg and reported as measured"
    ),
    epochs=30,
    batch_size=128,
    lr=0.04,
    nesterov=True,
    scheduler="onecycle",
    warmup=0.2,
    label_smoothing=0.1,
)

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
        name="gpu-onecycle",
        source=(
            "L. Smith & N. Topin, 'Super-Convergence' (arXiv:1708.07120): one-cycle SGD-Nesterov at a "
            "large peak lr; P. Goyal et al. (arXiv:1706.02677): lr scaled with the batch (0.1 per 128 "
            "images -> 0.4 at 512) after a warm-up; label smoothing 0.1 (Szegedy et al., "
            "arXiv:1512.00567); the seed's augmentation (4-pixel pad-and-crop + horizontal flip)"
        ),
        claim=(
            "aims at the seed's 200-epoch top-1 (resnet18 95.29 %, resnet34 95.58 %, wrn28_10 96.63 %, "
            "geresnext29_8x64d 96.88 %) in the tenth of the epochs a few GPU minutes allow; measured on "
            "cifar10-jpeg and reported as measured"
        ),
        # Recipe's defaults stand for the rest: SGD momentum 0.9, weight decay 5e-4, 4-pixel crop + flip.
        epochs=30,  # what a run without a time budget trains; the job's budget sets the epochs that fit
        batch_size=512,
        lr=0.4,
        nesterov=True,
        scheduler="onecycle",
        warmup=0.15,
        label_smoothing=0.1,
    ),
    ONECYCLE_B128,
    replace(
        ONECYCLE_B128,
        name="onecycle-bn",
        source=(
            "L. Smith & N. Topin, 'Super-Convergence' (arXiv:1708.07120): one-cycle SGD-Nesterov at "
            "batch 128 with the peak lr 0.1 of the classic CIFAR ResNet recipe (He et al., "
            "arXiv:1512.03385: 0.1 at batch 128) for BatchNorm networks; label smoothing 0.1; the seed's "
            "crop + flip. Made for short CPU runs, where gpu-onecycle's 0.4 at batch 512 warms up too "
            "fast (simp_res9: loss 3.9 in epoch 1)"
        ),
        claim=(
            "the best top-1 a BN network reaches in the few epochs a CPU budget allows (set them with "
            "--time-budget); measured on cifar10-jpeg and reported as measured"
        ),
        lr=0.1,  # all else as onecycle-b128
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
