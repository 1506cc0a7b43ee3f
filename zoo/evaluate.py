"""Test-set evaluation: top-1, loss, per-class accuracy and confusion matrix of a model.

    >>> from zoo.evaluate import evaluate_model
    >>> result = evaluate_model("lenet5", checkpoint="runs/lenet5", data_dir="data/cifar10-jpeg")
    >>> result.top1, result.identity

`evaluate` works on any module and `ArrayDataset`; `evaluate_model` resolves a registered name,
its weights (a zoo model file or the published ones) and the data set its spec names.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from ._builder import create, model_info
from ._choices import TTA_MODES
from ._errors import ZooError
from ._memory import keep_freed_memory
from ._progress import BatchProgress
from ._registry import split_name
from .checkpoint import load_model, read_metadata, resolve_model_file
from .data import ArrayDataset, DeviceLoader, load_dataset


class EvalError(ZooError, ValueError):
    """An evaluation that cannot run as asked (bad option, weights that do not fit the model)."""


@dataclass(frozen=True)
class EvalResult:
    """What one evaluation measured. Accuracies are percentages; `loss` is mean cross-entropy.

    `confusion[i][j]` counts images of class i predicted as class j. With a TTA mode (``"flip"``,
    ``"flip_translate"``) the headline figures use the averaged logits and `top1_no_tta` keeps the
    plain accuracy.
    `exact_top1` is the accuracy on the byte-exact images alone (cifar10-jpeg; None when the
    data set has no exact mask or the evaluated part holds no exact image).
    """

    identity: str
    num_images: int
    top1: float
    loss: float
    per_class: list[float | None]  # None for a class with no image in the evaluated set
    classes: list[str]
    confusion: list[list[int]]
    img_per_s: float
    device: str = "cpu"
    tta: str = "none"
    top1_no_tta: float | None = None
    exact_top1: float | None = None
    exact_images: int | None = None
    model: str = ""
    weights: str = ""  # where the weights came from: "checkpoint:<path>" or "pretrained:<name>.<tag>"

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready view."""
        return asdict(self)


def _percent(correct: torch.Tensor) -> float | None:
    # Integer counts, not a float32 mean: 9 of 50 is 18.0 %, not 18.000000715 %.
    return 100.0 * int(correct.sum()) / correct.numel() if correct.numel() else None


def _check_tta(tta: str) -> None:
    if tta not in TTA_MODES:
        raise EvalError(f"unknown TTA mode {tta!r}; choose one of {', '.join(TTA_MODES)}")


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def flip_tta(model: nn.Module, x: torch.Tensor, logits: torch.Tensor) -> torch.Tensor:
    """The flip test-time augmentation: the mean of the float logits of the images `x` (whose plain
    `logits` are given) and of their mirror images."""
    return (logits.float() + model(x.flip(-1)).float()) / 2


def translate_tta(model: nn.Module, x: torch.Tensor, logits: torch.Tensor) -> torch.Tensor:
    """airbench94's test-time augmentation (K. Jordan, arXiv:2404.00498, ``tta_level=2``): half the
    flip-averaged logits of `x` (plain `logits` given), half the mean of the flip-averaged logits of
    `x` shifted by one pixel down-right and up-left (reflect-padded): six views, weighted 1/4 for the
    image and its mirror and 1/8 for each shifted view."""
    height, width = x.shape[-2:]
    padded = F.pad(x, (1, 1, 1, 1), mode="reflect")
    shifted = [padded[..., :height, :width], padded[..., 2:, 2:]]
    moved = [flip_tta(model, s, model(s)) for s in shifted]
    return (flip_tta(model, x, logits) + (moved[0] + moved[1]) / 2) / 2


def tta_logits(
    model: nn.Module, x: torch.Tensor, tta: str, logits: torch.Tensor | None = None
) -> torch.Tensor:
    """The float logits of `x` under TTA mode `tta` (one of TTA_MODES; every evaluation in zoo, in
    training too, uses this); `logits`: the plain logits of `x`, when already computed."""
    logits = (model(x) if logits is None else logits).float()
    if tta == "none":
        return logits
    if tta == "flip":
        return flip_tta(model, x, logits)
    if tta == "flip_translate":
        return translate_tta(model, x, logits)
    raise EvalError(f"unknown TTA mode {tta!r}; choose one of {', '.join(TTA_MODES)}")


