"""Probes: measurements taken on the train step (a `zoo.train.train` ``on_step`` hook).

Each probe sees a `TrainStep` after the backward pass, before the optimizer step, and records every
`every` steps. What it records is JSON: ``series`` (one number per recorded step) and ``layers`` (one
number per weight layer per recorded step, with the layers' module ``names``). A probe that moves the
weights to look around puts them, their gradients and BatchNorm's running statistics back before the
optimizer step.

* ``grad_norms``: the L2 norm of each weight layer's gradient (vanishing gradients in deep MLPs).
* ``smoothness``: Santurkar et al. 2018 as the seed measures it: the loss, the gradient
  predictiveness ||g(t+1) - g(t)|| and the effective beta-smoothness ||g(t+1) - g(t)|| / (lr ||g(t)||).
* ``landscape``: the paper's own probe: along the gradient at step sizes lr x {0.5, 1, 2, 4}, the
  range of the losses and the largest change of the gradient.
* ``ics``: internal covariate shift as the paper defines it: per layer, ||G - G'|| and cos(G, G'),
  G' the layer's gradient once the preceding layers took their (SGD) step.
* ``activations``: the distribution of each weight layer's input over training (quantiles from
  one extra training-mode forward of the step's batch), the paper's Figure 2 histograms.
"""

from __future__ import annotations

import math
from contextlib import contextmanager
from typing import Any

import torch
from torch import nn

STEP_FACTORS = (0.5, 1.0, 2.0, 4.0)
QUANTILES = (0.05, 0.25, 0.5, 0.75, 0.95)
MAX_SAMPLES = 1 << 16  # values per layer the quantiles are taken over (torch.quantile has a size limit)


def weight_modules(net: nn.Module) -> list[nn.Module]:
    """The trainable Linear and Conv layers, input to output (what the per-layer probes report)."""
    return [m for m in net.modules() if isinstance(m, (nn.Linear, nn.Conv2d)) and m.weight.requires_grad]


def weight_names(net: nn.Module) -> list[str]:
    """The qualified names of `weight_modules` (a report tells a residual shortcut by its name)."""
    chosen = {id(m) for m in weight_modules(net)}
    return [name for name, m in net.named_modules() if id(m) in chosen]


def weight_layers(net: nn.Module) -> list[nn.Parameter]:
    """The weights of `weight_modules`."""
    return [m.weight for m in weight_modules(net)]


def _flat_grad(params: list[nn.Parameter]) -> torch.Tensor:
    return torch.cat([(p.grad if p.grad is not None else torch.zeros_like(p)).reshape(-1) for p in params])


@contextmanager
def _restored(net: nn.Module):
    """Weights, gradients, buffers (BatchNorm statistics) and the random state (noisy BN, dropout draw
    from it) as they were, whatever the block does: a probed run trains as an unprobed one would."""
    params = [p for p in net.parameters() if p.requires_grad]
    weights = [p.detach().clone() for p in params]
    grads = [None if p.grad is None else p.grad.clone() for p in params]
    buffers = [b.clone() for b in net.buffers()]
    devices = sorted({p.device.index or 0 for p in params if p.device.type == "cuda"})
    try:
        with torch.random.fork_rng(devices=devices):
            yield params
    finally:
        with torch.no_grad():
            for p, w, g in zip(params, weights, grads, strict=True):
                p.copy_(w)
                p.grad = g
            for b, saved in zip(net.buffers(), buffers, strict=True):
                b.copy_(saved)


def _loss_and_grad(step, params: list[nn.Parameter]) -> tuple[float, torch.Tensor]:
    for p in params:
        p.grad = None
    loss = step.loss_fn(step.net(step.x).float(), step.y)
    loss.backward()
    return float(loss.detach()), _flat_grad(params)


class Probe:
    """Records `series` and `layers` every `every` steps; subclasses implement `measure`."""

    def __init__(self, every: int = 1) -> None:
        self.every = max(1, int(every))
        self.steps: list[int] = []
        self.series: dict[str, list[float]] = {}
        self.layers: dict[str, list[list[float]]] = {}
        self.names: list[str] = []  # the weight layers `layers` follows, set by per-layer probes

    def __call__(self, step) -> None:
        if step.step % self.every == 0:
            self.measure(step)

    def measure(self, step) -> None:
        raise NotImplementedError

    def add(self, step: int, series: dict[str, float] | None = None, layers: dict | None = None) -> None:
        if not self.steps or self.steps[-1] != step:
            self.steps.append(step)
        for key, value in (series or {}).items():
            self.series.setdefault(key, []).append(float(value))
        for key, values in (layers or {}).items():
            self.layers.setdefault(key, []).append([float(v) for v in values])

    def name_layers(self, net: nn.Module) -> None:
        if not self.names:
            self.names = weight_names(net)

    def to_dict(self) -> dict[str, Any]:
        names = {"names": self.names} if self.names else {}
        return {"steps": self.steps, "series": self.series, "layers": self.layers, **names}


