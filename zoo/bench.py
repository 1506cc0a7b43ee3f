"""Speed benchmarks: inference latency and throughput, and train-step throughput, on one device.

    >>> from zoo.bench import benchmark, append_csv
    >>> result = benchmark("resnet18", device="cpu", batch_size=64, repeats=3)
    >>> append_csv(result)   # <zoo cache>/bench/bench-<device>-torch<version>.csv

Each mode runs warm-up steps, then `repeats` timed repeats of enough steps to last `min_time`
seconds; the figure reported is the median over repeats and `spread` is (max - min) / median
in percent. Inputs are random tensors of the model's input size (data loading is not timed).
"""

from __future__ import annotations

import csv
import io
import math
import os
import platform
import re
import statistics
import time
from collections.abc import Callable, Sequence
from contextlib import nullcontext
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from ._builder import create, model_info
from ._device import cpu_model, device_description
from ._errors import ZooError
from ._files import replacing, write_failures_as, zoo_cache_dir
from ._measure import count_macs, count_params
from ._memory import keep_freed_memory
from ._version import __version__
from .train.runtime import choose_channels_last, choose_precision

MODES = ("latency", "eval", "train")
DEFAULT_BATCH = {"latency": 1, "eval": 256, "train": 128}
CSV_COLUMNS = (
    "model",
    "params",
    "macs",
    "batch",
    "mode",
    "img_per_s",
    "spread",
    "latency_ms",
    "channels_last",
    "precision",
    "compile",
    "device",
    "torch",
    "zoo",
    "date",
)


class BenchError(ZooError, ValueError):
    """A benchmark that cannot run as asked, or a results file it must not append to."""


class BenchWriteError(BenchError):
    """The results file could not be written (a full disk): it is as it was. Exit code 1."""

    exit_code = 1


@dataclass(frozen=True)
class Measurement:
    """One mode's timing: median images/s, spread in % of it, and median time per step."""

    mode: str
    batch: int
    img_per_s: float
    spread: float
    latency_ms: float
    steps_per_repeat: int


@dataclass(frozen=True)
class BenchResult:
    """A model's measurements on one device with one set of options."""

    model: str
    params: int
    macs: int
    device: str  # human description, e.g. "Intel(R) Xeon(R) Processor (2 threads)"
    channels_last: bool
    precision: str  # fp32, bf16 or fp16 (autocast)
    compile: bool
    torch: str
    zoo: str
    date: str
    measurements: tuple[Measurement, ...]
    csv_name: str  # the results file this device and torch build append to
    cpu_malloc: str | None = None  # CPU: "kept" or why not (zoo._memory); not a CSV column

    def rows(self) -> list[dict[str, object]]:
        """One CSV row (`CSV_COLUMNS`) per measured mode."""
        common = {k: getattr(self, k) for k in CSV_COLUMNS if hasattr(self, k)}
        return [
            {
                **common,
                "batch": m.batch,
                "mode": m.mode,
                "img_per_s": round(m.img_per_s, 2),
                "spread": round(m.spread, 2),
                "latency_ms": round(m.latency_ms, 4),
            }
            for m in self.measurements
        ]


def _slug(text: str) -> str:
    text = re.sub(r"\((r|tm)\)", "", text.lower())
    return re.sub(r"[^a-z0-9.]+", "-", text).strip("-")


def csv_name(device: torch.device) -> str:
    """Results file for this device and torch build, e.g. bench-cpu-intel-xeon-2threads-torch2.15.0.csv."""
    if device.type == "cuda":
        where = _slug(torch.cuda.get_device_name(device))
    elif device.type == "cpu":
        where = f"cpu-{_slug(cpu_model())}-{torch.get_num_threads()}threads"
    else:
        where = f"{device.type}-{_slug(platform.machine())}"
    return f"bench-{where}-torch{_slug(torch.__version__)}.csv"


def _sync(device: torch.device) -> Callable[[], None]:
    if device.type == "cuda":
        return lambda: torch.cuda.synchronize(device)
    if device.type == "mps":
        return torch.mps.synchronize
    return lambda: None


def time_steps(
    step: Callable[[], object], sync: Callable[[], None], *, repeats: int, warmup: int, min_time: float
) -> tuple[list[float], int]:
    """Seconds per step for each repeat, and the steps per repeat (sized to last `min_time`).

    The last warm-up step is timed to size the repeats (with more steps, up to a quarter of
    `min_time`, for fast models): a heavy model costs max(warmup, 1) + repeats steps in all.
    """
    for _ in range(warmup - 1):
        step()
    sync()
    steps, start = 0, time.perf_counter()
    while True:
        step()
        steps += 1
        sync()
        elapsed = time.perf_counter() - start
        if elapsed >= min_time / 4:
            break
    per_repeat = max(1, math.ceil(min_time / (elapsed / steps)))
    seconds = []
    for _ in range(repeats):
        start = time.perf_counter()
        for _ in range(per_repeat):
            step()
        sync()
        seconds.append((time.perf_counter() - start) / per_repeat)
    return seconds, per_repeat