@torch.inference_mode()
def evaluate(
    model: nn.Module,
    dataset: ArrayDataset,
    *,
    batch_size: int = 500,
    tta: str = "none",
    device: str | torch.device = "cpu",
    progress: bool = False,
) -> EvalResult:
    """Evaluate `model` on every image of `dataset`, in order, in eval mode.

    Args:
        tta: ``"none"``, ``"flip"`` to average the logits of each image and its mirror image, or
            ``"flip_translate"`` to add airbench94's one-pixel shifts (`translate_tta`).
        device: where the model and the data run (the model is moved there). On the CPU, glibc's
            malloc is set to keep freed memory for reuse from then on (`zoo._memory`: a big
            speed-up; the process holds its peak memory; ``ZOO_CPU_MALLOC=system`` opts out).
        progress: show progress: a transient bar on a terminal, else a line in the `zoo` log at each
            tenth of a pass that takes minutes (zoo._progress).
    """
    _check_tta(tta)
    if batch_size <= 0:
        raise EvalError(f"batch_size must be a positive number of images, got {batch_size}")
    if len(dataset) == 0:
        raise EvalError(f"data set {dataset.identity!r} is empty: nothing to evaluate")
    device = torch.device(device)
    keep_freed_memory(device)  # CPU batches reuse their activations' pages (zoo._memory)
    model = model.to(device).eval()
    loader = DeviceLoader(dataset, batch_size, train=False, device=device, shuffle=False)
    num_classes = len(dataset.classes)
    loss_sum = torch.zeros((), dtype=torch.float64, device=device)
    predictions, plain_predictions = [], []

    shown = BatchProgress(progress)
    shown.begin(f"evaluating on {dataset.identity}", len(loader))
    try:
        _sync(device)
        start = time.perf_counter()
        for batch, (x, y) in enumerate(loader, start=1):
            logits = model(x).float()
            if logits.shape[1] != num_classes:
                raise EvalError(
                    f"the model outputs {logits.shape[1]} classes but data set {dataset.identity!r} "
                    f"has {num_classes}"
                )
            if tta != "none":
                plain_predictions.append(logits.argmax(1))
                logits = tta_logits(model, x, tta, logits)
            loss_sum += F.cross_entropy(logits, y, reduction="sum").double()
            predictions.append(logits.argmax(1))
            shown.update(batch)
        _sync(device)
        elapsed = time.perf_counter() - start
    finally:
        shown.stop()

    predicted = torch.cat(predictions).cpu()
    labels = dataset.labels.cpu()
    if predicted.shape != labels.shape:  # the loader must visit every image once, in order
        raise RuntimeError(f"evaluated {predicted.numel()} images of {labels.numel()}: loader skipped some")
    correct = predicted == labels
    confusion = torch.bincount(labels * num_classes + predicted, minlength=num_classes**2)
    confusion = confusion.reshape(num_classes, num_classes)
    per_class = [
        100.0 * confusion[c, c].item() / confusion[c].sum().item() if confusion[c].sum() else None
        for c in range(num_classes)
    ]
    exact = dataset.exact_mask
    return EvalResult(
        identity=dataset.identity,
        num_images=len(labels),
        top1=_percent(correct),
        loss=loss_sum.item() / len(labels),
        per_class=per_class,
        classes=list(dataset.classes),
        confusion=confusion.tolist(),
        img_per_s=len(labels) / elapsed,
        device=str(device),
        tta=tta,
        top1_no_tta=_percent(torch.cat(plain_predictions).cpu() == labels) if plain_predictions else None,
        exact_top1=_percent(correct[exact.cpu()]) if exact is not None else None,
        exact_images=int(exact.sum()) if exact is not None else None,
    )


