"""One training epoch and one evaluation pass, with mixed precision and a non-finite-loss guard."""

from __future__ import annotations

import contextlib
import time
from dataclasses import dataclass

import torch
from torch import nn

from .distributed import DistContext
from .optim import Schedule
from .report import EpochProgress

_NO_STEP = torch.iinfo(torch.int64).max


class NonFiniteLossError(FloatingPointError):
    """The training loss became NaN or infinite; the message names the step."""


@dataclass(frozen=True)
class Precision:
    """The autocast dtype (None: full precision) and whether fp16 needs a gradient scaler."""

    device_type: str
    dtype: torch.dtype | None

    def autocast(self) -> contextlib.AbstractContextManager:
        if self.dtype is None:
            return contextlib.nullcontext()
        return torch.autocast(self.device_type, dtype=self.dtype)

    def make_scaler(self) -> torch.amp.GradScaler | None:
        return torch.amp.GradScaler(self.device_type) if self.dtype == torch.float16 else None


def choose_precision(device: torch.device, amp: bool) -> Precision:
    """bf16 autocast where the device has it (CPU, recent GPUs), fp16 + loss scaling on older GPUs."""
    if not amp:
        return Precision(device.type, None)
    if device.type == "cuda" and not torch.cuda.is_bf16_supported():
        return Precision("cuda", torch.float16)
    return Precision(device.type, torch.bfloat16)


@dataclass
class EpochStats:
    loss: float
    acc: float
    samples: int  # over all ranks
    seconds: float
    global_step: int
    lr: float  # the learning rate of the epoch's last step


def _sync_interval(device: torch.device) -> int:
    # Reading values back stalls a GPU's queue, so look at them every few steps there; a CPU pays nothing.
    return 1 if device.type == "cpu" else 20


def train_one_epoch(
    net: nn.Module,
    loader,
    loss_fn: nn.Module,
    optimizer: torch.optim.Optimizer,
    schedule: Schedule,
    precision: Precision,
    scaler: torch.amp.GradScaler | None,
    *,
    epoch: int,
    global_step: int,
    ctx: DistContext,
    progress: EpochProgress,
) -> EpochStats:
    """Train `net` for one pass over `loader`; raise NonFiniteLossError at the first bad loss."""
    device = ctx.device
    net.train()
    sums = torch.zeros(2, dtype=torch.float64, device=device)  # loss * n, correct
    seen = 0  # images: a host count, so no step copies a scalar to the device
    first_bad = torch.full((), _NO_STEP, dtype=torch.int64, device=device)
    bad_value = torch.zeros((), device=device)
    batches, every = len(loader), _sync_interval(device)
    lr = optimizer.param_groups[0]["lr"]
    start = time.perf_counter()
    for index, (x, y) in enumerate(loader):
        with precision.autocast():
            logits = net(x)
        loss = loss_fn(logits.float(), y)
        optimizer.zero_grad(set_to_none=True)
        if scaler is not None:
            scaler.scale(loss).backward()
            scaler.step(optimizer)
            scaler.update()
        else:
            loss.backward()
            optimizer.step()
        lr = optimizer.param_groups[0]["lr"]
        schedule.after_batch()
        loss = loss.detach()
        newly_bad = (first_bad == _NO_STEP) & ~torch.isfinite(loss)
        first_bad = torch.where(newly_bad, index, first_bad)
        bad_value = torch.where(newly_bad, loss, bad_value)
        n = y.numel()
        seen += n
        sums += torch.stack([loss.double() * n, (logits.detach().argmax(1) == y).sum().double()])
        if (index + 1) % every == 0 or index + 1 == batches:
            bad = int(ctx.all_reduce(first_bad, "min"))
            if bad != _NO_STEP:
                value = float(bad_value) if int(first_bad) == bad else float("nan")
                raise NonFiniteLossError(
                    f"non-finite training loss ({value}) at epoch {epoch}, batch {bad + 1} of {batches} "
                    f"(global step {global_step + bad + 1})"
                )
            if progress.enabled:
                loss_sum, correct = sums.tolist()
                elapsed = time.perf_counter() - start
                progress.update(index + 1, loss_sum / seen, correct / seen, seen * ctx.world_size / elapsed)
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    seconds = time.perf_counter() - start
    totals = torch.cat([sums, torch.tensor([seen], dtype=torch.float64, device=device)])
    loss_sum, correct, seen = ctx.all_reduce(totals).tolist()
    return EpochStats(
        loss_sum / max(seen, 1), correct / max(seen, 1), int(seen), seconds, global_step + batches, float(lr)
    )


@torch.no_grad()
def evaluate(
    net: nn.Module, loader, loss_fn: nn.Module, precision: Precision, *, tta: bool, ctx: DistContext
) -> tuple[float, float]:
    """(mean loss, accuracy) over `loader`, across ranks; `tta` averages logits with the h-flipped input."""
    net.eval()
    device = ctx.device
    sums = torch.zeros(2, dtype=torch.float64, device=device)  # loss * n, correct
    seen = 0
    # Under DDP the loader pads the last rank's share with repeats; count every image once.
    remaining = loader.num_samples - loader.num_padded
    for x, y in loader:
        if remaining < len(y):
            x, y = x[:remaining], y[:remaining]
        remaining -= len(y)
        if not len(y):
            continue
        with precision.autocast():
            logits = net(x).float()
            if tta:
                logits = (logits + net(x.flip(-1)).float()) / 2
        n = y.numel()
        seen += n
        sums += torch.stack([loss_fn(logits, y).double() * n, (logits.argmax(1) == y).sum().double()])
    totals = torch.cat([sums, torch.tensor([seen], dtype=torch.float64, device=device)])
    loss_sum, correct, seen = ctx.all_reduce(totals).tolist()
    return loss_sum / max(seen, 1), correct / max(seen, 1)
