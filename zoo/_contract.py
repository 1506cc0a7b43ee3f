"""The model contract: a built model matches its spec's figures and has the uniform classifier API.

Figures are params (every parameter, buffers excluded) and MACs (FlopCounterMode's total / 2 for
one image of the spec's input size). Three places hold a model to them:

- `confirm_figures`: on first lookup of a third-party spec, a build on the meta device (no memory,
  no compute) checks both;
- `confirm_params`: after every `zoo.create` at the spec's own configuration;
- `check_model`: what `zoo check` runs (a real build, forward/backward and the API).

A figure the build contradicts is replaced in the registry by the measured one, with one warning
naming the plugin, or raises `PluginError` under ZOO_STRICT_PLUGINS=1: zoo never shows it.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ._plugin_manager import PluginError, strict
from ._registry import registry
from .weights.lookup import load_manifest

if TYPE_CHECKING:
    from torch import nn

    from ._spec import ModelSpec

_logger = logging.getLogger("zoo")
FIGURES = ("params", "macs")


def figure_problems(spec: ModelSpec, measured: dict[str, int | None]) -> dict[str, str]:
    """Figure name -> what is wrong with the declared value and what to declare (empty: all match)."""
    problems = {}
    for name, value in measured.items():
        declared = getattr(spec, name)
        if value is None or value == declared:
            continue
        why = f"{name}: declared {declared:,}, the build has {value:,}; declare {name}={value:_}"
        if name == "macs" and declared == 2 * value:
            why += " (FlopCounterMode reports FLOPs: MACs are half)"
        problems[name] = why
    return problems


def _reconcile(spec: ModelSpec, measured: dict[str, int | None]) -> None:
    problems = figure_problems(spec, measured)
    if not problems:
        return
    message = (
        f"model {spec.name!r} from plugin {spec.plugin!r}: {'; '.join(problems.values())} "
        f"(`zoo check {spec.plugin}` checks every figure)"
    )
    if strict():
        raise PluginError(f"{message}; ZOO_STRICT_PLUGINS=1 makes this an error")
    _logger.warning("%s; zoo shows the measured figures", message)
    registry().correct(spec.name, **{name: measured[name] for name in problems})


def build(spec: ModelSpec, device: str = "cpu") -> nn.Module:
    """`spec`'s model at its own configuration (num_classes and builder options), on `device`."""
    import torch

    with torch.device(device):
        return spec.builder(num_classes=spec.num_classes, **spec.kwargs)


def measure(spec: ModelSpec, device: str = "cpu") -> dict[str, int | None]:
    """Params and MACs of `spec`'s model built on `device` ("meta": shapes only); MACs None if the
    forward pass cannot run there."""
    import torch

    from ._measure import count_macs, count_params  # torch: zoo._builder is imported by `import zoo`

    model = build(spec, device)
    figures: dict[str, int | None] = {"params": count_params(model), "macs": None}
    try:
        with torch.device(device):
            figures["macs"] = count_macs(model, spec.input_size)
    except Exception:  # a forward the meta device cannot run: params alone are checked
        _logger.debug("cannot count the MACs of %s on %s", spec.name, device, exc_info=True)
    return figures


def confirm_figures(spec: ModelSpec) -> None:
    """Check a spec's params and MACs against a build on the meta device (see the module doc)."""
    try:
        measured = measure(spec, "meta")
    except Exception:  # a builder that cannot build on meta: `create` checks params after its build
        _logger.debug("cannot build %s on the meta device", spec.name, exc_info=True)
        return
    _reconcile(spec, measured)


def confirm_params(spec: ModelSpec, model: nn.Module) -> None:
    """Check the params of a model `create` built at `spec`'s own configuration."""
    from ._measure import count_params  # torch: zoo._builder is imported by `import zoo`

    _reconcile(spec, {"params": count_params(model)})