def load_weights(
    name: str, *, checkpoint: str | Path | None = None, pretrained: bool = False
) -> tuple[nn.Module, str]:
    """The model `name` with weights from exactly one source, and a label for that source.

    Raises EvalError when neither or both sources are given, or when the checkpoint holds
    another model; zoo.checkpoint.CheckpointError when the checkpoint path holds no model file.
    """
    if (checkpoint is None) == (not pretrained):
        raise EvalError(
            f"give exactly one source of weights for {name!r}: a checkpoint or pretrained=True "
            f"(got checkpoint={checkpoint!r}, pretrained={pretrained!r})"
        )
    if pretrained:
        model = create(name, pretrained=True)
        return model, f"pretrained:{split_name(name)[0]}.{model.pretrained_cfg['tag']}"
    base = model_info(name).name
    file = resolve_model_file(checkpoint)
    saved = read_metadata(file).get("zoo.model")
    if saved is not None and split_name(saved)[0] != base:
        raise EvalError(f"checkpoint {file} holds a {saved!r} model, not {base!r}: evaluate it as {saved!r}")
    model, _ = load_model(file)
    return model, f"checkpoint:{file}"


def evaluate_model(
    name: str,
    *,
    checkpoint: str | Path | None = None,
    pretrained: bool = False,
    data_dir: str | Path | None = None,
    limit: int | None = None,
    batch_size: int = 500,
    tta: str = "none",
    device: str | torch.device = "cpu",
    progress: bool = False,
    download: bool | None = None,
) -> EvalResult:
    """Evaluate a registered model on the test split of the data set its spec names.

    Args:
        checkpoint: a zoo model file (or a directory holding one); or
        pretrained: load the published weights (``name.tag`` picks a tag).
        data_dir: where the data set lives (default: zoo.data.default_data_dir()).
        limit: evaluate a seeded random subset of `limit` test images (`ArrayDataset.sample`: the
            same images every time, the subset `zoo train --limit-test` takes with seed 0).
        download: see `zoo.data.load_dataset` (default: only into the default data dir).
    """
    _check_tta(tta)
    if limit is not None and limit <= 0:
        raise EvalError(f"limit must be a positive number of images, got {limit}")
    spec = model_info(name)
    model, weights = load_weights(name, checkpoint=checkpoint, pretrained=pretrained)
    dataset = load_dataset(spec.dataset, "test", data_dir, download=download)
    if limit is not None:
        dataset = dataset.sample(limit)
    result = evaluate(model, dataset, batch_size=batch_size, tta=tta, device=device, progress=progress)
    return replace(result, model=name, weights=weights)


def save_confusion_png(result: EvalResult, path: str | Path) -> Path:
    """Draw `result.confusion` as a heat map with counts into a PNG file."""
    import matplotlib

    matplotlib.use("Agg")  # no display needed; must precede pyplot
    import matplotlib.pyplot as plt

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    matrix = torch.tensor(result.confusion)
    n = len(result.classes)
    fig, ax = plt.subplots(figsize=(1.0 + 0.6 * n, 0.8 + 0.6 * n), dpi=100)
    try:
        image = ax.imshow(matrix.numpy(), cmap="Blues")
        fig.colorbar(image, ax=ax, fraction=0.046, pad=0.04).set_label("test images")
        ax.set_xticks(range(n), result.classes, rotation=45, ha="right")
        ax.set_yticks(range(n), result.classes)
        ax.set_xlabel("predicted")
        ax.set_ylabel("true")
        ax.set_title(f"{result.model or 'model'} on {result.identity}: top-1 {result.top1:.2f} %")
        threshold = matrix.max().item() / 2
        for i in range(n):
            for j in range(n):
                value = matrix[i, j].item()
                ax.text(
                    j,
                    i,
                    str(value),
                    ha="center",
                    va="center",
                    fontsize=7,
                    color="white" if value > threshold else "black",
                )
        fig.tight_layout()
        fig.savefig(path, format="png")
    finally:
        plt.close(fig)
    return path
