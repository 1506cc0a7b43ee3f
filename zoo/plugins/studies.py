"""Registers the seeds' studies through the public hook, as a third party would.

Each study is the seed's grid at its own settings (``full``), with a ``reduced`` scale that fits
about an hour on 2 CPU cores and the default ``smoke`` scale (zoo._study.DEFAULT_SCALES). The seed's
reported test accuracy (%) of each row is printed beside ours in the study's report.
"""

from dataclasses import replace

from zoo import hookimpl
from zoo.studies import Cell, Scale, Study

SEED_000 = "seed 000 (Res9 family and the ResNet-18 hyper-parameter study)"
SEED_001 = "seed 001 §1.4 (ResNet9 -> FastResNet9)"
SEED_BN = "the seeds' BatchNorm study (VGG-A, the course's VGG_BatchNorm)"
SANTURKAR = "Santurkar et al. 2018, 'How Does Batch Normalization Help Optimization?' (arXiv:1805.11604)"


def _reduced(
    epochs: int, limit_train: int, limit_test: int = 2000, probe_every: int = 10, caveats=(), **more
) -> Scale:
    options = {"epochs": epochs, "limit_train": limit_train, "limit_test": limit_test, **more}
    return Scale(options, probe_every, "a subset and fewer epochs: minutes on 2 CPU cores", caveats)


def _slug(text: str) -> str:
    return "".join(ch if ch.isalnum() or ch in "_-" else "-" if ch in " /" else "p" for ch in text.lower())


def _factor(table: str, model: str, base: dict, key: str, values: dict, **cell) -> list[Cell]:
    """One table varying option `key` (``model_kwargs.NAME``: a builder option) over `values`
    (value -> seed figure) on top of `base`."""
    cells = []
    for value, seed in values.items():
        builder_key = key.partition("model_kwargs.")[2]
        options = base if builder_key else {**base, key: value}
        kwargs = {builder_key: value} if builder_key else {}
        label = str(value)
        name = _slug(f"{table}-{label}")
        cells.append(Cell(name, model, table, label, seed, options=options, model_kwargs=kwargs, **cell))
    return cells


def _grid(model: str, base: dict):
    """`_factor` for `model` on top of `base`, with the seed200 recipe: (table, key, values) -> cells."""
    return lambda table, key, values: _factor(table, model, base, key, values, recipe="seed200")


# --- mlp-depth (seed 004, MNIST) -------------------------------------------------------------------
_MLP = {"probes": ("grad_norms",), "recipe": "mlp"}
_MLP_REDUCED = (  # the reduced scale's caveats
    "8 epochs on 10,800 images: the 41-layer nets without shortcuts are still learning at the last epoch "
    "(see their curves), so their order is not the seed's; + BN + lr decay halves its lr every 3 epochs "
    "and trails + BN for that reason alone.",
)
MLP_DEPTH = Study(
    "mlp-depth",
    description=(
        "Why deep MLPs need He init, BatchNorm, lr decay or residual links (MNIST; Adam 1e-3, batch 64, "
        "the epoch with the best validation accuracy; per-layer gradient norms probed on the train step)."
    ),
    source="seed 004 (MNIST MLPs)",
    cells=(
        Cell("mlp5-randn", "mlp5", "5 layers", "randn init", "-", model_kwargs={"init": "randn"}, **_MLP),
        Cell("mlp5-he", "mlp5", "5 layers", "He init", "97.74", **_MLP),
        Cell("mlp22", "mlp22", "22 layers", "plain", "97.40 (oscillating)", **_MLP),
        Cell("mlp22-bn", "mlp22_bn", "22 layers", "+ BN", "-", **_MLP),
        Cell("mlp41", "mlp41", "41 layers", "plain", "gradients vanish", **_MLP),
        Cell("mlp41-bn", "mlp41_bn", "41 layers", "+ BN", "degrades after ~epoch 7", **_MLP),
        Cell(
            "mlp41-bn-decay",
            "mlp41_bn",
            "41 layers",
            "+ BN + lr decay",
            "-",
            options={"scheduler": "step", "step_size": 3, "gamma": 0.5},
            **_MLP,
        ),
        Cell("mlp41-res", "mlp41_res", "41 layers", "residual", "-", **_MLP),
    ),
    scales={"reduced": _reduced(8, 12000, probe_every=20, caveats=_MLP_REDUCED)},
    figures=("curves", "layers"),
    metric="best",
    caveats=(
        "The per-layer figure counts every weight (Linear) layer, input to output, residual shortcuts "
        "included: the residual net (mlp41_res) has 52, 44 on its main path (2 blocks, 8 modules of 5 "
        "blocks, a closing block, the classifier) and 8 shortcuts, each counted after its module's 5 "
        "blocks; so its line runs past the 41-layer nets', and its shortcut layers (every 6th from the 8th) "
        "stand apart from the blocks around them.",
    ),
)

