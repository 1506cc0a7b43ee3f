"""One training epoch and one evaluation pass, with mixed precision and a non-finite-loss guard."""

from __future__ import annotations

import contextlib
import itertools
import signal
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

import torch
from torch import nn

from .._errors import ZooError
from ..evaluate import tta_logits
from .distributed import DistContext
from .ema import WeightAverage
from .optim import Schedule
from .options import CheckpointEvery
from .report import EpochProgress
from .runtime import Precision

_NO_STEP = torch.iinfo(torch.int64).max


class TrainingFailedError(ZooError, FloatingPointError):
    """Training stopped because the loss went bad; the message names the step (exit code 1: the
    input was fine, the run was not)."""

    exit_code = 1


class NonFiniteLossError(TrainingFailedError):
    """The training loss became NaN or infinite."""


class DivergedError(TrainingFailedError):
    """The training loss stayed far above its starting value: the run is diverging."""


class DivergenceGuard:
    """Stops a run whose loss stays above `factor` x its starting value for `patience` steps.

    The start is the mean loss of the first `warmup` steps. A diverging run rarely turns NaN quickly
    (a too-high lr lets the loss sit at 20x chance for hundreds of steps), so a finite-loss check alone
    lets it burn the whole budget and publish noise.
    """

    def __init__(self, factor: float = 3.0, patience: int = 20, warmup: int = 5) -> None:
        self.factor, self.patience, self.warmup = factor, patience, warmup
        self.start: float | None = None
        self._sum, self._steps, self.streak = 0.0, 0, 0

    def observe(self, mean_loss: float, steps: int) -> float | None:
        """Feed the mean loss of the last `steps` steps; the start loss when the run is diverging."""
        if self.start is None:
            self._sum, self._steps = self._sum + mean_loss * steps, self._steps + steps
            if self._steps >= self.warmup:
                self.start = self._sum / self._steps
            return None
        self.streak = self.streak + steps if mean_loss > self.factor * self.start else 0
        return self.start if self.streak >= self.patience else None

    def state_dict(self) -> dict:
        return {"start": self.start, "sum": self._sum, "steps": self._steps, "streak": self.streak}

    def load_state_dict(self, state: dict) -> None:
        self.start, self._sum, self._steps, self.streak = (
            state["start"],
            state["sum"],
            state["steps"],
            state["streak"],
        )


@dataclass
class EpochStats:
    loss: float
    acc: float
    samples: int  # over all ranks
    seconds: float
    global_step: int
    lr: float  # the learning rate of the epoch's last step
    loss_curve: list[float]  # mean training loss of each block of `curve_block` steps, in order
    curve_block: int


@dataclass
class TrainStep:
    """What an ``on_step`` hook sees: after the backward pass, before the optimizer step (gradients in
    ``.grad``, weights still those the loss was computed with; fp16 gradients are loss-scaled)."""

    net: nn.Module
    x: torch.Tensor
    y: torch.Tensor
    loss: torch.Tensor
    loss_fn: nn.Module
    optimizer: torch.optim.Optimizer
    epoch: int
    step: int  # global step, counted from 0


# The per-step loss curve keeps about this many points per epoch: each the mean of a block of steps.
CURVE_POINTS = 50


