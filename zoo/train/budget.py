"""Time-budgeted training: measure a few steps, then set the epoch count that fits the wall clock.

`zoo train MODEL --time-budget 45m` is what a release job, a GPU lease or a student's evening needs:
the schedule (one-cycle, cosine, ...) is laid over the epochs that fit, so the run ends annealed
rather than cut off mid-schedule. Under progressive_resize the steps are timed at full size and an
epoch of smaller images counts at its share of the pixels, so the budget buys the epochs it can.
"""

from __future__ import annotations

import copy
import dataclasses
import math
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable

import torch

from .._recipe import pixel_shares
from .options import DurationError, TrainConfigError

if TYPE_CHECKING:
    from .run import TrainingRun

# What the measured per-epoch cost cannot see: checkpoint writes, plots, a machine that slows down.
# On the 2-core dev VM alexnet's steps took 33 ms when measured, then 48 ms for 20 epochs in the
# middle of the run, then 34 ms again: a 0.93 margin let an 11-minute budget overrun.
SAFETY = 0.8


@dataclass(frozen=True)
class BudgetFit:
    """The epoch count chosen for a budget and the measurements it rests on (kept in config.json)."""

    budget_s: float
    spent_s: float  # before the first epoch: data loading, model building, the measurement itself
    step_s: float
    eval_s: float  # one evaluation pass of the per-epoch split
    final_s: float  # evaluations after the last epoch (the test split when a validation split chose)
    steps_per_epoch: int
    eval_every: int
    epochs: int
    # the training the epochs add up to in full-size epochs: fewer under progressive_resize, whose
    # smaller images cost about their share of the pixels (the steps were timed at full size)
    full_size_epochs: float | None = None

    @property
    def epoch_s(self) -> float:
        """A full-size epoch with its share of the evaluations."""
        return self.steps_per_epoch * self.step_s + self.eval_s / self.eval_every

    def to_dict(self) -> dict[str, Any]:
        return {k: round(v, 4) if isinstance(v, float) else v for k, v in self.__dict__.items()}


