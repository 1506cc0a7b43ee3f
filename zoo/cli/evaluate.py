"""`zoo eval` (test-set accuracy of a checkpoint or published weights) and `zoo bench` (speed)."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import TYPE_CHECKING

import typer
from rich.console import Console
from rich.table import Table

from .. import list_models, model_info
from .._files import check_output_path
from ._app import CliUsageError, app
from ._options import TTAMode, channels_last_option, device_option, precision_option, tta_option

if TYPE_CHECKING:
    # Loaded when the command runs, so that `zoo --help` and `zoo list` stay fast.
    import torch

    # Loaded when the command runs, so that `zoo --help` and `zoo list` stay fast.
    from ..bench import BenchResult
    from ..evaluate import EvalResult


def _device(name: str) -> torch.device:
    """`--device` checked against what this machine has ("auto": the GPU if there is one)."""
    # Loaded when the command runs, so that `zoo --help` and `zoo list` stay fast.
    from .._device import DeviceError, resolve_device

    try:
        return resolve_device(name)
    except DeviceError as error:
        raise CliUsageError(f"--{error}") from None


@app.command("eval")
def eval_command(
    model: str = typer.Argument(
        None, help="Registered model name (name.tag picks published weights); with --checkpoint, optional."
    ),
    checkpoint: Path = typer.Option(None, "--checkpoint", "-c", help="A zoo model file or a run directory."),
    pretrained: bool = typer.Option(False, "--pretrained", help="Evaluate the published weights."),
    data_dir: Path = typer.Option(None, "--data-dir", help="Data set directory (default: zoo's data cache)."),
    download: bool = typer.Option(
        False, "--download", help="Download the data set into --data-dir if absent (only with this flag)."
    ),
    tta: TTAMode = tta_option(),
    batch_size: int = typer.Option(500, "--batch-size", min=1, help="Images per forward pass."),
    device: str = device_option(),
    limit: int = typer.Option(
        None,
        "--limit",
        min=1,
        help="Evaluate a random N-image subset of the test split (the same N images every time; what "
        "`zoo train --limit-test N` takes with seed 0).",
    ),
    as_json: bool = typer.Option(False, "--json", help="Machine-readable output."),
    confusion: Path = typer.Option(None, "--confusion", help="Also write the confusion matrix as a PNG."),
) -> None:
    """Top-1, loss and per-class accuracy of a model on its data set's test split."""
    # Loaded when the command runs, so that `zoo --help` and `zoo list` stay fast.
    from ..checkpoint import CheckpointError
    from ..data import DatasetError
    from ..evaluate import EvalError, evaluate_model, save_confusion_png

    if model is None:
        model = _model_in(checkpoint)
    model_info(model)  # an unknown name fails here, before any loading
    if (checkpoint is None) == (not pretrained):
        raise CliUsageError(
            "say which weights to evaluate: --checkpoint PATH or --pretrained (exactly one)"
            + (", not both" if pretrained else "")
        )
    if confusion is not None:
        check_output_path(confusion, "--confusion")  # before the work, not after it
    try:
        result = evaluate_model(
            model,
            checkpoint=checkpoint,
            pretrained=pretrained,
            data_dir=data_dir,
            limit=limit,
            batch_size=batch_size,
            tta=tta,
            device=_device(device),
            progress=not as_json,
            download=download or None,
        )
    except (CheckpointError, DatasetError, EvalError) as error:
        raise CliUsageError(str(error)) from None
    if confusion is not None:
        save_confusion_png(result, confusion)
    if as_json:
        typer.echo(json.dumps(result.to_dict(), indent=2))
    else:
        _print_eval(result, confusion)


def _model_in(checkpoint: Path | None) -> str:
    """The registered model a checkpoint holds, for `zoo eval --checkpoint RUN` without MODEL."""
    # Loaded when the command runs, so that `zoo --help` and `zoo list` stay fast.
    from ..checkpoint import CheckpointError, read_metadata

    if checkpoint is None:
        raise CliUsageError("name the MODEL to evaluate, or give --checkpoint RUN alone (it names its model)")
    try:
        name = read_metadata(checkpoint).get("zoo.model")
    except CheckpointError as error:
        raise CliUsageError(str(error)) from None
    if not name:
        raise CliUsageError(f"{checkpoint} does not say which model it holds (no zoo.model): name the MODEL")
    return name


def _print_eval(result: EvalResult, confusion: Path | None) -> None:
    console = Console()
    console.print(
        f"[bold]{result.model} on {result.identity} ({result.num_images} images): "
        f"top-1 {result.top1:.2f} %[/bold]"
    )
    details = [f"loss {result.loss:.4f}"]
    if result.top1_no_tta is not None:
        details.append(f"TTA {result.tta} (without: {result.top1_no_tta:.2f} %)")
    if result.exact_top1 is not None and result.exact_images != result.num_images:  # a different set
        details.append(f"exact images only ({result.exact_images}): {result.exact_top1:.2f} %")
    details.append(f"{result.img_per_s:,.0f} img/s on {result.device}")
    console.print(" · ".join(details), highlight=False)
    console.print(f"weights: {result.weights}", highlight=False)
    table = Table(title="per class", title_justify="left")
    for column, justify in (("class", "left"), ("images", "right"), ("top-1 %", "right")):
        table.add_column(column, justify=justify)
    for name, accuracy, row in zip(result.classes, result.per_class, result.confusion):
        table.add_row(name, str(sum(row)), "-" if accuracy is None else f"{accuracy:.2f}")
    console.print(table)
    if confusion is not None:
        console.print(f"confusion matrix: {confusion}", highlight=False)


