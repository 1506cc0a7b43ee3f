"""The registry: a plain store of models, recipes, weights manifests and studies, filled by the
plugin manager on first use, then read-only.

The registry is the package's only global state. It loads lazily, so `import zoo` stays cheap.
Every plugin, built-in or not, contributes through the same hooks (zoo/hookspecs.py); a plugin's
contributions of every kind are checked against their records, staged and committed together. The
registry builds no model and reads no weights: zoo._builder and zoo.weights do.
"""

from __future__ import annotations

import dataclasses
import fnmatch
import functools
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from . import _plugin_manager
from ._errors import ZooError
from ._plugin_manager import CONTRIBUTIONS, PluginRecord
from ._recipe import check_recipe
from ._spec import ModelSpec
from ._study import Study
from ._weights_entry import read_manifest_file


class UnknownModelError(ZooError, LookupError):
    """No registered model has this name."""


class DuplicateError(ZooError, ValueError):
    """Two plugins registered the same name: a model, recipe, study or weights tag."""


class DuplicateModelError(DuplicateError):
    """Two plugins registered the same model name."""


def split_name(name: str) -> tuple[str, str | None]:
    """Split ``"resnet18.tag"`` into ``("resnet18", "tag")``; no tag gives ``None``."""
    base, sep, tag = name.strip().partition(".")
    if not base:  # "../x", ".tag": nothing before the dot is no model name, so name the whole input
        raise UnknownModelError(f"unknown model {name!r}: a name is MODEL or MODEL.TAG (see `zoo list`)")
    if sep and not tag:
        raise UnknownModelError(f"model name {name!r} ends with '.' but names no weights tag")
    return base, (tag if sep else None)


def _edit_distance(a: str, b: str) -> int:
    """Optimal-string-alignment distance: insertions, deletions, substitutions, transpositions."""
    prev2, prev = None, list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        row = [i] + [0] * len(b)
        for j, cb in enumerate(b, 1):
            row[j] = min(prev[j] + 1, row[j - 1] + 1, prev[j - 1] + (ca != cb))
            if prev2 is not None and i > 1 and j > 1 and ca == b[j - 2] and a[i - 2] == cb:
                row[j] = min(row[j], prev2[j - 2] + 1)
        prev2, prev = prev, row
    return prev[-1]