# --- bn-accuracy (VGG-A with and without BN) ---------------------------------------------------------
_VGG = {"recipe": "seed200", "model_kwargs": {"drop_rate": 0.0}}
_CONSTANT = {"epochs": 20, "batch_size": 128, "weight_decay": 0.0, "scheduler": "step", "gamma": 1.0}


def _bn_pair(
    table: str, options: dict, probes: tuple[str, ...] = (), seeds: tuple[str, str] = ("-", "-")
) -> list[Cell]:
    slug = _slug(table)
    return [
        Cell(f"{slug}-vgg", "vgg11", table, "without BN", seeds[0], options=options, probes=probes, **_VGG),
        Cell(
            f"{slug}-vgg-bn", "vgg11_bn", table, "with BN", seeds[1], options=options, probes=probes, **_VGG
        ),
    ]


_BN_REDUCED = (  # the reduced scale's caveats
    "3 epochs on 5,000 images against the seed's 20 on 50,000: every figure is far below the seed's. "
    "Without BN, SGD lr 0.1 never leaves chance (10.7 % test, training loss 2.30 throughout), so that row"
    " says nothing of the seed's 79.5 %.",
)
BN_ACCURACY = Study(
    "bn-accuracy",
    description=(
        "VGG-A with and without BatchNorm: SGD lr 0.1, batch 128, 20 epochs, no schedule, no weight "
        "decay, no dropout; then Adam at the lrs the seed lists."
    ),
    source=SEED_BN,
    cells=(
        *_bn_pair("SGD lr 0.1", {**_CONSTANT, "lr": 0.1, "momentum": 0.0}, seeds=("79.5", "82.8")),
        *_bn_pair("Adam lr 2e-3", {**_CONSTANT, "lr": 2e-3, "optimizer": "adam"}, seeds=("75.98", "86.40")),
        *_bn_pair("Adam lr 1e-4", {**_CONSTANT, "lr": 1e-4, "optimizer": "adam"}, seeds=("81.71", "81.77")),
        *_bn_pair("Adam lr 5e-4", {**_CONSTANT, "lr": 5e-4, "optimizer": "adam"}, seeds=("83.90", "87.14")),
    ),
    scales={"reduced": _reduced(3, 5000, 1000, caveats=_BN_REDUCED)},
    figures=("curves",),
)

# --- hparams (ResNet-18) ---------------------------------------------------------------------------
_BASE18 = {
    "lr": 0.01,
    "epochs": 25,
    "weight_decay": 5e-4,
    "loss": "ce",
    "scheduler": "plateau",
    "optimizer": "sgd",
    "act": "relu",
}
_r18 = _grid("resnet18", _BASE18)

HPARAMS = Study(
    "hparams",
    description=(
        "ResNet-18 one factor at a time from the baseline SGD lr 0.01, cross-entropy, weight decay 5e-4, "
        "ReLU, ReduceLROnPlateau, 25 epochs (runs equal to the baseline are trained once)."
    ),
    source=SEED_000,
    cells=(
        *_r18(
            "loss",
            "loss",
            {
                "ce": "90.61",
                "bce": "84.83",
                "mse": "84.81",
                "huber": "81.67",
                "multilabel_soft_margin": "87.85",
            },
        ),
        *_r18(
            "weight decay",
            "weight_decay",
            {1e-4: "89.05", 5e-4: "90.61", 1e-3: "88.94", 5e-3: "88.89", 1e-2: "80.22"},
        ),
        *_r18(
            "activation",
            "act",
            {"relu": "90.61", "mish": "91.69", "leaky_relu": "89.34", "elu": "86.93", "gelu": "90.36"},
        ),
        *_r18(
            "optimizer",
            "optimizer",
            {"sgd": "90.61", "adam": "71.26", "adadelta": "82.81", "adagrad": "88.62", "adamax": "85.36"},
        ),
        *_r18(
            "schedule",
            "scheduler",
            {
                "plateau": "90.61",
                "step": "90.74",
                "linear": "90.59",
                "exponential": "90.60",
                "cosine": "91.91",
            },
        ),
    ),
    scales={"reduced": _reduced(2, 2000, 1000)},
    figures=("curves", "lr"),
)