class GradNorms(Probe):
    def measure(self, step) -> None:
        norms = [float(p.grad.norm()) if p.grad is not None else 0.0 for p in weight_layers(step.net)]
        self.name_layers(step.net)
        self.add(step.step, {"loss": float(step.loss.detach())}, {"grad_norm": norms})


class Smoothness(Probe):
    """Needs the gradient of the step after a recorded one, so it keeps that one's gradient."""

    def __init__(self, every: int = 1) -> None:
        super().__init__(every)
        self._previous: tuple[int, torch.Tensor, float] | None = None

    def __call__(self, step) -> None:
        grad = _flat_grad([p for p in step.net.parameters() if p.requires_grad]).detach()
        if self._previous is not None and self._previous[0] == step.step - 1:
            at, before, lr = self._previous
            change = float((grad - before).norm())
            beta = change / max(lr * float(before.norm()), 1e-12)
            self.add(at, {"grad_predictiveness": change, "beta_smoothness": beta})
        self._previous = None
        if step.step % self.every == 0:
            self.add(step.step, {"loss": float(step.loss.detach())})
            self._previous = (step.step, grad.clone(), step.optimizer.param_groups[0]["lr"])

    def to_dict(self) -> dict[str, Any]:
        # The last recorded step may have had no next one: keep only complete records.
        n = min(len(v) for v in self.series.values()) if self.series else 0
        return {"steps": self.steps[:n], "series": {k: v[:n] for k, v in self.series.items()}, "layers": {}}


class Landscape(Probe):
    def measure(self, step) -> None:
        lr = step.optimizer.param_groups[0]["lr"]
        with _restored(step.net) as params:
            start_w = [p.detach().clone() for p in params]
            direction = [p.grad.detach().clone() if p.grad is not None else None for p in params]
            start = _flat_grad(params)
            losses, changes = [], []
            for factor in STEP_FACTORS:
                with torch.no_grad():
                    for p, w, d in zip(params, start_w, direction, strict=True):
                        p.copy_(w if d is None else w - factor * lr * d)
                loss, grad = _loss_and_grad(step, params)
                losses.append(loss)
                changes.append(float((grad - start).norm()))
        self.add(step.step, {"loss_range": max(losses) - min(losses), "grad_change": max(changes)})


class InternalCovariateShift(Probe):
    def measure(self, step) -> None:
        lr = step.optimizer.param_groups[0]["lr"]
        layers = weight_layers(step.net)
        before = [p.grad.detach().clone() for p in layers]
        l2, cos = [], []
        with _restored(step.net) as params:
            saved = [p.detach().clone() for p in layers]
            for i, layer in enumerate(layers):
                with torch.no_grad():
                    for j, p in enumerate(layers):
                        p.copy_(saved[j] - lr * before[j] if j < i else saved[j])
                _loss_and_grad(step, params)
                after = layer.grad.reshape(-1)
                g = before[i].reshape(-1)
                l2.append(float((g - after).norm()))
                cos.append(float(nn.functional.cosine_similarity(g, after, dim=0).clamp(-1, 1)))
        self.name_layers(step.net)
        self.add(step.step, {"loss": float(step.loss.detach())}, {"ics_l2": l2, "ics_cos": cos})


class Activations(Probe):
    """Per recorded step and weight layer, the QUANTILES of the layer's input."""

    def __init__(self, every: int = 1) -> None:
        super().__init__(every)
        self.quantiles: list[list[list[float]]] = []

    def measure(self, step) -> None:
        modules = weight_modules(step.net)
        seen: list[list[float]] = [[] for _ in modules]

        def recorder(i: int):
            def record(module, args) -> None:
                x = args[0].detach().float().reshape(-1)
                x = x[:: max(1, x.numel() // MAX_SAMPLES)]
                seen[i] = torch.quantile(x, torch.tensor(QUANTILES, device=x.device)).tolist()

            return record

        handles = [m.register_forward_pre_hook(recorder(i)) for i, m in enumerate(modules)]
        try:
            with _restored(step.net), torch.no_grad():
                step.net(step.x)  # training mode, as the step saw it
        finally:
            for handle in handles:
                handle.remove()
        self.name_layers(step.net)
        self.add(step.step)
        self.quantiles.append(seen)

    def to_dict(self) -> dict[str, Any]:
        return {**super().to_dict(), "quantiles": {"q": list(QUANTILES), "values": self.quantiles}}


PROBES: dict[str, type[Probe]] = {
    "grad_norms": GradNorms,
    "smoothness": Smoothness,
    "landscape": Landscape,
    "ics": InternalCovariateShift,
    "activations": Activations,
}


def make_probe(name: str, every: int) -> Probe:
    if name not in PROBES:
        raise ValueError(f"unknown probe {name!r}; choose one of {', '.join(PROBES)}")
    return PROBES[name](every)


def all_finite(record: dict[str, Any]) -> bool:
    """Whether every number a probe recorded is finite (cos of a zero gradient is 0, not NaN)."""
    values = [v for s in record["series"].values() for v in s]
    values += [v for rows in record["layers"].values() for row in rows for v in row]
    values += [v for step in record.get("quantiles", {}).get("values", []) for q in step for v in q]
    return all(math.isfinite(v) for v in values)
