"""The model registry: filled from plugins on first use, then read-only.

The registry is the package's only global state. It loads lazily, so `import zoo` stays cheap.
"""

from __future__ import annotations

import dataclasses
import fnmatch
import threading
from collections.abc import Callable

from . import _plugin_manager
from ._errors import ZooError
from ._plugin_manager import PluginRecord
from ._spec import ModelSpec


class UnknownModelError(ZooError, LookupError):
    """No registered model has this name."""


class DuplicateModelError(ZooError, ValueError):
    """Two plugins registered the same model name."""


def split_name(name: str) -> tuple[str, str | None]:
    """Split ``"resnet18.tag"`` into ``("resnet18", "tag")``; no tag gives ``None``."""
    base, sep, tag = name.strip().partition(".")
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


class Registry:
    """Model specs by name and the plugins that contributed them."""

    def __init__(self) -> None:
        self._specs: dict[str, ModelSpec] = {}
        self._plugins: list[PluginRecord] = []
        self._loaded = False
        self._lock = threading.Lock()

    def _ensure_loaded(self) -> None:
        if self._loaded:
            return
        with self._lock:
            if not self._loaded:
                self._plugins = _plugin_manager.load(self._register_plugin_models)
                self._loaded = True

    def _register_plugin_models(self, record: PluginRecord, call_hook: Callable) -> None:
        # A plugin's models are staged and committed together: a plugin that fails half-way
        # leaves no half of itself behind.
        staged: dict[str, ModelSpec] = {}

        def register(spec: ModelSpec) -> None:
            if not isinstance(spec, ModelSpec):
                raise TypeError(f"register() takes a zoo.ModelSpec, got {type(spec).__name__}")
            owner = self._specs.get(spec.name)
            if owner is not None:
                raise DuplicateModelError(
                    f"model {spec.name!r} from plugin {record.name!r} is refused: plugin "
                    f"{owner.plugin!r} registered it first"
                )
            if spec.name in staged:
                raise DuplicateModelError(f"plugin {record.name!r} registers {spec.name!r} twice")
            staged[spec.name] = dataclasses.replace(spec, plugin=record.name)

        try:
            call_hook(register)
        except Exception as error:
            _plugin_manager.report_failure(record, error)
            return
        self._specs.update(staged)
        record.models = sorted(staged)

    def get(self, name: str) -> ModelSpec:
        """The spec for `name` (a weights tag, if any, is ignored here)."""
        self._ensure_loaded()
        base, _ = split_name(name)
        try:
            return self._specs[base]
        except KeyError:
            raise UnknownModelError(self._unknown_message(base)) from None

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
