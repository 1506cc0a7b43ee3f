"""Function-preserving growth: a trained model into a larger one that computes the same function.

Paper: Chen, Goodfellow, Shlens, "Net2Net: Accelerating Learning via Knowledge Transfer", ICLR
2016, arXiv:1511.05641. Training the grown model starts where the small one ended.

`RULES` are the supported steps; each rule is a function beside its architecture in zoo/models/
(built from the tensor operations of zoo/models/_net2net.py), and `GROWTHS` adds the chains of
rules (resnext29_2x64d -> resnext29_8x64d -> geresnext29_8x64d). The table is data in
zoo/_growths.py, so the CLI lists the growths without importing torch.

Measured (fp32, CPU, ``noise=0``, batch 2, BatchNorm statistics and affines randomised as a
trained model's): max |logit difference| between source and grown model 0 for resnet18 ->
resnet34 and resnext29_8x64d -> geresnext29_8x64d, 1.8e-7 for wrn16_8 -> wrn28_10, 1.2e-6 for
resnext29_2x64d -> resnext29_8x64d (7.2e-7 through to GE), in eval and in train mode; on a
trained resnet18 (63.7 % on 256 test images) the grown resnet34's logits are bit-identical.
"""

from __future__ import annotations

import importlib
import inspect
import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ._builder import create, model_info
from ._growths import DEFAULT_NOISE, GROWTHS, GrowError, Rule, supported_growths
from ._registry import UnknownModelError, split_name
from .checkpoint import CheckpointError, load_model, read_metadata, save_model
from .weights._read import normalisation_from
from .weights.lookup import NoPublishedWeightsError, resolve_tag

__all__ = [
    "DEFAULT_NOISE",
    "GROWTHS",
    "GrowError",
    "Grown",
    "grow",
    "grow_model",
    "save_grown",
    "supported_growths",
]

if TYPE_CHECKING:
    from torch import nn


@dataclass(frozen=True)
class Grown:
    """A grown model and what its model file records."""

    model: nn.Module
    name: str  # the target's registered name
    options: dict[str, Any]  # builder options beyond the spec's, carried from the source (e.g. act)
    grown_from: str  # "NAME.TAG", the source file's path, or a source module's architecture
    noise: float
    seed: int
    provenance: dict[str, Any] = field(default_factory=dict)  # dataset, mean, std of the source's weights


def grow(
    source: nn.Module | str | os.PathLike, target: str, *, noise: float = DEFAULT_NOISE, seed: int = 0
) -> nn.Module:
    """Grow `source` into the registered model `target`, computing the same function (Net2Net).

    Args:
        source: a model built by `zoo.create`; a registered ``NAME[.TAG]`` (its published weights,
            the default tag without one); or a zoo model file / run folder (`zoo train`'s).
        target: the registered name of the larger model; `supported_growths()` lists the pairs.
        noise: Gaussian noise on copied channels' weights, relative to each tensor's std, so the
            copies part under training (0: the function is preserved up to float error).
        seed: seeds the channels picked for copying, the noise and the new layers' init.

    Returns the target model as ``zoo.create(target)`` builds it (CPU, fp32, the source's class
    count and options such as ``act``), with the source's weights grown into it and a
    ``pretrained_cfg`` carrying the source's data set and normalisation.
    """
    return grow_model(source, target, noise=noise, seed=seed).model


def grow_model(
    source: nn.Module | str | os.PathLike, target: str, *, noise: float = DEFAULT_NOISE, seed: int = 0
) -> Grown:
    """`grow`, returning the model with what its model file records (see `save_grown`)."""
    import torch

    if isinstance(noise, bool) or not (
        isinstance(noise, (int, float)) and math.isfinite(noise) and noise >= 0
    ):
        raise GrowError(f"noise must be a finite number >= 0 (0: no noise), got {noise!r}")
    target_name = model_info(target).name  # an unknown name fails here, with suggestions
    if split_name(target)[1] is not None:
        raise GrowError(f"the target {target!r} names weights; give its architecture alone: {target_name!r}")
    architecture, described, load = _resolve_source(source)
    steps = GROWTHS.get((architecture, target_name))
    if steps is None:
        raise GrowError(
            f"cannot grow {described} into {target_name}; supported growths: {supported_growths()}"
        )
    model, label, provenance = load()
    options: dict[str, Any] = {}
    with torch.random.fork_rng(devices=[]):  # the new layers' init comes from `seed`, not the caller's RNG
        torch.manual_seed(seed)
        generator = torch.Generator().manual_seed(seed)
        for rule in steps:
            make_target = _target_builder(rule.target, getattr(model, "num_classes", None), options)
            model = _apply(rule, model, make_target, noise, generator)
    model.pretrained_cfg = {**model.pretrained_cfg, **provenance, "grown_from": label}
    return Grown(model, target_name, options, label, float(noise), seed, provenance)


