"""Discovering and loading plugins: the built-in ones and those found through entry points.

Built-in families go through exactly the path third-party plugins take; only where the module
comes from differs (a module path here, the ``zoo`` entry-point group for installed packages).
"""

from __future__ import annotations

import importlib
import importlib.util
import logging
import os
import pkgutil
from collections.abc import Callable
from dataclasses import dataclass, field
from importlib import metadata
from types import ModuleType

import pluggy

from . import hookspecs
from ._errors import ZooError
from ._version import __version__

BUILTIN_PACKAGE = "zoo.plugins"

ENTRY_POINT_GROUP = "zoo"
CONTRIBUTIONS = ("models", "recipes", "weights", "studies")  # zoo_register_<kind> each

_logger = logging.getLogger("zoo")


class PluginError(ZooError, RuntimeError):
    """A plugin could not be loaded (raised instead of a warning when ZOO_STRICT_PLUGINS=1)."""


@dataclass
class PluginRecord:
    """What `zoo plugins` shows about one plugin."""

    name: str
    distribution: str
    version: str
    builtin: bool
    models: list[str] = field(default_factory=list)
    recipes: list[str] = field(default_factory=list)
    weights: list[str] = field(default_factory=list)  # "model.tag"
    studies: list[str] = field(default_factory=list)
    error: str | None = None
    disabled: bool = False

    def contributions(self) -> dict[str, list[str]]:
        """What the plugin registered, by kind (models, recipes, weights, studies)."""
        return {kind: getattr(self, kind) for kind in CONTRIBUTIONS}


@dataclass
class PluginSource:
    name: str
    distribution: str
    version: str
    builtin: bool
    load: Callable[[], ModuleType]


def strict() -> bool:
    """Whether ZOO_STRICT_PLUGINS asks for plugin problems to raise instead of warn."""
    return os.environ.get("ZOO_STRICT_PLUGINS", "").strip().lower() in {"1", "true", "yes"}


def _disabled() -> set[str]:
    return {n.strip() for n in os.environ.get("ZOO_DISABLE_PLUGINS", "").split(",") if n.strip()}


def builtin_plugin_names() -> list[str]:
    """Every module in zoo/plugins/ is a built-in plugin (no list to keep in step).

    Found by path and imported by name, as entry points are: the plugins sit above the whole
    library (they use its public API), so nothing here imports them statically.
    """
    spec = importlib.util.find_spec(BUILTIN_PACKAGE)
    folders = spec.submodule_search_locations if spec else []
    return sorted(f"{BUILTIN_PACKAGE}.{m.name}" for m in pkgutil.iter_modules(folders))


def discover() -> list[PluginSource]:
    """Built-in plugins first (so they win name clashes), then entry points sorted by name."""
    sources = [
        PluginSource(name, "cifar-zoo", __version__, True, lambda n=name: importlib.import_module(n))
        for name in builtin_plugin_names()
    ]
    seen: set[str] = set()
    for ep in sorted(metadata.entry_points(group=ENTRY_POINT_GROUP), key=lambda e: e.name):
        if ep.name in seen:  # the same distribution visible twice on sys.path
            continue
        seen.add(ep.name)
        dist = ep.dist
        sources.append(
            PluginSource(
                ep.name,
                dist.metadata["Name"] if dist else "?",
                dist.version if dist else "?",
                False,
                ep.load,
            )
        )
    return sources


def report_failure(record: PluginRecord, error: BaseException) -> None:
    """Skip a failing plugin with one warning line, or raise under ZOO_STRICT_PLUGINS=1.

    Anything a plugin raises counts, SystemExit included (a plugin calling sys.exit() at import
    must not end zoo); only KeyboardInterrupt goes through.
    """
    if isinstance(error, KeyboardInterrupt):
        raise error
    record.error = f"{type(error).__name__}: {error}"
    for contributed in record.contributions().values():
        contributed.clear()
    who = f"plugin {record.name!r} (distribution {record.distribution} {record.version})"
    if strict():
        raise PluginError(
            f"{who} failed to load: {record.error} (ZOO_STRICT_PLUGINS=1 makes this an error; "
            "unset it to skip the plugin)"
        ) from error
    _logger.warning(
        "%s failed and was skipped: %s (set ZOO_DISABLE_PLUGINS=%s to silence)",
        who,
        record.error,
        record.name,
    )


def load(
    register_plugin: Callable[[PluginRecord, Callable[[str, Callable], None]], None],
) -> list[PluginRecord]:
    """Load every plugin into a fresh PluginManager and hand each to the registry.

    `register_plugin(record, call_hook)` receives each plugin's record and a function
    ``call_hook(kind, register)`` that calls that plugin's ``zoo_register_<kind>`` hook (if it has
    one) with a `register` callback; the registry supplies the callbacks.
    """
    pm = pluggy.PluginManager("zoo")
    pm.add_hookspecs(hookspecs)
    disabled = _disabled()
    records = []
    for source in discover():
        record = PluginRecord(source.name, source.distribution, source.version, source.builtin)
        records.append(record)
        if source.name in disabled:
            record.disabled = True
            continue
        try:
            pm.register(source.load(), name=source.name)
        except BaseException as error:  # a broken plugin must not take the others down
            report_failure(record, error)
            continue

        def call_hook(kind: str, register: Callable, name: str = source.name) -> None:
            for impl in getattr(pm.hook, f"zoo_register_{kind}").get_hookimpls():
                if impl.plugin_name == name:
                    impl.function(register=register)

        register_plugin(record, call_hook)
    return records