# --- res9-family (seed 000) ----------------------------------------------------------------------------
_RES9 = {"lr": 0.01, "epochs": 50, "weight_decay": 5e-4, "loss": "ce", "act": "relu"}
_AUG_OFF = {"crop_padding": 0, "flip": False}
_simp = _grid("simp_res9", _RES9)
RES9_FAMILY = Study(
    "res9-family",
    description=(
        "Res18, Res9 and simp_Res9 (SGD lr 0.01, momentum 0.9, weight decay 5e-4, 50 epochs), then "
        "simp_res9's schedule, activation, loss, stem and augmentation, and the best configuration."
    ),
    source=SEED_000,
    cells=(
        *(
            Cell(f"model-{m}", m, "model", label, seed, "seed200", options=_RES9)
            for m, label, seed in (
                ("resnet18", "Res18", "91.21"),
                ("res9", "Res9", "89.83"),
                ("simp_res9", "simp_Res9", "87.80"),
            )
        ),
        *_simp("schedule", "scheduler", {"cosine": "-", "cyclic": "-", "onecycle": "-"}),
        *_simp("activation", "act", dict.fromkeys(("relu", "mish", "elu", "rrelu", "gelu"), "-")),
        *_simp("loss", "loss", dict.fromkeys(("ce", "smooth_l1", "bce"), "-")),
        *_simp("stem", "model_kwargs.stem", {"3x3": "-", "7x7": "-", "3x3-3x3-3x3": "-", "3x3-3x3": "-"}),
        Cell(
            "augmentation-on",
            "simp_res9",
            "augmentation",
            "on (70 epochs)",
            "-",
            "seed200",
            {**_RES9, "epochs": 70},
        ),
        Cell(
            "augmentation-off",
            "simp_res9",
            "augmentation",
            "off (70 epochs)",
            "-",
            "seed200",
            {**_RES9, "epochs": 70, **_AUG_OFF},
        ),
        Cell(
            "best",
            "simp_res9",
            "best configuration",
            "3x3x3 stem, GELU, cosine, augmentation, 150 epochs",
            "94.29",
            "seed200",
            {**_RES9, "epochs": 150, "scheduler": "cosine", "act": "gelu"},
            {"stem": "3x3-3x3-3x3"},
        ),
    ),
    scales={"reduced": _reduced(2, 2000, 1000)},
)

# --- fast-resnet9 (seed 001) ------------------------------------------------------------------------
# The ladder's rungs pin every field the seed's fast recipe set (lr 0.4, a 25 % warmup, cutout 8, no
# BatchNorm or EMA tricks), so they keep meaning what their labels say while `fast` follows Page's
# final recipe; the last row is that recipe itself.
_SEED_FAST = {
    "lr": 0.4, "warmup": 0.25, "onecycle_start": 1 / 25, "onecycle_end": 1 / 25e4, "onecycle_hold": 0.0,
    "bn_lr_scale": 1.0, "bn_weight_frozen": False, "ema_momentum": 0.0, "ema_every": 1,
    "label_smoothing": 0.2, "cutout": 8, "tta": True, "tta_mode": "flip",
}  # fmt: skip
_FAST_NET = "FastResNet9 (whitening, pool before BN, Ghost BN)"
_PLAIN = {**_SEED_FAST, "label_smoothing": 0.0, "cutout": 0, "tta": False}


def _ladder(epochs: int, seeds: tuple[str, str, str]) -> list[Cell]:
    table, e = f"{epochs} epochs", {"epochs": epochs}
    rungs = (  # name, model, row, seed figure, options on top of the `fast` recipe
        ("resnet9-onecycle", "resnet9", "+ one-cycle SGD-Nesterov, batch 512", "-", _PLAIN),
        ("resnet9-smoothing", "resnet9", "+ label smoothing 0.2", "-", {**_PLAIN, "label_smoothing": 0.2}),
        ("resnet9-fast", "resnet9", "+ cutout 8, flip TTA", "-", _SEED_FAST),
        ("fast-resnet9", "fast_resnet9", _FAST_NET, seeds[1], _SEED_FAST),
        ("fast-resnet9-page", "fast_resnet9", "FastResNet9, Page's final recipe (`fast`)", "-", {}),
    )  # fmt: skip
    return [
        Cell(f"resnet9-{epochs}", "resnet9", table, "ResNet9 (seed200 recipe)", seeds[0], "seed200", e),
        *(Cell(f"{n}-{epochs}", m, table, row, seed, "fast", {**e, **o}) for n, m, row, seed, o in rungs),
        Cell(f"resnet18-{epochs}", "resnet18", table, "ResNet18 (seed200 recipe)", seeds[2], "seed200", e),
    ]


FAST_RESNET9 = Study(
    "fast-resnet9",
    description="ResNet9 -> FastResNet9 trick by trick (recipe first, then the network), with ResNet18.",
    source=SEED_001,
    cells=(*_ladder(10, ("83.31", "94.03", "86.16")), *_ladder(200, ("93.07", "95.77", "95.29"))),
    scales={"reduced": _reduced(2, 2000, 1000)},
)

