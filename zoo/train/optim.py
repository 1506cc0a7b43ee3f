"""Optimizer, learning-rate schedule and loss by name (the names `zoo train` accepts)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

import torch
from torch import nn
from torch.nn import functional as F

from .choices import LOSSES, OPTIMIZERS, PER_STEP_SCHEDULERS, SCHEDULERS

if TYPE_CHECKING:
    from .recipes import Recipe


def is_norm(module: nn.Module) -> bool:
    """Whether `module` is a BatchNorm layer (Ghost and noisy BatchNorm included): the layers whose
    parameters `bn_lr_scale` and `bn_weight_frozen` treat apart."""
    return isinstance(module, nn.modules.batchnorm._BatchNorm)


def param_groups(params: nn.Module | Iterable[nn.Parameter], recipe: Recipe) -> Any:
    """What the optimizer of `recipe` is given: the parameters of a module (or the given parameters)
    in one group, or, with ``recipe.bn_lr_scale != 1``, in two: the others at the recipe's lr and
    weight decay, then the BatchNorm parameters at ``bn_lr_scale`` times the lr and the weight decay
    divided by it, so that their decay per step (lr x wd) is the others' (Page's "How to Train Your
    ResNet 8: Bag of Tricks" and Jordan's airbench94, arXiv:2404.00498, both at 64x). A module
    without BatchNorm keeps one group."""
    if not isinstance(params, nn.Module) or recipe.bn_lr_scale == 1:
        return params.parameters() if isinstance(params, nn.Module) else params
    norm = {id(p) for m in params.modules() if is_norm(m) for p in m.parameters(recurse=False)}
    everything = list(params.parameters())
    groups = [{"params": [p for p in everything if id(p) not in norm], "name": "weights"}]
    if norm:
        scale = recipe.bn_lr_scale
        groups.append(
            {
                "params": [p for p in everything if id(p) in norm],
                "lr": recipe.lr * scale,
                "weight_decay": recipe.weight_decay / scale,
                "name": "batchnorm",
            }
        )
    return groups


def freeze_bn_weights(model: nn.Module) -> int:
    """Stop training every BatchNorm scale (``bn_weight_frozen``): it keeps its value, 1 for a fresh
    model, as in Page's and Jordan's networks; the number of scales frozen."""
    frozen = 0
    for module in model.modules():
        if is_norm(module) and module.weight is not None and module.weight.requires_grad:
            module.weight.requires_grad_(False)
            frozen += 1
    return frozen


def build_optimizer(params: nn.Module | Iterable[nn.Parameter], recipe: Recipe) -> torch.optim.Optimizer:
    """The recipe's optimizer over a module's parameters (grouped by `param_groups`) or the given
    ones; `momentum` is SGD's momentum or the Adam family's beta1."""
    params = param_groups(params, recipe)
    lr, wd, momentum = recipe.lr, recipe.weight_decay, recipe.momentum
    name = recipe.optimizer
    if name == "sgd":
        momentum = momentum or 0.0  # Nesterov needs momentum: without it, plain SGD
        return torch.optim.SGD(
            params, lr=lr, momentum=momentum, nesterov=recipe.nesterov and momentum > 0, weight_decay=wd
        )
    if name in ("adam", "adamw", "adamax"):
        cls = {"adam": torch.optim.Adam, "adamw": torch.optim.AdamW, "adamax": torch.optim.Adamax}[name]
        betas = (0.9 if momentum is None else momentum, 0.999)
        return cls(params, lr=lr, betas=betas, weight_decay=wd)
    if name == "adadelta":
        return torch.optim.Adadelta(params, lr=lr, weight_decay=wd)
    if name == "adagrad":
        return torch.optim.Adagrad(params, lr=lr, weight_decay=wd)
    raise ValueError(f"unknown optimizer {name!r}; choose one of {', '.join(OPTIMIZERS)}")


class Schedule:
    """A learning-rate scheduler with the knowledge of when to step it.

    Per-step schedules advance after every optimizer step; per-epoch ones after the epoch's
    evaluation, the plateau schedule with the evaluated loss.
    """

    def __init__(self, scheduler: Any, per_step: bool) -> None:
        self.scheduler = scheduler
        self.per_step = per_step

    def after_batch(self) -> None:
        if self.per_step:
            self.scheduler.step()

    @property
    def needs_eval(self) -> bool:
        """Whether the schedule reads the evaluated loss (and so steps only after an evaluation)."""
        return isinstance(self.scheduler, torch.optim.lr_scheduler.ReduceLROnPlateau)

    def after_epoch(self, eval_loss: float | None) -> None:
        if isinstance(self.scheduler, torch.optim.lr_scheduler.ReduceLROnPlateau):
            self.scheduler.step(eval_loss)
        elif not self.per_step:
            self.scheduler.step()

    def state_dict(self) -> dict[str, Any]:
        return self.scheduler.state_dict()

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.scheduler.load_state_dict(state)


def build_schedule(optimizer: torch.optim.Optimizer, recipe: Recipe, steps_per_epoch: int) -> Schedule:
    """The recipe's learning-rate schedule over `recipe.epochs` epochs of `steps_per_epoch` steps."""
    sched = torch.optim.lr_scheduler
    name, epochs = recipe.scheduler, recipe.epochs
    total_steps = max(1, epochs * steps_per_epoch)
    if name == "plateau":
        scheduler = sched.ReduceLROnPlateau(
            optimizer,
            mode="min",
            factor=recipe.plateau_factor,
            patience=recipe.plateau_patience,
            cooldown=recipe.plateau_cooldown,
            min_lr=recipe.min_lr,
        )
    elif name == "step":
        step_size = recipe.step_size or max(1, epochs // 3)
        scheduler = sched.StepLR(optimizer, step_size=step_size, gamma=recipe.gamma or 0.1)
    elif name == "exponential":
        scheduler = sched.ExponentialLR(optimizer, gamma=recipe.gamma or 0.95)
    elif name == "linear":
        scheduler = sched.LinearLR(optimizer, start_factor=1.0, end_factor=0.0, total_iters=total_steps)
    elif name == "cosine":
        scheduler = sched.CosineAnnealingLR(optimizer, T_max=total_steps, eta_min=recipe.min_lr)
    elif name == "cyclic":
        # Triangular cycles between lr/10 and lr; half-cycle of `step_size` epochs (default 2, Smith 2017).
        half = max(1, (recipe.step_size or 2) * steps_per_epoch)
        peaks = [group["lr"] for group in optimizer.param_groups]  # each group's own (bn_lr_scale)
        scheduler = sched.CyclicLR(
            optimizer,
            base_lr=[peak / 10 for peak in peaks],
            max_lr=peaks,
            step_size_up=half,
            cycle_momentum=False,
        )
    elif name == "onecycle":
        shape = OneCycle(
            total_steps, recipe.warmup, recipe.onecycle_start, recipe.onecycle_end, recipe.onecycle_hold
        )
        scheduler = sched.LambdaLR(optimizer, shape)
    else:
        raise ValueError(f"unknown scheduler {name!r}; choose one of {', '.join(SCHEDULERS)}")
    return Schedule(scheduler, per_step=name in PER_STEP_SCHEDULERS)


class OneCycle:
    """The one-cycle lr factor of Smith & Topin (arXiv:1708.07120), linear in both phases: from
    `initial` (1/25) up to 1 over the first `warmup` fraction of `total_steps`, then down to `final`
    (1/25e4) at the last step or, with a `hold` fraction, at the step where the last `hold` of the
    steps begin, which stay there.

    The default is the shape of torch's OneCycleLR(anneal_strategy="linear"), without its failure
    on short runs (it divides by zero when the warmup rounds to one step, and raises when stepped past
    its total): any run of one or more steps works here, with at least one warmup step when it has
    two. With ``initial=0, final=0.1, hold=0.2, warmup=0.2`` it is the piecewise-linear schedule of
    Page's final 10-epoch recipe (0 -> peak at epoch 2 -> 0.1 x peak at epoch 8, then flat); with
    ``initial=0.2, final=0.07, warmup=0.23`` airbench94's ``triangle`` schedule.
    """

    def __init__(
        self,
        total_steps: int,
        warmup: float,
        initial: float = 1 / 25,
        final: float = 1 / 25e4,
        hold: float = 0.0,
    ) -> None:
        self.total_steps = max(1, int(total_steps))
        self.warmup_steps = min(max(1, round(warmup * self.total_steps)), self.total_steps - 1)
        self.initial, self.final = initial, final
        self.hold_steps = max(
            0, min(round(hold * self.total_steps), self.total_steps - 1 - self.warmup_steps)
        )

    def __call__(self, step: int) -> float:
        up, total = self.warmup_steps, self.total_steps
        if step < up:
            return self.initial + (1 - self.initial) * step / up
        # The last optimizer step before the hold (step total - 1 without one) runs at the final lr;
        # later calls stay there.
        down = max(1, total - 1 - self.hold_steps - up)
        return 1 + (self.final - 1) * min(1.0, (step - up) / down)


class OneHotLoss(nn.Module):
    """A regression or multi-label loss applied to logits against (smoothed) one-hot targets."""

    def __init__(self, loss: nn.Module, num_classes: int, label_smoothing: float = 0.0) -> None:
        super().__init__()
        self.loss = loss
        self.num_classes = num_classes
        self.label_smoothing = label_smoothing

    def forward(self, logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        one_hot = F.one_hot(target, self.num_classes).to(logits.dtype)
        if self.label_smoothing:
            one_hot = one_hot * (1 - self.label_smoothing) + self.label_smoothing / self.num_classes
        return self.loss(logits, one_hot)


def build_loss(recipe: Recipe, num_classes: int) -> nn.Module:
    """The recipe's loss: ``ce`` on class indices, the others on one-hot targets."""
    smoothing = recipe.label_smoothing
    if recipe.loss == "ce":
        return nn.CrossEntropyLoss(label_smoothing=smoothing)
    regression = {
        "bce": nn.BCEWithLogitsLoss,
        "mse": nn.MSELoss,
        "huber": nn.HuberLoss,
        "smooth_l1": nn.SmoothL1Loss,
        "multilabel_soft_margin": nn.MultiLabelSoftMarginLoss,
    }
    if recipe.loss not in regression:
        raise ValueError(f"unknown loss {recipe.loss!r}; choose one of {', '.join(LOSSES)}")
    return OneHotLoss(regression[recipe.loss](), num_classes, smoothing)