def save_grown(grown: Grown, path: str | Path) -> Path:
    """Write `grown` as a zoo model file (`zoo.checkpoint.save_model`): a folder gets model.safetensors."""
    extra = {
        **{k: list(v) if isinstance(v, tuple) else v for k, v in grown.provenance.items()},
        "grown_from": grown.grown_from,
        "grow_noise": grown.noise,
        "grow_seed": grown.seed,
    }
    return save_model(grown.model, path, name=grown.name, options=grown.options, extra=extra)


def _apply(rule: Rule, source: nn.Module, make_target: Any, noise: float, generator: Any) -> nn.Module:
    module, name = rule.function.split(":")
    function = getattr(importlib.import_module(f"zoo.models.{module}"), name)  # beside its architecture
    return function(source, make_target, noise=noise, generator=generator)


def _target_builder(name: str, num_classes: int | None, record: dict[str, Any]):
    """``make_target(**options)`` for a rule: builds `name`, recording the options that are not defaults."""
    spec = model_info(name)
    defaults = {k: p.default for k, p in inspect.signature(spec.builder).parameters.items()}
    defaults.update(spec.kwargs)

    def make_target(**options: Any) -> nn.Module:
        record.clear()
        record.update({k: v for k, v in options.items() if k not in defaults or defaults[k] != v})
        return create(name, num_classes=num_classes, **record)

    return make_target


def _resolve_source(source: Any) -> tuple[str, str, Any]:
    """(architecture, described, load): the source's registered name, how an error names the source,
    and a function returning ``(model, label, provenance)``, called once the growth is known to exist
    (`label` is what the grown file records as ``zoo.grown_from``)."""
    from torch import nn

    if isinstance(source, nn.Module):
        cfg = getattr(source, "pretrained_cfg", None)
        if not isinstance(cfg, dict) or "architecture" not in cfg:
            raise GrowError(
                f"this {type(source).__name__} has no zoo pretrained_cfg (it was not built by zoo.create): "
                "pass its registered name or model file instead"
            )
        label = cfg["architecture"] + (f".{cfg['tag']}" if cfg.get("tag") else "")
        return cfg["architecture"], label, lambda: (source, label, _provenance(cfg))
    if isinstance(source, str):
        try:
            return _named_source(source, model_info(source).name)
        except UnknownModelError:
            if not (Path(source).exists() or os.sep in source or source.endswith(".safetensors")):
                raise  # neither a model nor a path: the suggestions help most
    if isinstance(source, (str, os.PathLike)):
        return _file_source(Path(source))
    raise GrowError(f"a source is a model, a registered name or a model file's path, not {source!r}")


def _named_source(name: str, architecture: str) -> tuple[str, str, Any]:
    def load() -> tuple[nn.Module, str, dict[str, Any]]:
        try:
            tag = resolve_tag(name)
        except NoPublishedWeightsError as error:
            raise NoPublishedWeightsError(
                f"{error}; to grow weights of your own, give their model file or run folder instead"
            ) from None
        model = create(architecture, pretrained=tag)
        return model, f"{architecture}.{tag}", _provenance(model.pretrained_cfg)

    return architecture, name, load


def _file_source(path: Path) -> tuple[str, str, Any]:
    architecture = read_metadata(path).get("zoo.model")
    if architecture is None:
        raise CheckpointError(f"{path} has no 'zoo.model' metadata: it was not written by zoo")

    def load() -> tuple[nn.Module, str, dict[str, Any]]:
        model, metadata = load_model(path)
        provenance = _provenance(model.pretrained_cfg)
        if "zoo.dataset" in metadata:
            provenance["dataset"] = metadata["zoo.dataset"]
        normalisation = normalisation_from(metadata)
        if normalisation:
            provenance.update(mean=tuple(normalisation[0]), std=tuple(normalisation[1]))
        return model, str(path), provenance

    return architecture, f"{architecture} (the model in {path})", load


def _provenance(cfg: dict[str, Any]) -> dict[str, Any]:
    """What the grown model inherits from its source's config: the data it was trained on, and how fed."""
    return {k: cfg[k] for k in ("dataset", "mean", "std") if k in cfg}
