"""weights_manifest.json: which published weights exist for which model, and how to check them.

Schema version 1::

    {
      "schema_version": 1,
      "models": {
        "<model name>": {
          "<weights tag>": { ...entry fields, see docs/weights_manifest.md... }
        }
      }
    }

The first tag listed for a model is its default (as in timm).
"""

from __future__ import annotations

import json
import os
from functools import lru_cache
from pathlib import Path
from typing import Any

SCHEMA_VERSION = 1
MANIFEST_NAME = "weights_manifest.json"


class ManifestError(ValueError):
    """weights_manifest.json is malformed; the message names the entry and field."""


def manifest_path() -> Path:
    """ZOO_MANIFEST if set, else the copy shipped in the package, else the source checkout's."""
    if os.environ.get("ZOO_MANIFEST"):
        return Path(os.environ["ZOO_MANIFEST"])
    here = Path(__file__).resolve().parent
    for candidate in (here / MANIFEST_NAME, here.parent / MANIFEST_NAME):
        if candidate.is_file():
            return candidate
    return here / MANIFEST_NAME


@lru_cache(maxsize=4)
def _load(path: Path, mtime_ns: int) -> dict[str, dict[str, Any]]:
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        return {}
    except json.JSONDecodeError as error:
        raise ManifestError(f"{path}: not valid JSON ({error})") from None
    if not isinstance(data, dict) or data.get("schema_version") != SCHEMA_VERSION:
        raise ManifestError(
            f"{path}: field 'schema_version' is {data.get('schema_version') if isinstance(data, dict) else data!r},"
            f" this zoo reads version {SCHEMA_VERSION}"
        )
    models = data.get("models")
    if not isinstance(models, dict):
        raise ManifestError(f"{path}: field 'models' must be an object of model name -> tags")
    for model, tags in models.items():
        if not isinstance(tags, dict) or not tags:
            raise ManifestError(f"{path}: entry {model!r} must map weights tags to entries")
    return models


def load_manifest() -> dict[str, dict[str, Any]]:
    """Model name -> {tag -> entry}, in file order."""
    path = manifest_path()
    mtime = path.stat().st_mtime_ns if path.is_file() else 0
    return _load(path, mtime)


def weight_tags(model: str) -> list[str]:
    """The published weights tags for `model`, the default first."""
    return list(load_manifest().get(model, {}))