# --- bn-landscape and ics (Santurkar et al.) ---------------------------------------------------------
_LANDSCAPE_LRS = (0.05, 0.075, 0.1, 0.125, 0.15)
_SGD = {**_CONSTANT, "momentum": 0.0}
_LANDSCAPE_REDUCED = (  # the reduced scale's caveats
    "In 47 steps the BN-free VGG-A never leaves its initial plateau (loss 2.30 throughout, ~9 % train, at"
    " every lr from 0.05 to 0.15, plain SGD), so its band is flat and its gradient changes tiny; the BN "
    "network learns (26-42 % test) and its loss band, gradient predictiveness and beta-smoothness move "
    "with the lr. The paper's contrast (BN smoother than no BN) is between two networks that both train, "
    "which takes the full run.",
)
BN_LANDSCAPE = Study(
    "bn-landscape",
    description=(
        "VGG-A with and without BN at five SGD lrs, probed on the train step: (a) the loss band over the "
        "lrs, (b) gradient predictiveness ||g(t+1) - g(t)||, (c) effective beta-smoothness (the band's "
        "top), and the paper's own probe along the gradient (range of losses, largest gradient change)."
    ),
    source=f"{SEED_BN}; {SANTURKAR}",
    cells=tuple(
        c
        for lr in _LANDSCAPE_LRS
        for c in _bn_pair(f"lr {lr}", {**_SGD, "lr": lr}, ("smoothness", "landscape"))
    ),
    scales={"reduced": _reduced(1, 6000, 500, probe_every=3, caveats=_LANDSCAPE_REDUCED)},
    figures=("curves", "bands"),
    bands_by="row",  # the paper's band: with and without BN, each over the lrs
)

_DLN = {**_SGD, "lr": 0.01, "optimizer": "sgd", "val_size": 0.0}
_LINEAR = {"act": "identity", "init": "lecun"}
_ICS_VGG, _ICS_VGG_BN = _bn_pair("SGD lr 0.1", {**_SGD, "lr": 0.1}, ("ics", "activations"))
_ICS_NOISY = replace(  # the BN cell with noise after each BatchNorm2d
    _ICS_VGG_BN,
    name="sgd-lr-0p1-vgg-noisy-bn",
    row="with noisy BN",
    seed="near BN's (paper, Fig. 2)",
    model_kwargs={**_ICS_VGG_BN.model_kwargs, "noisy_bn": True},
)
_DLN_TABLE = "deep linear network (22 layers, MNIST), SGD lr 0.01"
_ICS_REDUCED = (  # the reduced scale's caveats
    "In 3 epochs at SGD lr 0.1 the BN-free VGG-A never leaves chance (10.7 % test, 10.3 % train): its "
    "gradients hardly change, so its shift is ~0 and its cos ~1 at every layer, and its last layers' "
    "inputs stay at 0. That is a network that does not train, not one free of covariate shift; the "
    "paper's comparison needs the full run.",
)
ICS = Study(
    "ics",
    description=(
        "Internal covariate shift as the paper defines it, per layer: ||G - G'|| and cos(G, G'), G' a "
        "layer's gradient after the preceding layers' SGD step; VGG-A without BN, with BN and with noisy "
        "BN (a random per-channel shift and scale after BN, redrawn every step), with the layer inputs' "
        "distributions over training; and a deep linear network (mlp22's widths, no activation) +- BN."
    ),
    source=SANTURKAR,
    cells=(
        _ICS_VGG,
        _ICS_VGG_BN,
        _ICS_NOISY,
        Cell("dln", "mlp22", _DLN_TABLE, "without BN", "-", "mlp", _DLN, _LINEAR, ("ics",)),
        Cell("dln-bn", "mlp22_bn", _DLN_TABLE, "with BN", "-", "mlp", _DLN, _LINEAR, ("ics",)),
    ),
    caveats=(
        "Read noisy BN's train %: evaluation runs without the noise, on running statistics that later "
        "layers gathered under it, so its test % can fall far below its train %.",
    ),
    scales={
        "reduced": _reduced(3, 5000, 1000, probe_every=10, caveats=_ICS_REDUCED),
        "smoke": Scale({"epochs": 1, "limit_train": 8, "limit_test": 8, "batch_size": 8}, note="1 step"),
    },
    figures=("curves", "bands", "layers", "distributions"),
)


def _feature_maps(*args, **kwargs):
    from zoo.studies.feature_maps import run  # torch and matplotlib only once it runs

    return run(*args, **kwargs)


FEATURE_MAPS = Study(
    "feature-maps",
    description=(
        "The first and second layers' feature maps of FastResNet9, ResNet9 and ResNet18 for one image "
        "(--image FILE or a CIFAR-10 test-set index; published weights where there are some). Trains nothing."
    ),
    source=SEED_001,
    run=_feature_maps,
)

STUDIES = (MLP_DEPTH, BN_ACCURACY, HPARAMS, RES9_FAMILY, FAST_RESNET9, BN_LANDSCAPE, ICS, FEATURE_MAPS)


@hookimpl
def zoo_register_studies(register):
    for study in STUDIES:
        register(study)