def _measure(mode: str, batch: int, step_seconds: list[float], steps: int) -> Measurement:
    rates = [batch / s for s in step_seconds]
    median = statistics.median(rates)
    return Measurement(
        mode,
        batch,
        median,
        100.0 * (max(rates) - min(rates)) / median,
        1000.0 * statistics.median(step_seconds),
        steps,
    )


def _resolve(name_or_model: str | nn.Module, input_size: Sequence[int] | None):
    """(name, model, params, macs, input size): from the spec for a name, measured for a module."""
    if isinstance(name_or_model, str):
        spec = model_info(name_or_model)
        return spec.name, create(spec.name), spec.params, spec.macs, tuple(input_size or spec.input_size)
    model = name_or_model
    size = tuple(input_size or (3, 32, 32))
    return type(model).__name__.lower(), model, count_params(model), count_macs(model, size), size


def benchmark(
    name_or_model: str | nn.Module,
    *,
    device: str | torch.device = "cpu",
    batch_size: int | None = None,
    repeats: int = 5,
    warmup: int = 2,
    min_time: float = 0.2,
    modes: Sequence[str] = MODES,
    channels_last: bool | None = None,
    precision: str = "auto",
    compile: bool = False,
    input_size: Sequence[int] | None = None,
) -> BenchResult:
    """Time a registered model (or any classifier module) in each of `modes`.

    Args:
        batch_size: batch of the "eval" and "train" modes (default 256 and 128); "latency" uses 1.
        repeats: timed repeats per mode (median and spread are taken over them).
        warmup: untimed steps first (they also absorb torch.compile's compilation; the last one,
            timed, sizes the repeats).
        min_time: seconds each repeat should last at least (more steps per repeat for fast models).
        channels_last: NHWC memory format; None: as `zoo train` chooses (on for conv nets on CPU/CUDA).
        precision: fp32, bf16 or fp16 autocast; "auto": as `zoo train` chooses for the device.
        compile: run the model through torch.compile.
        input_size: (C, H, W) of the random inputs; default: the spec's, or 3x32x32 for a module.
    """
    unknown = sorted(set(modes) - set(MODES))
    if unknown or not modes:
        raise BenchError(
            f"unknown benchmark mode(s) {unknown or list(modes)}; choose from {', '.join(MODES)}"
        )
    batch_or_default = 1 if batch_size is None else batch_size
    for label, value in (("batch_size", batch_or_default), ("repeats", repeats), ("min_time", min_time)):
        if value <= 0:
            raise BenchError(f"{label} must be positive, got {value}")
    if warmup < 0:
        raise BenchError(f"warmup must be 0 or more steps, got {warmup}")
    device = torch.device(device)
    cpu_malloc = keep_freed_memory(device)  # as zoo train runs (zoo._memory)
    name, model, params, macs, size = _resolve(name_or_model, input_size)
    channels_last = choose_channels_last(device, model, channels_last)
    try:
        mixed = choose_precision(device, precision)
    except ValueError as error:
        raise BenchError(str(error)) from None
    memory_format = torch.channels_last if channels_last else torch.contiguous_format
    model = model.to(device, memory_format=memory_format)
    run = torch.compile(model) if compile else model
    autocast = mixed.autocast
    sync = _sync(device)
    num_classes = getattr(model, "num_classes", None) or _output_size(model.eval(), size, device)
    measurements = []
    for mode in MODES:
        if mode not in modes:
            continue
        batch = 1 if mode == "latency" else (batch_size or DEFAULT_BATCH[mode])
        x = torch.randn(batch, *size, device=device).contiguous(memory_format=memory_format)
        if mode == "train":
            step = train_step(run, model, x, num_classes, autocast)
        else:
            step = eval_step(run, x, autocast)
        model.train(mode == "train")
        seconds, steps = time_steps(step, sync, repeats=repeats, warmup=warmup, min_time=min_time)
        measurements.append(_measure(mode, batch, seconds, steps))
    model.eval()
    return BenchResult(
        model=name,
        params=params,
        macs=macs,
        device=device_description(device),
        channels_last=channels_last,
        precision=mixed.name,
        compile=compile,
        torch=torch.__version__,
        zoo=__version__,
        date=datetime.now(timezone.utc).isoformat(timespec="seconds"),
        measurements=tuple(measurements),
        csv_name=csv_name(device),
        cpu_malloc=cpu_malloc,
    )


@torch.no_grad()
def _output_size(model: nn.Module, input_size: Sequence[int], device: torch.device) -> int:
    return model(torch.zeros(1, *input_size, device=device)).shape[1]