def curve_block(batches: int) -> int:
    """Steps per point of an epoch's loss curve."""
    return max(1, -(-batches // CURVE_POINTS))


@dataclass
class EpochTally:
    """The running totals of an epoch in progress (this rank's): what a mid-epoch checkpoint saves.

    `totals` (float64, on the device, so no step copies a value to the host) holds loss * n and
    correct predictions, the loss sum and step count since the divergence guard last looked, then the
    loss sum of each block of the loss curve.
    """

    batches_done: int
    seen: int  # images: a host count
    seconds: float  # training time so far
    lr: float  # the learning rate of the last step
    totals: torch.Tensor

    @classmethod
    def start(cls, batches: int, device: torch.device, lr: float) -> EpochTally:
        points = -(-batches // curve_block(batches))
        return cls(0, 0, 0.0, lr, torch.zeros(4 + points, dtype=torch.float64, device=device))

    def views(self) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(sums, interval, curve): views into `totals` that the loop updates in place."""
        return self.totals[0:2], self.totals[2:4], self.totals[4:]


class MidEpochCheckpoints:
    """When the loop stops to checkpoint inside an epoch, and what it calls to write one.

    Step intervals count global steps, so every rank (and a resumed run) stops at the same steps. A
    time interval is judged at the steps where the loop looks at the loss anyway; under DDP the ranks
    agree through the collective of that look. Inside `sigterm_stops`, SIGTERM makes the next such step
    checkpoint and the run stop there (`stop_if_asked`), instead of dying between checkpoints.
    """

    def __init__(self, every: CheckpointEvery, save: Callable[[EpochTally], None]) -> None:
        self.every, self.save = every, save
        self.stop_asked = False
        self.restart()

    def restart(self) -> None:
        """Start timing the next interval (after any checkpoint, mid-epoch or at an epoch's end)."""
        self.since = time.monotonic()

    def due_by_steps(self, global_step: int) -> bool:
        return self.every.steps is not None and global_step % self.every.steps == 0

    def due_now(self) -> bool:
        """Whether a checkpoint is due at this step: its time interval is up, or a stop was asked."""
        if self.stop_asked:
            return True
        return self.every.seconds is not None and time.monotonic() - self.since >= self.every.seconds

    def stop_if_asked(self) -> None:
        """After a checkpoint: end the run the way Ctrl-C does (what was saved, how to resume) if
        SIGTERM asked for it."""
        if self.stop_asked:
            raise KeyboardInterrupt


@contextlib.contextmanager
def sigterm_stops(checkpoints: MidEpochCheckpoints | None, *, enabled: bool = True) -> Iterator[None]:
    """While inside, SIGTERM (a working session's end, `zoo campaign stop`) stops the run: with
    mid-epoch checkpoints at the next step, once it is saved; without, at once, as Ctrl-C does (the
    last epoch's checkpoint is kept). Off under DDP (`enabled=False`): a rank that alone saw the
    signal would stop without the others."""
    if not enabled or threading.current_thread() is not threading.main_thread():
        yield
        return

    def on_sigterm(signum, frame) -> None:
        if checkpoints is None:
            raise KeyboardInterrupt
        checkpoints.stop_asked = True

    previous = signal.signal(signal.SIGTERM, on_sigterm)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


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
    guard: DivergenceGuard | None = None,
    on_step: Callable[[TrainStep], None] | None = None,
    tally: EpochTally | None = None,
    checkpoints: MidEpochCheckpoints | None = None,
    average: WeightAverage | None = None,
    frozen: Sequence[nn.Parameter] = (),
) -> EpochStats:
    """Train `net` for one pass over `loader`; raise NonFiniteLossError at the first bad loss and
    DivergedError when `guard` sees the loss stay far above its start. `average`, the run's weight
    average, is updated after every optimizer step. `frozen` parameters lose their gradient before
    each step (no update, no weight decay: ``freeze_after``; under DDP they are still all-reduced).

    `tally`: the totals of this epoch's first batches, restored from a mid-epoch checkpoint (those
    batches are skipped; `global_step` is the step count before the epoch). `checkpoints`: when to stop
    inside the epoch to write one (never after its last batch: the epoch's own checkpoint follows).
    """
    device = ctx.device
    net.train()
    batches, every = len(loader), _sync_interval(device)
    tally = tally or EpochTally.start(batches, device, optimizer.param_groups[0]["lr"])
    sums, interval, curve = tally.views()
    block = curve_block(batches)
    first_bad = torch.full((), _NO_STEP, dtype=torch.int64, device=device)
    bad_value = torch.zeros((), device=device)
    lr, seen, done = tally.lr, tally.seen, tally.batches_done
    start = time.perf_counter() - tally.seconds
    # The loader's order and augmentation depend only on (seed, epoch, rank): skipping the batches a
    # checkpoint already covers replays the rest exactly.
    for index, (x, y) in enumerate(itertools.islice(loader, done, None), start=done):
        with precision.autocast():
            logits = net(x)
        loss = loss_fn(logits.float(), y)
        optimizer.zero_grad(set_to_none=True)
        (scaler.scale(loss) if scaler is not None else loss).backward()
        if on_step is not None:
            on_step(TrainStep(net, x, y, loss, loss_fn, optimizer, epoch, global_step + index))
        for param in frozen:
            param.grad = None  # optimizers skip a parameter without a gradient
        if scaler is not None:
            scaler.step(optimizer)
            scaler.update()
        else:
            optimizer.step()
        lr = optimizer.param_groups[0]["lr"]
        schedule.after_batch()
        if average is not None:
            average.after_step(global_step + index + 1)
        loss = loss.detach()
        newly_bad = (first_bad == _NO_STEP) & ~torch.isfinite(loss)
        first_bad = torch.where(newly_bad, index, first_bad)
        bad_value = torch.where(newly_bad, loss, bad_value)
        n = y.numel()
        seen += n
        loss64 = loss.double()
        sums += torch.stack([loss64 * n, (logits.detach().argmax(1) == y).sum().double()])
        interval += torch.stack([loss64, torch.ones((), dtype=torch.float64, device=device)])
        curve[index // block].add_(loss64)
        last = index + 1 == batches
        forced = checkpoints is not None and not last and checkpoints.due_by_steps(global_step + index + 1)
        if (index + 1) % every == 0 or last or forced:
            due = forced or (checkpoints is not None and not last and checkpoints.due_now())
            if ctx.enabled:  # one collective: the first bad step of any rank, and whether any rank is due
                status = torch.stack([first_bad, torch.full((), -int(due), device=device)])
                bad, due = (int(v) for v in ctx.all_reduce(status, "min").tolist())
            else:
                bad = int(first_bad)
            if bad != _NO_STEP:
                value = float(bad_value) if int(first_bad) == bad else float("nan")
                raise NonFiniteLossError(
                    f"non-finite training loss ({value}) at epoch {epoch}, batch {bad + 1} of {batches} "
                    f"(global step {global_step + bad + 1})"
                )
            if guard is not None:
                loss_sum, steps = ctx.all_reduce(interval).tolist()
                start_loss = guard.observe(loss_sum / steps, int(steps) // ctx.world_size)
                if start_loss is not None:
                    raise DivergedError(
                        f"training diverged: the loss stayed above {guard.factor:g}x its start "
                        f"({start_loss:.3g}) for {guard.streak} steps, now {loss_sum / steps:.3g} at epoch "
                        f"{epoch}, batch {index + 1} of {batches} (lr {lr:.3g})"
                    )
                interval.zero_()
            if progress.due(index + 1):  # a read of the sums waits for the device: only when shown
                loss_sum, correct = sums.tolist()
                elapsed = time.perf_counter() - start
                progress.update(index + 1, loss_sum / seen, correct / seen, seen * ctx.world_size / elapsed)
            if due:
                tally.batches_done, tally.seen, tally.lr = index + 1, seen, lr
                tally.seconds = time.perf_counter() - start
                checkpoints.save(tally)
                checkpoints.restart()
                checkpoints.stop_if_asked()
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    seconds = time.perf_counter() - start
    totals = torch.cat([sums, curve, torch.tensor([seen], dtype=torch.float64, device=device)])
    loss_sum, correct, *curve_sums, seen = ctx.all_reduce(totals).tolist()
    counts = [min(block, batches - b * block) * ctx.world_size for b in range(len(curve_sums))]
    return EpochStats(
        loss_sum / max(seen, 1),
        correct / max(seen, 1),
        int(seen),
        seconds,
        global_step + batches,
        float(lr),
        [s / c for s, c in zip(curve_sums, counts)],
        block,
    )


def recipe_tta(recipe) -> str:
    """The TTA mode a recipe evaluates with: its `tta_mode` when `tta` is on, else "none"."""
    return recipe.tta_mode if recipe.tta else "none"


@torch.no_grad()
def evaluate(
    net: nn.Module,
    loader,
    loss_fn: nn.Module,
    precision: Precision,
    *,
    tta: str,
    ctx: DistContext,
    progress: EpochProgress | None = None,
) -> tuple[float, float]:
    """(mean loss, accuracy) over `loader`, across ranks; `tta` is a TTA mode of zoo.evaluate
    ("none", "flip": logits averaged with the h-flipped input's, "flip_translate")."""
    net.eval()
    device = ctx.device
    sums = torch.zeros(2, dtype=torch.float64, device=device)  # loss * n, correct
    seen = 0
    # Under DDP the loader pads the last rank's share with repeats; count every image once.
    remaining = loader.num_samples - loader.num_padded
    for index, (x, y) in enumerate(loader):
        if remaining < len(y):
            x, y = x[:remaining], y[:remaining]
        remaining -= len(y)
        if not len(y):
            continue
        with precision.autocast():
            logits = tta_logits(net, x, tta)
        n = y.numel()
        seen += n
        sums += torch.stack([loss_fn(logits, y).double() * n, (logits.argmax(1) == y).sum().double()])
        if progress is not None:
            progress.update(index + 1)
    totals = torch.cat([sums, torch.tensor([seen], dtype=torch.float64, device=device)])
    loss_sum, correct, seen = ctx.all_reduce(totals).tolist()
    return loss_sum / max(seen, 1), correct / max(seen, 1)
