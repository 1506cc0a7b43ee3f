"""The weights manifest file: where it is, reading it whole, and adding an entry.

The schema and its checks are the weights-entry record's (zoo._weights_entry); which manifests
count and how plugins' entries merge is zoo.weights.lookup's.
"""

from __future__ import annotations

import json
import os
from functools import lru_cache
from pathlib import Path
from typing import Any

from .._files import write_text_atomic
from .._weights_entry import (
    MANIFEST_NAME,
    SCHEMA_VERSION,
    read_manifest_file,
    validate_entry,
    validate_manifest,
)

__all__ = ["MANIFEST_NAME", "load_base_manifest", "manifest_path", "read_manifest_file", "write_entry"]


def manifest_path() -> Path:
    """ZOO_MANIFEST if set, else the copy shipped in the package, else the source checkout's."""
    if os.environ.get("ZOO_MANIFEST"):
        return Path(os.environ["ZOO_MANIFEST"])
    return _shipped_manifest_path()


@lru_cache(maxsize=1)
def _shipped_manifest_path() -> Path:
    # Cached: it is looked up on every pretrained load and an installed package does not move.
    package = Path(__file__).resolve().parent.parent  # the wheel ships it in zoo/, a checkout at its root
    for candidate in (package / MANIFEST_NAME, package.parent / MANIFEST_NAME):
        if candidate.is_file():
            return candidate
    return package / MANIFEST_NAME


def load_base_manifest() -> dict[str, dict[str, Any]]:
    """The shipped manifest (or ZOO_MANIFEST's) alone, without plugins' weights."""
    path = manifest_path()
    if not path.exists():
        return {}
    return read_manifest_file(path)


def write_entry(model: str, tag: str, entry: dict[str, Any], path: Path | None = None) -> Path:
    """Add or replace `model.tag` in the manifest (a new tag goes last: the default stays the default)."""
    path = Path(path) if path is not None else manifest_path()
    validate_entry(model, tag, entry, str(path))
    data = (
        json.loads(path.read_text()) if path.is_file() else {"schema_version": SCHEMA_VERSION, "models": {}}
    )
    validate_manifest(data, str(path))  # never rewrite (and so bless) a file that is already broken
    data["models"].setdefault(model, {})[tag] = entry
    write_text_atomic(path, json.dumps(data, indent=2) + "\n")  # a reader never sees half a manifest
    return path