@dataclass
class CheckResult:
    """What `check_model` found for one model: measured figures and each problem, with its fix."""

    model: str
    plugin: str
    measured: dict[str, int | None] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def check_model(spec: ModelSpec) -> CheckResult:
    """Build `spec`'s model and check figures, forward/backward at the declared input and the API."""
    import torch

    from ._measure import count_macs, count_params  # torch: zoo._builder is imported by `import zoo`

    result = CheckResult(spec.name, spec.plugin)
    torch.manual_seed(0)
    try:
        model = build(spec)
    except Exception as error:
        result.problems.append(f"the builder raised {type(error).__name__}: {error}")
        return result
    result.measured = {"params": count_params(model), "macs": None}
    try:
        result.measured["macs"] = count_macs(model, spec.input_size)
    except Exception as error:
        result.problems.append(f"forward at input {_size(spec)} failed: {type(error).__name__}: {error}")
        return result
    result.problems += figure_problems(spec, result.measured).values()
    result.problems += _references(spec, result.measured["params"])
    for check in (_forward_backward, _api):
        try:
            result.problems += check(spec, model)
        except Exception as error:
            result.problems.append(f"{check.__name__.strip('_')} failed: {type(error).__name__}: {error}")
    return result


def _size(spec: ModelSpec) -> str:
    return "x".join(map(str, spec.input_size))


def _forward_backward(spec: ModelSpec, model: Any) -> list[str]:
    import torch

    model.train()
    out = model(torch.randn(2, *spec.input_size))
    if tuple(out.shape) != (2, spec.num_classes):
        return [f"forward of 2x{_size(spec)} gives shape {tuple(out.shape)}, not (2, {spec.num_classes})"]
    out.square().mean().backward()
    no_grad = [n for n, p in model.named_parameters() if p.requires_grad and p.grad is None]
    bad = [n for n, p in model.named_parameters() if p.grad is not None and not torch.isfinite(p.grad).all()]
    problems = [f"no gradient reaches {', '.join(no_grad[:3])}"] if no_grad else []
    return problems + ([f"non-finite gradient in {', '.join(bad[:3])}"] if bad else [])


def _api(spec: ModelSpec, model: Any) -> list[str]:
    """The uniform API zoo's training, evaluation and fine-tuning rely on (zoo.models.ClassifierModel)."""
    import torch

    missing = [
        name
        for name in ("forward_features", "forward_head", "get_classifier", "reset_classifier")
        if not callable(getattr(model, name, None))
    ]
    missing += [
        name for name in ("num_features", "num_classes") if not isinstance(getattr(model, name, None), int)
    ]
    if missing:
        return [f"missing {', '.join(missing)} (subclass zoo.models.ClassifierModel and set them)"]
    problems = []
    if model.num_classes != spec.num_classes:
        problems.append(f"model.num_classes is {model.num_classes}, not {spec.num_classes}")
    model.eval()
    x = torch.randn(2, *spec.input_size)
    with torch.no_grad():
        features = model.forward_features(x)
        pre = model.forward_head(features, pre_logits=True)
        if tuple(pre.shape) != (2, model.num_features):
            problems.append(f"forward_head(pre_logits=True) gives {tuple(pre.shape)}, not (2, num_features)")
        if not torch.allclose(model.forward_head(features), model(x), atol=1e-5):
            problems.append("forward(x) differs from forward_head(forward_features(x))")
        model.reset_classifier(7)
        if tuple(model(x).shape) != (2, 7) or model.num_classes != 7:
            problems.append("reset_classifier(7) does not give a 7-class model")
    return problems


def _references(spec: ModelSpec, params: int) -> list[str]:
    """The recipe the spec names exists; its published weights fit the model built."""
    problems = []
    if spec.recipe is not None and spec.recipe not in registry().recipes():
        problems.append(f"recipe {spec.recipe!r} is not registered (`zoo recipes` lists them)")
    for tag, entry in load_manifest().get(spec.name, {}).items():
        if entry["params"] != params and entry["num_classes"] == spec.num_classes:
            problems.append(
                f"weights {spec.name}.{tag} record params {entry['params']:,}, the build has {params:,}"
            )
    return problems
