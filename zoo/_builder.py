"""Building a registered model: `create`."""

from __future__ import annotations

import inspect
from typing import TYPE_CHECKING, Any

from ._errors import ZooError
from ._manifest import weight_tags
from ._registry import registry, split_name

if TYPE_CHECKING:
    from torch import nn


class BadModelOptionError(ZooError, TypeError):
    """An override that the model's builder does not accept."""


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


def resolve_weights_tag(name: str, pretrained: bool | str) -> str:
    """The weights tag `create` would load: from ``name.tag``, ``pretrained="tag"`` or the default."""
    from .hub import NoPublishedWeightsError

    base, tag = split_name(name)
    if isinstance(pretrained, str):
        tag = pretrained
    tags = weight_tags(base)
    if not tags:
        raise NoPublishedWeightsError(
            f"no published weights for {base!r}; `zoo list --pretrained` shows the models that have them"
        )
    if tag is None:
        return tags[0]
    if tag not in tags:
        raise NoPublishedWeightsError(
            f"no weights tagged {tag!r} for {base!r}; published tags: {', '.join(tags)}"
        )
    return tag


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
        num_classes: classifier size; defaults to the spec's.
        **overrides: builder options replacing the spec's defaults (e.g. ``act="gelu"``).

    The model carries ``model.pretrained_cfg`` (input size, mean, std, data set; see
    `zoo.data_config`). At the spec's own configuration its parameter count is checked against
    the spec (zoo._contract).
    """
    from ._contract import confirm_params
    from ._pretrained_cfg import pretrained_cfg

    spec = registry().get(name)
    options = {**spec.kwargs, **overrides}
    _check_options(spec.name, spec.builder, options)
    _, tag_in_name = split_name(name)
    if pretrained or tag_in_name:
        tag = resolve_weights_tag(name, pretrained if pretrained else True)
        from .hub import load_pretrained  # huggingface_hub is imported only when weights are asked for

        model = load_pretrained(spec, tag, num_classes=num_classes, options=options)
    else:
        classes = spec.num_classes if num_classes is None else num_classes
        model = spec.builder(num_classes=classes, **options)
        model.pretrained_cfg = pretrained_cfg(spec, model)
    built_classes = getattr(model, "num_classes", num_classes)
    if options == dict(spec.kwargs) and built_classes in (None, spec.num_classes):
        confirm_params(spec, model)  # the spec's own configuration: its params must be the model's
    return model