@app.command("bench")
def bench_command(
    models: list[str] = typer.Argument(None, help="Registered model names (or --all)."),
    all_models: bool = typer.Option(False, "--all", help="Benchmark every registered model."),
    batch_size: int = typer.Option(
        None, "--batch-size", min=1, help="Eval and train throughput batch (unset: 256 eval, 128 train)."
    ),
    repeats: int = typer.Option(5, "--repeats", min=1, help="Timed repeats per mode (median, spread)."),
    warmup: int = typer.Option(2, "--warmup", min=0, help="Untimed steps before timing."),
    min_time: float = typer.Option(0.2, "--min-time", min=0.001, help="Least seconds a timed repeat lasts."),
    device: str = device_option(),
    threads: int = typer.Option(None, "--threads", min=1, help="CPU threads (unset: torch's choice)."),
    channels_last: bool = channels_last_option(),
    precision: str = precision_option(),
    compile_model: bool = typer.Option(False, "--compile", help="torch.compile the model."),
    out_dir: Path = typer.Option(
        None,
        "--out-dir",
        help="Folder of the per-device CSV (unset: zoo's cache; benchmarks/results only when given).",
    ),
    csv: Path = typer.Option(None, "--csv", help="Append to this CSV file instead."),
) -> None:
    """Params, MACs, latency (batch 1), eval and train-step throughput; appends to a results CSV."""
    # Loaded when the command runs, so that `zoo --help` and `zoo list` stay fast.
    import torch

    # Loaded when the command runs, so that `zoo --help` and `zoo list` stay fast.
    from ..bench import append_csv, benchmark, default_out_dir, load_warning, spread_warnings

    if all_models == bool(models):
        raise CliUsageError("name the models to benchmark, or give --all (not both)")
    names = list_models() if all_models else [model_info(name).name for name in models]
    if threads is not None:
        torch.set_num_threads(threads)
    target = _device(device)
    if csv is not None:
        csv = check_output_path(csv, "--csv")
    else:
        out_dir = check_output_path(out_dir or default_out_dir(), "--out-dir", directory=True)
    busy = load_warning()
    if busy:
        logging.getLogger("zoo").warning(busy)
    console, results, csv_path = Console(stderr=True), [], None
    for name in names:
        with console.status(f"benchmarking {name} on {target} ({len(results) + 1}/{len(names)})"):
            result = benchmark(
                name,
                device=target,
                batch_size=batch_size,
                repeats=repeats,
                warmup=warmup,
                min_time=min_time,
                channels_last=channels_last,
                precision=precision,
                compile=compile_model,
            )
        # After each model: an interrupted run keeps what it measured.
        csv_path = append_csv(result, out_dir, path=csv)
        results.append(result)
    _print_bench(results, repeats)
    for line in (line for r in results for line in spread_warnings(r)) if repeats > 1 else ():
        logging.getLogger("zoo").warning(line)
    rows = sum(len(r.measurements) for r in results)
    Console().print(f"appended {rows} rows to {csv_path}", highlight=False)


def _print_bench(results: list[BenchResult], repeats: int) -> None:
    first = results[0]
    options = [o for o, on in (("channels-last", first.channels_last), ("compile", first.compile)) if on]
    if first.cpu_malloc == "kept":
        options.append("freed memory kept")
    title = ", ".join([first.device, f"torch {first.torch}", first.precision, *options])
    table = Table(
        title=title,
        title_justify="left",
        caption=f"median of {repeats} repeats ± (max - min) / median" if repeats > 1 else "one timed repeat",
        caption_justify="left",
    )
    table.add_column("model")
    table.add_column("params", justify="right")
    table.add_column("MACs", justify="right")
    for m in first.measurements:
        unit = "ms" if m.mode == "latency" else "img/s"
        table.add_column(f"{m.mode} b{m.batch} ({unit})", justify="right")
    for r in results:
        cells = [
            f"{m.latency_ms:.2f}" if m.mode == "latency" else f"{m.img_per_s:,.0f}" for m in r.measurements
        ]
        spreads = [f" ±{m.spread:.0f}%" if repeats > 1 else "" for m in r.measurements]
        table.add_row(
            r.model,
            f"{r.params / 1e6:.2f}M",
            f"{r.macs / 1e6:.1f}M",
            *[c + s for c, s in zip(cells, spreads)],
        )
    Console().print(table)
