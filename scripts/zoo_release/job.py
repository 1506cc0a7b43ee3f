"""The job the GPU machine runs: each model of the plan trained within its seconds, measured, packed.

Per model it leaves in ``WORK/<model>/``: the weights as safetensors shards of at most
`Settings.file_bytes` (in float16 or bfloat16 where that moves top-1 by less than 0.05 points and the
model has over 5M parameters), config.json and metrics.csv of the training run, and eval.json with what
was measured (top-1, flip-TTA top-1, exact-image top-1, wall seconds). With an outbox, a finished model
is handed to it (`transport.send`) before the next starts; a model whose seconds no longer fit the
total is skipped.
"""

from __future__ import annotations

import contextlib
import gc
import json
import shutil
import sys
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from .plan import Item, recipe_for
from .transport import (
    EVAL_FILE,
    FILE_BYTES,
    Limits,
    LimitsError,
    finished_models,
    mark_finished,
    send,
    split_file,
)

HALF_MIN_PARAMS = 5_000_000  # smaller models keep float32: their files are small anyway
HALF_TOLERANCE = 0.05  # top-1 points a half-precision copy may differ by
HALF_DTYPES = (torch.float16, torch.bfloat16)  # float16 first: 3 more mantissa bits
SUMMARY = "summary.json"


@dataclass(frozen=True)
class Settings:
    """How the job runs. `overrides` go to `zoo.train.train` (tests: device, limit_train, epochs, ...)."""

    work: Path
    total_s: float
    data_dir: Path | None = None
    outbox: Path | None = None  # the folder each fetch brings back; None: the files stay in `work`
    limits: Limits = Limits()  # what one fetch of the outbox may bring back
    eval_every: int = 5
    compile: bool = False
    seed: int = 0
    margin_s: float = 25.0  # measuring and packing after training, until one model has shown its own
    file_bytes: int = FILE_BYTES  # the largest file written: shards aim at it, larger ones travel in parts
    shard_bytes: int | None = None  # None: file_bytes (tests make shards smaller than parts)
    half_min_params: int = HALF_MIN_PARAMS
    overrides: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self):  # checked before any training: a size that cannot work wastes the run
        if self.file_bytes <= 0:
            raise LimitsError(f"the largest file must be positive (--max-file-bytes), got {self.file_bytes}")
        if self.outbox is not None:
            self.limits.check_file_size(self.file_bytes)


@contextlib.contextmanager
def full_fp32():
    """TF32 off, so a GPU's figures are the fp32 figures a CPU evaluation of the same weights gives."""
    saved = torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32
    torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = False
    try:
        yield
    finally:
        torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32 = saved


REHEARSAL_IMAGES = 1000  # the suite's quick release rehearsal reproduces the top-1 of (at most) these
# ... and of fewer for a large model: at most 300 GMAC each, about 6 s of a 2-core AVX2 CPU in fp32
# (2 s where bf16 is native), so that the quick suite stays within its 5 minutes on either as large
# releases are added (resnet18: 500 images, resnext29_8x64d: 100).
REHEARSAL_MACS = 300e9


def _evaluate(model: torch.nn.Module, dataset, device, what: str, **options):
    """`zoo.evaluate.evaluate`, then one line on stderr: a large model's pass takes minutes on a CPU."""
    from zoo.evaluate import evaluate

    start = time.perf_counter()
    result = evaluate(model, dataset, device=device, progress=True, **options)
    seconds = time.perf_counter() - start
    print(
        f"  {what}: top-1 {result.top1:.2f} % of {len(dataset):,} images ({seconds:.0f} s)",
        file=sys.stderr,
        flush=True,
    )
    return result


def claimed_tta(model: str) -> str:
    """The TTA mode the claim of `model`'s default recipe is measured with ("none" without TTA)."""
    from zoo.train.recipes import default_recipe_name, get_recipe

    recipe = get_recipe(default_recipe_name(model))
    return recipe.tta_mode if recipe.tta else "none"


