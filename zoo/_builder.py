"""Looking models up and building them: `model_info`, `list_models`, `list_plugins` and `create`.

`create` reads straight down: spec -> options check -> published weights entry (if asked for) ->
build -> load the verified weights -> ``pretrained_cfg`` -> the spec's params confirmed.
"""

from __future__ import annotations

import inspect
import warnings
from typing import TYPE_CHECKING, Any

from ._contract import confirm_figures, confirm_params
from ._errors import ZooError
from ._plugin_manager import PluginRecord
from ._pretrained_cfg import pretrained_cfg
from ._registry import registry, split_name
from ._spec import ModelSpec
from .weights._read import load_weights, read_weights, trained_options
from .weights.lookup import fetch_files, manifest_entry, weight_tags

if TYPE_CHECKING:
    from torch import nn


class BadModelOptionError(ZooError, TypeError):
    """An override that the model's builder does not accept."""


class PretrainedWeightsWarning(UserWarning):
    """Published weights loaded with a change: a new classifier, or options they were not trained with."""


def model_info(name: str) -> ModelSpec:
    """The `ModelSpec` of a registered model (a ``.tag`` suffix is accepted and ignored).

    A third-party model's params and MACs are confirmed by a build on first lookup (zoo._contract):
    zoo never hands out a figure the build contradicts.
    """
    store = registry()
    spec = store.get(name)
    if spec.name not in store.confirmed and not store.is_builtin(spec.plugin):
        store.confirmed.add(spec.name)
        confirm_figures(spec)
        spec = store.get(spec.name)
    return spec


def list_models(
    pattern: str = "*", *, family: str | None = None, pretrained: bool | None = None
) -> list[str]:
    """Registered model names matching an fnmatch `pattern`, sorted.

    Args:
        pattern: wildcard pattern, e.g. ``"resnext*"``.
        family: keep only this architecture family.
        pretrained: ``True`` keeps models with published weights, ``False`` those without.
    """
    names = registry().match(pattern, family)
    if pretrained is not None:
        names = [n for n in names if bool(weight_tags(n)) == pretrained]
    return names


def list_plugins() -> list[PluginRecord]:
    """Every plugin found (built-in first), with its models or the error that skipped it."""
    return registry().plugins()


def _check_options(name: str, builder: Any, options: dict[str, Any]) -> None:
    params = inspect.signature(builder).parameters
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values()):
        return
    unknown = sorted(set(options) - set(params))
    if unknown:
        accepted = ", ".join(p for p in params if params[p].kind is not inspect.Parameter.VAR_POSITIONAL)
        raise BadModelOptionError(
            f"model {name!r} does not accept option(s) {', '.join(unknown)}; it accepts: {accepted}"
        )


def create(
    name: str,
    *,
    pretrained: bool | str = False,
    num_classes: int | None = None,
    **overrides: Any,
) -> nn.Module:
    """Build a registered model by name.

    Args:
        name: a registered name, optionally with a weights tag (``"resnet18.<tag>"``).
        pretrained: load published weights: ``True`` for the default tag (or the one in `name`),
            or a tag string.
        num_classes: classifier size; defaults to the spec's (or, pretrained, the weights').
        **overrides: builder options replacing the spec's defaults (e.g. ``act="gelu"``).

    The model carries ``model.pretrained_cfg`` (input size, mean, std, data set; see
    `zoo.data_config`). At the spec's own configuration its parameter count is checked against
    the spec (zoo._contract).
    """
    base, tag_in_name = split_name(name)
    spec = model_info(base)
    options = {**spec.kwargs, **overrides}
    _check_options(spec.name, spec.builder, options)
    if pretrained or tag_in_name:
        _, tag, entry = manifest_entry(base, pretrained if isinstance(pretrained, str) else tag_in_name)
        model = load_pretrained(spec, tag, num_classes=num_classes, options=options, entry=entry)
    else:
        model = spec.builder(num_classes=spec.num_classes if num_classes is None else num_classes, **options)
        model.pretrained_cfg = pretrained_cfg(spec, model)
    built_classes = getattr(model, "num_classes", num_classes)
    if options == dict(spec.kwargs) and built_classes in (None, spec.num_classes):
        confirm_params(spec, model)  # the spec's own configuration: its params must be the model's
    return model


def load_pretrained(
    spec: ModelSpec,
    tag: str,
    *,
    num_classes: int | None = None,
    options: dict[str, Any] | None = None,
    token: str | bool | None = None,
    entry: dict[str, Any] | None = None,
) -> nn.Module:
    """Build `spec`'s model with `options` and load its published weights `tag` (verified first).

    With a `num_classes` other than the weights', everything but the classifier is loaded and the
    classifier keeps its fresh initialisation (a `PretrainedWeightsWarning` says so).
    """
    entry = entry if entry is not None else manifest_entry(spec.name, tag)[2]
    options = dict(spec.kwargs if options is None else options)
    state, metadata = read_weights(fetch_files(entry, token=token))
    trained = trained_options(metadata)
    if trained is not None:
        trained = {**spec.kwargs, **trained}
        trained.pop("num_classes", None)
        if trained != options:
            warnings.warn(
                f"{spec.name}.{tag} was trained with options {trained}, it is built with {options}",
                PretrainedWeightsWarning,
                stacklevel=3,
            )
    weights_classes = entry["num_classes"]
    num_classes = weights_classes if num_classes is None else num_classes
    model = spec.builder(num_classes=num_classes, **options)
    keep = num_classes == weights_classes
    if not keep:
        warnings.warn(
            f"{spec.name}.{tag} has a {weights_classes}-class classifier; loaded all weights but the "
            f"classifier, which is freshly initialised for {num_classes} classes",
            PretrainedWeightsWarning,
            stacklevel=3,
        )
    load_weights(model, state, name=f"{spec.name}.{tag}", keep_classifier=keep)
    model.pretrained_cfg = pretrained_cfg(spec, model, tag=tag, entry=entry, metadata=metadata)
    return model