def eval_step(run: Callable, x: torch.Tensor, autocast: Callable = nullcontext) -> Callable[[], object]:
    """A no-grad forward of `run` on `x`, as a zero-argument step for `time_steps`."""

    def step():
        with torch.inference_mode(), autocast():
            return run(x)

    return step


def train_step(
    run: Callable, model: nn.Module, x: torch.Tensor, num_classes: int, autocast: Callable = nullcontext
) -> Callable[[], object]:
    """Forward, backward and an SGD step of `model` (run through `run`, e.g. its compiled form)
    on `x` with random labels; the small lr keeps the weights finite however many steps run."""
    labels = torch.randint(0, num_classes, (x.shape[0],), device=x.device)
    optimizer = torch.optim.SGD(model.parameters(), lr=1e-3, momentum=0.9)

    def step():
        optimizer.zero_grad(set_to_none=True)
        with autocast():
            loss = F.cross_entropy(run(x), labels)
        loss.backward()
        optimizer.step()

    return step


def append_csv(
    result: BenchResult, out_dir: str | Path | None = None, *, path: str | Path | None = None
) -> Path:
    """Append `result`'s rows to `path`, or to ``out_dir/result.csv_name`` (header written once);
    return the file.

    An existing file whose header is not `CSV_COLUMNS` is refused rather than mixed with new rows.
    The file is rewritten whole, then renamed (zoo._files.replacing): a full disk leaves it as it was,
    never with half a row (`BenchWriteError`).
    """
    path = Path(path) if path is not None else Path(out_dir or default_out_dir()) / result.csv_name
    old = path.read_bytes() if path.is_file() else b""  # kept byte for byte
    if old:
        header = next(csv.reader(io.StringIO(old.split(b"\n", 1)[0].decode("utf-8", "replace"))), [])
        if tuple(header) != CSV_COLUMNS:
            raise BenchError(
                f"{path} has columns {','.join(header)}, not {','.join(CSV_COLUMNS)}: "
                "move it aside or write to another directory"
            )
    rows = io.StringIO(newline="")
    writer = csv.DictWriter(rows, fieldnames=CSV_COLUMNS)
    if not old:
        writer.writeheader()
    writer.writerows(result.rows())
    kept = f"{path} is as it was, without {result.model}'s rows: free space, then benchmark it again"
    with write_failures_as(BenchWriteError, path, kept):
        path.parent.mkdir(parents=True, exist_ok=True)
        with replacing(path) as tmp:
            tmp.write_bytes(old + rows.getvalue().encode("utf-8"))
    return path


def default_out_dir() -> Path:
    """``<zoo cache>/bench`` ($ZOO_CACHE_DIR or the user cache): a checkout's benchmarks/results/
    is written only when asked for (``--out-dir benchmarks/results``)."""
    return zoo_cache_dir() / "bench"


def recorded_train_speed(model: str, device: torch.device) -> float | None:
    """The newest training img/s `zoo bench` recorded for `model` on `device` (this machine and torch
    build's CSV in the default out dir), or None when it has none."""
    try:
        with (default_out_dir() / csv_name(device)).open(newline="", encoding="utf-8") as results:
            rows = list(csv.DictReader(results))
    except (OSError, csv.Error, UnicodeDecodeError):
        return None
    speeds = [
        _positive(row.get("img_per_s"))
        for row in rows
        if (row.get("model"), row.get("mode")) == (model, "train")
    ]
    speeds = [speed for speed in speeds if speed]
    return speeds[-1] if speeds else None


def _positive(text: str | None) -> float | None:
    try:
        value = float(text or "")
    except ValueError:
        return None
    return value if value > 0 and math.isfinite(value) else None


SPREAD_LIMIT = 20.0  # % between the slowest and fastest repeat above which a figure is suspect


def load_warning() -> str | None:
    """A warning when the machine is busy (1-minute load average above its cores), else None."""
    try:
        load = os.getloadavg()[0]
    except (OSError, AttributeError):  # not on this platform
        return None
    cores = os.cpu_count() or 1
    if load <= cores:
        return None
    return (
        f"the machine is busy (load average {load:.1f} on {cores} cores): timings are slower and noisier "
        f"than on an idle machine, and torch's {torch.get_num_threads()} threads can collapse; "
        "benchmark when it is idle, or try --threads 1"
    )


def spread_warnings(result: BenchResult, limit: float = SPREAD_LIMIT) -> list[str]:
    """One warning per mode whose timed repeats disagree by more than `limit` %."""
    return [
        f"{result.model} {m.mode}: the repeats disagree by {m.spread:.0f} % (over {limit:.0f} %), so the "
        "figure is unreliable; rerun on an idle machine, with --threads 1 or a longer --min-time"
        for m in result.measurements
        if m.spread > limit
    ]
