"""`WeightAverage`: an exponential moving average of a model's weights, evaluated and saved in their
place (the recipe fields ``ema_momentum``, ``ema_every``, ``ema_start``, ``ema_ramp``, ``lookahead``).

Two sources, one mechanism:

* D. Page, "How to Train Your ResNet 8: Bag of Tricks" (myrtle.ai, 2019; davidcpage/cifar10-fast,
  bag_of_tricks.ipynb, ``update_ema``): a second copy of the network, updated every 5 steps with
  momentum 0.99 per step (0.99 ** 5 per update) from the start of training, is the one evaluated.
* K. Jordan, airbench94 (arXiv:2404.00498; KellerJordan/cifar10-airbench, ``LookaheadState``): from
  the fourth epoch, every 5 steps, with momentum 0.95 per step times (step / steps) ** 3, and the
  average copied back into the trained weights at each update and at the end of each epoch
  (Lookahead, Zhang et al., arXiv:1907.08610).

Both average every floating-point entry of the state dict, BatchNorm running statistics included
(they were measured with the weights being averaged); integer buffers (BatchNorm's batch count) are
copied. The average starts as a copy of the weights: at the start of training with ``ema_start = 0``,
else at the first update after ``ema_start`` epochs.
"""

from __future__ import annotations

import copy
from typing import TYPE_CHECKING, Any

import torch
from torch import nn

if TYPE_CHECKING:
    from .recipes import Recipe

LIVE_PREFIX = "ema.live."  # the trained weights in a checkpoint's tensors, while the file holds the average


class WeightAverage:
    """The weight average of `model` over a run of `total_steps` steps of `steps_per_epoch`.

    `model` is the module being trained (not a DDP or torch.compile wrapper: the same tensors).
    `evaluated()` is the module to evaluate and save: the average once it has started, else `model`.
    """

    def __init__(self, model: nn.Module, recipe: Recipe, total_steps: int, steps_per_epoch: int) -> None:
        if not recipe.ema_momentum:
            raise ValueError("a weight average needs ema_momentum > 0")
        self.model = model
        self.decay = recipe.ema_momentum**recipe.ema_every  # per update
        self.every, self.ramp, self.lookahead = recipe.ema_every, recipe.ema_ramp, recipe.lookahead
        self.start_step = recipe.ema_start * steps_per_epoch  # steps before the average starts
        self.total_steps = max(1, total_steps)
        self.average = copy.deepcopy(model).requires_grad_(False)
        self.started = recipe.ema_start == 0

    def evaluated(self) -> nn.Module:
        return self.average if self.started else self.model

    def decay_at(self, step: int) -> float:
        """The momentum of the update after optimizer step `step` (counted from 1 over the run)."""
        return self.decay * (step / self.total_steps) ** self.ramp if self.ramp else self.decay

    def _pairs(self) -> list[tuple[torch.Tensor, torch.Tensor]]:
        # state_dict() views share the modules' storage: writing into them writes the modules.
        return list(zip(self.average.state_dict().values(), self.model.state_dict().values()))

    @torch.no_grad()
    def after_step(self, step: int) -> None:
        """Update after optimizer step `step` (counted from 1 over the whole run)."""
        if step % self.every:
            return
        if not self.started:
            if step > self.start_step:
                self._copy_into_average()
                self.started = True
            return
        weight = 1 - self.decay_at(step)
        for average, live in self._pairs():
            if average.is_floating_point():
                average.lerp_(live, weight)
                if self.lookahead:
                    live.copy_(average)
            else:
                average.copy_(live)

    @torch.no_grad()
    def after_epoch(self) -> None:
        """At the end of an epoch: Lookahead's last copy of the average into the trained weights."""
        if self.lookahead and self.started:
            for average, live in self._pairs():
                if average.is_floating_point():
                    live.copy_(average)

    @torch.no_grad()
    def _copy_into_average(self) -> None:
        for average, live in self._pairs():
            average.copy_(live)

    # --- checkpoints: the model file holds `evaluated()`; the trained weights ride in the tensors ---

    def checkpoint_tensors(self) -> dict[str, torch.Tensor]:
        """The trained weights, when the model file holds the average instead (CPU copies)."""
        if not self.started:
            return {}
        state = self.model.state_dict()
        return {LIVE_PREFIX + k: v.detach().cpu().contiguous().clone() for k, v in state.items()}

    def checkpoint_info(self) -> dict[str, Any]:
        return {"started": self.started}

    def restore(self, weights: dict[str, torch.Tensor], tensors: dict[str, torch.Tensor], info: Any) -> None:
        """Put back what `checkpoint_tensors` and `checkpoint_info` saved, with `weights` the model
        file's state dict."""
        if isinstance(info, dict) and info.get("started"):
            live = {k[len(LIVE_PREFIX) :]: v for k, v in tensors.items() if k.startswith(LIVE_PREFIX)}
            self.model.load_state_dict(live)
            self.average.load_state_dict(weights)
            self.started = True
        else:
            self.model.load_state_dict(weights)
            if self.started:  # an average kept from the start, saved by no checkpoint: start it here
                self._copy_into_average()