def rehearsal_images(model: str) -> int:
    """How many test images the quick rehearsal of `model`'s releases takes: REHEARSAL_IMAGES, or
    fewer (a multiple of 100, at least 100) where they would cost more than REHEARSAL_MACS."""
    import zoo

    affordable = int(REHEARSAL_MACS // max(zoo.model_info(model).macs, 1))
    return max(100, min(REHEARSAL_IMAGES, affordable // 100 * 100))


def measure_options(model: str) -> dict[str, Any]:
    """`measure`'s options for a release of `model`: its claim's TTA and its rehearsal size."""
    return {"tta": claimed_tta(model), "rehearsal": rehearsal_images(model)}


def measure(
    model: torch.nn.Module, dataset, device, plain=None, tta: str = "flip", rehearsal: int = REHEARSAL_IMAGES
) -> dict[str, Any]:
    """The manifest's metrics of `model`: top1, loss, exact_top1 and, on CIFAR-10, flip-TTA top1
    (and with ``tta="flip_translate"``, the TTA airbench's claim is measured with, top1_tta_translate);
    and ``rehearsal``, the top-1 of the `rehearsal` test images `zoo eval --limit` samples.

    `plain`: an `EvalResult` already measured for these weights (saves a pass).
    """
    with full_fp32():
        plain = plain or _evaluate(model, dataset, device, "float32")
        metrics = {"top1": round(plain.top1, 2), "loss": round(plain.loss, 4)}
        if plain.exact_top1 is not None:
            metrics["exact_top1"] = round(plain.exact_top1, 2)
        if dataset.identity.startswith("cifar10"):  # MNIST digits are not mirror-symmetric
            metrics["top1_tta"] = round(_evaluate(model, dataset, device, "flip TTA", tta="flip").top1, 2)
            if tta == "flip_translate":
                result = _evaluate(model, dataset, device, "flip + translate TTA", tta="flip_translate")
                metrics["top1_tta_translate"] = round(result.top1, 2)
        subset = dataset.sample(rehearsal)  # what `zoo eval --limit N` evaluates
        metrics["rehearsal"] = {
            "images": len(subset),
            "top1": round(_evaluate(model, subset, device, "rehearsal subset").top1, 2),
        }
    return metrics


def cast(state: dict[str, torch.Tensor], dtype: torch.dtype) -> dict[str, torch.Tensor]:
    """`state` with its floating tensors in `dtype` (integer buffers such as BN counters unchanged)."""
    return {k: v.to(dtype) if v.is_floating_point() else v for k, v in state.items()}


def choose_dtype(model, dataset, device, min_params: int) -> tuple[torch.dtype, Any, list[dict]]:
    """The storage dtype (float32, or a half type within HALF_TOLERANCE of it), the `EvalResult` of
    `model` loaded with it, and every trial. `model` is left holding the chosen weights."""
    state = {k: v.detach().clone() for k, v in model.state_dict().items()}
    with full_fp32():
        full = _evaluate(model, dataset, device, "float32")
        trials = [{"dtype": "float32", "top1": full.top1}]
        if sum(p.numel() for p in model.parameters()) <= min_params:
            return torch.float32, full, trials
        for dtype in HALF_DTYPES:
            half = cast(state, dtype)
            if not all(torch.isfinite(v).all() for v in half.values() if v.is_floating_point()):
                trials.append({"dtype": str(dtype).removeprefix("torch."), "top1": None})
                continue  # a value beyond the type's range
            model.load_state_dict(half)  # copied into the float32 parameters, as loading does
            result = _evaluate(model, dataset, device, f"stored as {str(dtype).removeprefix('torch.')}")
            trials.append({"dtype": str(dtype).removeprefix("torch."), "top1": result.top1})
            if abs(result.top1 - full.top1) < HALF_TOLERANCE:
                return dtype, result, trials
    model.load_state_dict(state)
    return torch.float32, full, trials


def write_weights(state, metadata: dict[str, str], folder: Path, shard_bytes: int, part_bytes: int) -> dict:
    """Safetensors shards (with an index when more than one) of `state` in `folder`; their sha256/size.

    A tensor larger than a shard makes its shard larger: such a file travels in parts (transport).
    """
    from huggingface_hub import save_torch_state_dict

    from zoo.checkpoint import file_record

    meta = {k: v for k, v in metadata.items() if k.startswith("zoo.")}
    state = {k: v.detach().cpu().contiguous() for k, v in state.items()}
    save_torch_state_dict(state, folder, metadata=meta, max_shard_size=shard_bytes)
    names = sorted(p.name for p in folder.glob("model*.safetensors*"))
    record = file_record(folder, names)
    for name in names:
        parts = split_file(folder / name, part_bytes)
        if len(parts) > 1:
            record[name]["parts"] = len(parts)
    return record


def _device_name(device: torch.device) -> str:
    from zoo._device import cpu_model

    return torch.cuda.get_device_name(device) if device.type == "cuda" else cpu_model()


def _test_set(name: str, settings: Settings, cache: dict):
    from zoo.data import load_dataset

    if name not in cache:
        data = load_dataset(name, "test", settings.data_dir)
        limit = settings.overrides.get("limit_test")
        cache[name] = data.subset(torch.arange(limit)) if limit and limit < len(data) else data
    return cache[name]


def release_one(item: Item, settings: Settings, test_sets: dict) -> dict[str, Any]:
    """Train, measure and pack one model into ``WORK/<model>/``; its eval.json record."""
    import zoo
    from zoo.checkpoint import load_model
    from zoo.train import train

    folder = settings.work / item.model
    shutil.rmtree(folder, ignore_errors=True)  # an attempt cut short: none of its files were sent
    recipe = recipe_for(item.model)
    started = time.perf_counter()
    result = train(
        item.model, recipe=recipe, out=folder / "run", data_dir=settings.data_dir,
        time_budget=item.budget_s, eval_every=settings.eval_every, compile=settings.compile,
        seed=settings.seed, **settings.overrides,
    )  # fmt: skip
    train_s = time.perf_counter() - started
    device = torch.device(result.config["device"])
    dataset = _test_set(zoo.model_info(item.model).dataset, settings, test_sets)
    model, metadata = load_model(result.model_path)
    dtype, plain, trials = choose_dtype(model, dataset, device, settings.half_min_params)
    metrics = measure(model, dataset, device, plain, **measure_options(item.model))
    shard_bytes = settings.shard_bytes or settings.file_bytes
    files = write_weights(cast(model.state_dict(), dtype), metadata, folder, shard_bytes, settings.file_bytes)
    for name in ("config.json", "metrics.csv"):
        shutil.copyfile(folder / "run" / name, folder / name)
    report = {
        "model": item.model,
        "dataset": dataset.identity,
        "recipe": recipe.name,
        "epochs": result.epochs_run,
        "budget_s": item.budget_s,
        "train_seconds": round(train_s, 1),
        "wall_seconds": round(time.perf_counter() - started, 1),
        "device": _device_name(device),
        "torch": torch.__version__,
        "params": sum(p.numel() for p in model.parameters()),
        "dtype": str(dtype).removeprefix("torch."),
        "dtype_trials": trials,
        "metrics": metrics,
        "test_images": len(dataset),
        "files": files,
    }
    (folder / EVAL_FILE).write_text(json.dumps(report, indent=2) + "\n")
    mark_finished(settings.work, item.model)
    return report


def _attempt(item: Item, settings: Settings, test_sets: dict, summary: dict, log) -> float:
    """Release one model into `summary`; the seconds it took beyond its budget (0 when it failed)."""
    try:
        report = release_one(item, settings, test_sets)
    except Exception as error:  # one model's failure must not cost the others
        summary["failed"][item.model] = f"{type(error).__name__}: {error}"
        log(f"!! {item.model} failed:\n{''.join(traceback.format_exception(error)[-4:])}")
        return 0.0
    finally:
        gc.collect()
        if torch.cuda.is_available():
            torch.cuda.empty_cache()  # the next model starts with the whole GPU
    summary["done"][item.model] = _line(report)
    log(f"   {item.model}: {summary['done'][item.model]}")
    return report["wall_seconds"] - item.budget_s


def run_job(items: list[Item], settings: Settings, log=print) -> dict[str, Any]:
    """Release `items` in order within `settings.total_s` wall seconds; the summary (also WORK/summary.json).

    A model whose budget plus the measuring margin no longer fits is skipped (a later, shorter one may
    still fit); one that fails is recorded and the job goes on. Each finished model goes to the outbox
    at once.
    """
    started = time.perf_counter()
    settings.work.mkdir(parents=True, exist_ok=True)
    if torch.cuda.is_available():
        torch.backends.cudnn.benchmark = True  # fixed input shapes: the fastest kernels pay for their search
    finished = set(finished_models(settings.work))
    summary: dict[str, Any] = {"done": {}, "skipped": {}, "failed": {}}
    margin, test_sets = settings.margin_s, {}
    for item in items:
        left = settings.total_s - (time.perf_counter() - started)
        if item.model in finished:
            summary["skipped"][item.model] = f"already finished in {settings.work}"
        elif item.budget_s + margin > left:
            summary["skipped"][item.model] = f"needs {item.budget_s + margin:.0f} s, {left:.0f} s left"
        else:
            log(f"== {item.model}: {item.budget_s:.0f} s of training ({left:.0f} s left in the job)")
            margin = max(margin, _attempt(item, settings, test_sets, summary, log))
            if settings.outbox is not None:
                log(f"   {send(settings.work, settings.outbox, limits=settings.limits).summary()}")
            continue
        log(f"-- {item.model} skipped: {summary['skipped'][item.model]}")
    summary["seconds"] = round(time.perf_counter() - started, 1)
    (settings.work / SUMMARY).write_text(json.dumps(summary, indent=2) + "\n")
    return summary


def _line(report: dict[str, Any]) -> str:
    m = report["metrics"]
    tta = f", flip TTA {m['top1_tta']:.2f} %" if "top1_tta" in m else ""
    return (
        f"top-1 {m['top1']:.2f} %{tta}, {report['epochs']} epochs in {report['train_seconds']:.0f} s "
        f"on {report['device']}, stored as {report['dtype']} in {len(report['files'])} file(s)"
    )
