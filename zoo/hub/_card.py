"""What a published repo holds besides the weights: config.json and the README.md model card."""

from __future__ import annotations

from typing import Any

from .._spec import ModelSpec

HUB_DATASETS = {"cifar10": "uoft-cs/cifar10", "cifar10-jpeg": "uoft-cs/cifar10", "mnist": "ylecun/mnist"}
DATASET_NAMES = {"cifar10": "CIFAR-10", "cifar10-jpeg": "CIFAR-10 (JPEG-recovered copy)", "mnist": "MNIST"}
METRIC_LABELS = {  # manifest key -> (model-index metric type, label)
    "top1": ("accuracy", "top-1 accuracy (%)"),
    "top1_tta": ("accuracy", "top-1 accuracy with flip TTA (%)"),
    "top1_tta_translate": ("accuracy", "top-1 accuracy with flip + 1-pixel translate TTA (%)"),
    "exact_top1": ("accuracy", "top-1 accuracy on the byte-exact test images (%)"),
    "loss": ("loss", "cross-entropy loss"),
}


def build_config(
    spec: ModelSpec,
    entry: dict[str, Any],
    tag: str,
    options: dict[str, Any],
    normalisation: tuple[list[float], list[float]] | None = None,
) -> dict[str, Any]:
    """config.json: enough to rebuild and feed the model without zoo's registry at hand."""
    from ..data import NORMALISATION  # what zoo's loaders fed the model, for checkpoints that do not say

    mean, std = normalisation or NORMALISATION[spec.dataset]
    return {
        "library_name": "zoo",
        "architecture": spec.name,
        "tag": tag,
        "family": spec.family,
        "num_classes": entry["num_classes"],
        "input_size": list(spec.input_size),
        "mean": list(mean),
        "std": list(std),
        "dataset": entry["dataset"],
        "options": options,
        "params": entry["params"],
        "dtype": entry["dtype"],
        "zoo_version": entry["zoo_version"],
    }


def _front_matter(spec: ModelSpec, entry: dict[str, Any], tag: str) -> str:
    from huggingface_hub import EvalResult, ModelCardData

    dataset = entry["dataset"]
    results = [
        EvalResult(
            task_type="image-classification",
            task_name="Image Classification",
            dataset_type=HUB_DATASETS[dataset],
            dataset_name=DATASET_NAMES[dataset],
            dataset_split="test",
            metric_type=METRIC_LABELS[key][0],
            metric_name=METRIC_LABELS[key][1],
            metric_value=value,
        )
        for key, value in entry["metrics"].items()
    ]
    data = ModelCardData(
        library_name="zoo",
        license="mit",
        model_name=f"{spec.name}.{tag}",
        pipeline_tag="image-classification",
        tags=["zoo", "image-classification", spec.family, dataset, *spec.tags],
        datasets=[HUB_DATASETS[dataset]],
        metrics=["accuracy"],
        eval_results=results,
    )
    return data.to_yaml()


def _results_table(entry: dict[str, Any]) -> str:
    rows = "\n".join(f"| {METRIC_LABELS[key][1]} | {value:.4g} |" for key, value in entry["metrics"].items())
    return "| metric | value |\n|---|---|\n" + rows


def build_model_card(spec: ModelSpec, entry: dict[str, Any], tag: str) -> str:
    """README.md: YAML front matter (library, tags, datasets, license, model-index) and a body."""
    from huggingface_hub import ModelCard

    name = f"{spec.name}.{tag}"
    dataset = DATASET_NAMES[entry["dataset"]]
    device = entry.get("device") or "an unrecorded device"
    recipe = entry.get("recipe") or "not recorded"
    if entry.get("recipe_changes"):
        changed = ", ".join(f"{key} {value}" for key, value in entry["recipe_changes"].items())
        recipe = f"{recipe}, changed: {changed}"
    epochs = entry.get("epochs")
    body = f"""
# {name}

{spec.description or spec.family + " model"} from *{spec.paper.title}* ({spec.paper.url}), following {
        spec.seed
    },
trained on {dataset} and published with [zoo](https://github.com/cifar-zoo/zoo).

## How to load

```python
import zoo

model = zoo.create("{name}", pretrained=True).eval()
```

or `zoo eval {
        name
    } --pretrained`. zoo loads the exact commit recorded in its `weights_manifest.json` and checks
each file's sha256 before loading (safetensors only, no code execution). For offline machines:
`zoo pull {name}`, then `HF_HUB_OFFLINE=1`, or copy the files to `$ZOO_WEIGHTS_DIR/{
        entry["repo_id"].split("/")[-1]
    }/`.

## Results

{_results_table(entry)}

Measured on the {dataset} test set ({entry["dataset"]}) on {device}, {entry["date"]}, zoo {
        entry["zoo_version"]
    }.
{
        "Figures on the JPEG-recovered copy are close to, but not the same as, official test-set figures."
        if entry["dataset"] == "cifar10-jpeg"
        else ""
    }

## Training

- recipe: {recipe}
- epochs: {epochs if epochs is not None else "not recorded"}
- parameters: {entry["params"]:,}; weights dtype: {entry["dtype"]}; classes: {entry["num_classes"]}
- input: {"x".join(str(v) for v in spec.input_size)}, normalised with the mean/std in `config.json`
"""
    return str(ModelCard(f"---\n{_front_matter(spec, entry, tag)}\n---\n{body}"))