def fit_epochs(
    budget_s: float,
    spent_s: float,
    step_s: float,
    eval_s: float,
    final_s: float,
    steps_per_epoch: int,
    eval_every: int,
    max_epochs: int | None = None,
    epoch_shares: Callable[[int], list[float]] | None = None,
) -> BudgetFit:
    """The most epochs whose training and evaluation end inside `budget_s` (raises if not even one).

    `epoch_shares(n)` gives each of `n` epochs' cost against a full-size one (progressive_resize's
    pixel shares); without it every epoch costs a full one."""
    fit = BudgetFit(budget_s, spent_s, step_s, eval_s, final_s, steps_per_epoch, eval_every, 0)
    # The last epoch always evaluates, whatever eval_every says.
    available = budget_s * SAFETY - spent_s - final_s - eval_s * (1 - 1 / eval_every)
    epochs = int(available // fit.epoch_s) if available > 0 else 0  # every epoch at full size
    if max_epochs is not None:
        epochs = min(epochs, max_epochs)
    if epochs < 1:
        needed = (spent_s + final_s + steps_per_epoch * step_s + eval_s) / SAFETY
        raise DurationError(
            f"time budget {budget_s:g}s is too short: setting up took {spent_s:.0f}s and one epoch with "
            f"its evaluation needs about {fit.epoch_s + eval_s * (1 - 1 / eval_every):.0f}s; give at least "
            f"{math.ceil(needed)}s, or shorten epochs with --limit-train / --limit-test"
        )
    if epoch_shares is None:
        return dataclasses.replace(fit, epochs=epochs, full_size_epochs=float(epochs))

    def cost(n: int) -> float:  # training and evaluation of n epochs, smaller ones at their share
        return sum(epoch_shares(n)) * steps_per_epoch * step_s + n * eval_s / eval_every

    # the full-size count fits (no share is above 1): add epochs while they fit
    while (max_epochs is None or epochs < max_epochs) and cost(epochs + 1) <= available:
        epochs += 1
    return dataclasses.replace(fit, epochs=epochs, full_size_epochs=round(sum(epoch_shares(epochs)), 4))


class Head:
    """The first `n` batches of a loader, with the len() the training loop reads."""

    def __init__(self, loader: Any, n: int) -> None:
        self.loader, self.n = loader, min(n, len(loader))

    def __getattr__(self, name: str) -> Any:  # num_samples, num_padded, ... of the loader
        return getattr(self.loader, name)

    def __len__(self) -> int:
        return self.n

    def __iter__(self):
        for index, batch in enumerate(self.loader):
            if index >= self.n:
                return
            yield batch


def timed(fn: Callable[[], Any], device: torch.device) -> float:
    """Wall seconds of `fn()`, with the device's queue drained on both sides."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    start = time.perf_counter()
    fn()
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    return time.perf_counter() - start


class Snapshot:
    """Model, optimizer and RNG state taken before measuring and put back after, so a budgeted
    run trains exactly as the same run with its epoch count given would."""

    def __init__(self, model: torch.nn.Module, optimizer: torch.optim.Optimizer, device: torch.device):
        self.model, self.optimizer, self.device = model, optimizer, device
        self.model_state = copy.deepcopy(model.state_dict())
        self.optimizer_state = copy.deepcopy(optimizer.state_dict())
        self.cpu_rng = torch.get_rng_state()
        self.cuda_rng = torch.cuda.get_rng_state(device) if device.type == "cuda" else None

    def restore(self) -> None:
        self.model.load_state_dict(self.model_state)
        self.optimizer.load_state_dict(self.optimizer_state)
        torch.set_rng_state(self.cpu_rng)
        if self.cuda_rng is not None:
            torch.cuda.set_rng_state(self.cuda_rng, self.device)


def measure_steps(train_steps: Callable[[Any], Any], loader: Any, device: torch.device) -> float:
    """Seconds per training step: a few warm-up steps (allocator, autotuning, compilation), then
    enough timed steps to average out noise without eating the budget."""
    warm, timed_steps = (3, 10) if device.type == "cuda" else (2, 8)
    warm = min(warm, max(1, len(loader) - 1))
    train_steps(Head(loader, warm))
    n = min(timed_steps, len(loader))
    return timed(lambda: train_steps(Head(loader, n)), device) / n


def measure_eval(evaluate_batches: Callable[[Any], Any], loader: Any, device: torch.device) -> float:
    """Seconds of one evaluation pass over `loader`, from its first batches."""
    evaluate_batches(Head(loader, 1))
    n = min(3, len(loader))
    per_batch = timed(lambda: evaluate_batches(Head(loader, n)), device) / n
    return per_batch * len(loader)


def fit_run_to_budget(run: TrainingRun) -> BudgetFit:
    """Time a few of `run`'s training steps and evaluations, undo them, and fit its epochs to
    `run.config.time_budget` (a TrainConfigError when not even one epoch fits)."""
    from .loop import evaluate, recipe_tta, train_one_epoch
    from .optim import build_schedule
    from .report import EpochProgress

    data, ctx = run.data, run.ctx
    snapshot = Snapshot(run.model, run.optimizer, run.device)
    idle = build_schedule(run.optimizer, dataclasses.replace(run.recipe, scheduler="plateau"), 1)

    def steps(loader: Any) -> None:
        train_one_epoch(
            run.net, loader, run.loss_fn, run.optimizer, idle, run.precision, run.scaler,
            epoch=0, global_step=0, ctx=ctx, progress=EpochProgress(False),
        )  # fmt: skip

    def passes(loader: Any) -> None:
        evaluate(run.eval_net, loader, run.loss_fn, run.precision, tta=recipe_tta(run.recipe), ctx=ctx)

    step_s = measure_steps(steps, data.train, run.device)
    eval_s = measure_eval(passes, data.eval, run.device)
    final_s = measure_eval(passes, data.test, run.device) if data.has_val else 0.0
    snapshot.restore()
    # Every rank must train the same number of epochs: all fit the ranks' mean measurement.
    spent = time.perf_counter() - run.started
    measured = torch.tensor([step_s, eval_s, final_s, spent], dtype=torch.float64, device=run.device)
    step_s, eval_s, final_s, spent = (ctx.all_reduce(measured) / ctx.world_size).tolist()
    resize, side = run.recipe.progressive_resize, data.train.images.shape[-1]  # NCHW, square
    try:
        return fit_epochs(
            run.config.time_budget,
            spent,
            step_s,
            eval_s,
            final_s,
            len(data.train),
            run.config.eval_every,
            run.max_epochs,
            (lambda n: pixel_shares(resize, n, side)) if resize else None,
        )
    except DurationError as error:
        raise TrainConfigError(str(error)) from None