def suggest(name: str, names, limit: int = 3) -> list[str]:
    """Registered names a user most likely meant by `name`: the fewest edits, then names it begins."""
    scored = sorted((_edit_distance(name, n), abs(len(n) - len(name)), n) for n in names)
    if scored and scored[0][0] <= max(1, len(name) // 3):
        best = scored[0][0]
        return [n for d, _, n in scored if d == best][:limit]
    return sorted(n for n in names if n.startswith(name))[:limit]


def _accept_model(spec: Any, record: PluginRecord) -> dict[str, Any]:
    if not isinstance(spec, ModelSpec):
        raise TypeError(f"register() takes a zoo.ModelSpec, got {type(spec).__name__}")
    return {spec.name: dataclasses.replace(spec, plugin=record.name)}


def _accept_recipe(recipe: Any, record: PluginRecord) -> dict[str, Any]:
    check_recipe(recipe)
    return {recipe.name: recipe}


def _accept_weights(path: Any, record: PluginRecord) -> dict[str, Any]:
    # The plugin's own manifest, checked against the schema; how it merges is zoo.weights' business.
    path = Path(path)
    return {
        f"{model}.{tag}": (entry, path)
        for model, tags in read_manifest_file(path).items()
        for tag, entry in tags.items()
    }


def _accept_study(study: Any, record: PluginRecord) -> dict[str, Any]:
    if not isinstance(study, Study):
        raise TypeError(f"register() takes a zoo.Study, got {type(study).__name__}")
    return {study.name: study}


@dataclass(frozen=True)
class _Kind:
    """One kind of contribution: its ``zoo_register_<name>`` hook and how a registered item is checked."""

    name: str  # as in PluginRecord and the hook name
    noun: str
    accept: Callable[[Any, PluginRecord], dict[str, Any]]  # item -> {key: stored value}
    duplicate: type[DuplicateError] = DuplicateError


KINDS = (
    _Kind("models", "model", _accept_model, DuplicateModelError),
    _Kind("recipes", "recipe", _accept_recipe),
    _Kind("weights", "weights", _accept_weights),
    _Kind("studies", "study", _accept_study),
)
assert tuple(k.name for k in KINDS) == CONTRIBUTIONS


class Registry:
    """What plugins contributed, by kind and name, and the plugins themselves."""

    def __init__(self) -> None:
        self._items: dict[str, dict[str, Any]] = {kind.name: {} for kind in KINDS}
        self._owners: dict[str, dict[str, str]] = {kind.name: {} for kind in KINDS}
        self._plugins: list[PluginRecord] = []
        self.confirmed: set[str] = set()  # third-party models whose figures a build has confirmed
        self._declared: dict[str, ModelSpec] = {}  # specs as registered, where a build corrected them
        self._loaded = False
        self._lock = threading.Lock()

    @property
    def _specs(self) -> dict[str, ModelSpec]:
        self._ensure_loaded()
        return self._items["models"]

    def _ensure_loaded(self) -> None:
        if self._loaded:
            return
        with self._lock:
            if not self._loaded:
                self._plugins = _plugin_manager.load(self._register_plugin)
                self._loaded = True

    def _register_plugin(self, record: PluginRecord, call_hook: Callable) -> None:
        # Staged, then committed together: a plugin that fails half-way leaves nothing behind.
        staged: dict[str, dict[str, Any]] = {kind.name: {} for kind in KINDS}
        try:
            for kind in KINDS:
                call_hook(kind.name, functools.partial(self._stage, kind, record, staged[kind.name]))
        except BaseException as error:  # SystemExit too: see report_failure
            _plugin_manager.report_failure(record, error)
            return
        for kind in KINDS:
            self._items[kind.name].update(staged[kind.name])
            self._owners[kind.name].update(dict.fromkeys(staged[kind.name], record.name))
            getattr(record, kind.name).extend(sorted(staged[kind.name]))

    def _stage(self, kind: _Kind, record: PluginRecord, staged: dict[str, Any], item: Any) -> None:
        for key, value in kind.accept(item, record).items():
            owner = self._owners[kind.name].get(key)
            if owner is not None:
                raise kind.duplicate(
                    f"{kind.noun} {key!r} from plugin {record.name!r} is refused: plugin "
                    f"{owner!r} registered it first"
                )
            if key in staged:
                raise kind.duplicate(f"plugin {record.name!r} registers {kind.noun} {key!r} twice")
            staged[key] = value

    def get(self, name: str) -> ModelSpec:
        """The spec for `name` as stored (a weights tag, if any, is ignored here).

        `zoo.model_info` is the checked lookup: it confirms a third-party model's figures first.
        """
        base, _ = split_name(name)
        try:
            return self._specs[base]
        except KeyError:
            raise UnknownModelError(self._unknown_message(base)) from None

    def correct(self, name: str, **figures: int) -> None:
        """Replace declared figures (params, macs) of `name` by what its build measured."""
        self._declared.setdefault(name, self._specs[name])
        self._items["models"][name] = dataclasses.replace(self._specs[name], **figures)

    def declared(self, name: str) -> ModelSpec:
        """The spec as its plugin registered it, unchecked and uncorrected (what `zoo check` examines)."""
        base, _ = split_name(name)
        if base not in self._specs:
            raise UnknownModelError(self._unknown_message(base))
        return self._declared.get(base, self._specs[base])

    def is_builtin(self, plugin: str) -> bool:
        """Whether `plugin` is one of zoo's own (zoo/plugins/)."""
        return any(r.builtin for r in self._plugins if r.name == plugin)

    def recipes(self) -> dict[str, Any]:
        """Recipe name -> `zoo.Recipe`, sorted by name."""
        return dict(sorted(self._items_of("recipes").items()))

    def studies(self) -> dict[str, Study]:
        """Study name -> `zoo.Study`, sorted by name."""
        return dict(sorted(self._items_of("studies").items()))

    def plugin_weights(self) -> dict[str, tuple[dict[str, Any], Path]]:
        """``"model.tag"`` -> (manifest entry, the plugin's manifest file), in registration order.

        The store itself (the same object until `reload`): read it, do not change it.
        """
        return self._items_of("weights")

    def owner(self, kind: str, name: str) -> str | None:
        """The plugin that registered `name` of `kind` ("models", "recipes", "weights", "studies")."""
        self._ensure_loaded()
        return self._owners[kind].get(name)

    def _items_of(self, kind: str) -> dict[str, Any]:
        self._ensure_loaded()
        return self._items[kind]

    def _unknown_message(self, name: str) -> str:
        close = suggest(name, self._specs)
        hint = f"; did you mean {' or '.join(close)}?" if close else ""
        return f"unknown model {name!r}{hint} (`zoo list` shows all {len(self._specs)} models)"

    def names(self) -> list[str]:
        self._ensure_loaded()
        return sorted(self._specs)

    def specs(self) -> list[ModelSpec]:
        return [self._specs[n] for n in self.names()]

    def plugins(self) -> list[PluginRecord]:
        self._ensure_loaded()
        return list(self._plugins)

    def match(self, pattern: str, family: str | None = None) -> list[str]:
        names = [n for n in self.names() if fnmatch.fnmatchcase(n, pattern)]
        if family is not None:
            names = [n for n in names if self._specs[n].family == family]
        return names

    def families(self) -> list[str]:
        return sorted({s.family for s in self.specs()})


_REGISTRY = Registry()


def registry() -> Registry:
    """The process-wide registry."""
    return _REGISTRY


def reload() -> Registry:
    """Forget loaded plugins and load them again on next use (after installing one, in tests)."""
    global _REGISTRY
    _REGISTRY = Registry()
    return _REGISTRY
