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
            "D. Page, 'How to Train Your ResNet 8: Bag of Tricks' (myrtle.ai, 2019; "
            "davidcpage/cifar10-fast, bag_of_tricks.ipynb, its final 10-epoch cell): SGD-Nesterov, "
            "momentum 0.9, batch 512, label smoothing 0.2, crop (4 px) + flip and no cutout, flip TTA, "
            "frozen BatchNorm scales. The notebook sums the loss over the batch and divides its lr "
            "schedule by the batch size: knots at epochs 0, 2, 8 with values 0, 1.0, 0.1 (flat after "
            "epoch 8), weight decay 5e-4 x 512; per mean loss that is a peak lr of 1.0 (lr 1.0/512 x the "
            "512-fold summed gradient) and weight decay 5e-4 (5e-4 x 512 / 512). Its bias group (the "
            "BatchNorm biases) runs at 64/512 per summed loss with weight decay 5e-4 x 512/64: 64x the lr "
            "and 1/64 the weight decay. Exponential moving average of the weights, momentum 0.99 every 5 "
            "steps, evaluated in their place. zoo departs: torch's Nesterov (momentum on gradients, not "
            "on lr-scaled steps), the first step at lr 0; the network, "
            "fast_resnet9, is the seed's (GELU for CELU(0.3), logits x 1/8, not 1/16)"
        ),
        claim=(
            "94.1 % CIFAR-10 test accuracy with flip TTA in 10 epochs, 26 s on one V100 (Page's final "
            "DAWNBench entry; the notebook's mean of N_RUNS = 5 runs)"
        ),
        epochs=10,
        batch_size=512,
        optimizer="sgd",
        lr=1.0,
        momentum=0.9,
        nesterov=True,
        weight_decay=5e-4,
        scheduler="onecycle",
        warmup=0.2,  # the peak at epoch 2 of 10
        onecycle_start=0.0,
        onecycle_end=0.1,  # reached at epoch 8 ...
        onecycle_hold=0.2,  # ... and held for the last 2 epochs, under the weight average
        label_smoothing=0.2,
        crop_padding=4,
        flip=True,
        padding_mode="reflect",  # the notebook pads with reflection (np.pad mode "reflect")
        cutout=0,
        tta=True,
        tta_mode="flip",
        bn_lr_scale=64.0,
        bn_weight_frozen=True,
        ema_momentum=0.99,
        ema_every=5,
    ),
    Recipe(
        name="airbench94",
        source=(
            "K. Jordan, '94% on CIFAR-10 in 3.29 Seconds on a Single GPU' (arXiv:2404.00498), "
            "airbench94.py of KellerJordan/cifar10-airbench: Nesterov SGD, momentum 0.85, batch 1024, "
            "label smoothing 0.2. airbench sums the loss and gives lr 11.5 and weight decay 0.0153 per "
            "1024 examples, decoupled: torch lr 11.5 / (1024 (1 + 1/(1 - 0.85))) on the summed loss, 1.5 "
            "per mean loss, and torch weight decay 0.0153 x 1024 / 11.5 on the summed loss, 0.0153 / 11.5 "
            "= 1.33e-3 per mean loss; BatchNorm biases at 64x the lr and 1/64 the weight decay (the same "
            "decay per step), BatchNorm scales frozen; lr triangle 0.2 -> 1 at 23 % of the steps -> "
            "0.07; Lookahead-EMA from the 4th epoch, every 5 steps, momentum 0.95 per step x (step / "
            "steps)^3, copied back into the weights; 2-pixel translate + flip; flip + 1-pixel translate "
            "TTA; the alternating flip; reflect padding of the translation; the whitening bias trains for "
            "3 epochs, then stays. zoo departs: 10 epochs, not 9.9; bf16 autocast, not fp16"
        ),
        claim=(
            "94.01 % mean CIFAR-10 test accuracy (flip + translate TTA) in 9.9 epochs, 3.83 s on one NVIDIA "
            "A100-SXM4-80GB, over n = 1000 runs (the paper's airbench94.py; airbench94_compiled.py: 3.29 s)"
        ),
        epochs=10,
        batch_size=1024,
        optimizer="sgd",
        lr=1.5,  # 11.5 / (1 + 1 / (1 - 0.85)) per mean loss: see the source
        momentum=0.85,
        nesterov=True,
        weight_decay=0.0153 / 11.5,  # 1.33e-3 per mean loss
        scheduler="onecycle",
        warmup=0.23,
        onecycle_start=0.2,
        onecycle_end=0.07,
        label_smoothing=0.2,
        crop_padding=2,
        flip=True,
        padding_mode="reflect",
        flip_mode="alternate",
        cutout=0,
        tta=True,
        tta_mode="flip_translate",
        bn_lr_scale=64.0,
        bn_weight_frozen=True,
        freeze_after="whiten.bias:3",  # airbench94's whiten_bias_epochs
        ema_momentum=0.95,
        ema_every=5,
        ema_start=3,
        ema_ramp=3.0,
        lookahead=True,
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
