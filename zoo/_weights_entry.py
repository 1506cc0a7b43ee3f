"""The weights-entry record: the schema of weights_manifest.json (version 1), and its checks.

docs/weights_manifest.md is the reference::

    {
      "schema_version": 1,
      "models": {
        "<model name>": {
          "<weights tag>": {
            "repo_id": "org/name", "revision": "<40-hex commit>",
            "files": [{"name": "model.safetensors", "sha256": "<64 hex>", "size": 250000}],
            "dtype": "float32", "dataset": "cifar10-jpeg", "num_classes": 10, "params": 62006,
            "metrics": {"top1": 76.3, "top1_tta": 77.0, "loss": 0.71, "exact_top1": 77.1},
            "recipe": "...", "epochs": 200, "device": "NVIDIA H100", "date": "2025-06-01",
            "zoo_version": "0.1.0", "grown_from": "resnet18.cifar10-jpeg",
            "recipe_changes": {"batch_size": 256, "lr": 0.05},
            "rehearsal": {"images": 1000, "top1": 78.1}
          }
        }
      }
    }

The first tag listed for a model is its default (as in timm). Any problem raises one
`ManifestError` naming the entry and the field. Reading a manifest file (the shipped one or a
plugin's) validates it; zoo.weights decides which files are read and how they merge.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from functools import lru_cache
from pathlib import Path
from typing import Any

from ._errors import ZooError

SCHEMA_VERSION = 1
MANIFEST_NAME = "weights_manifest.json"
DATASET_IDENTITIES = ("cifar10", "cifar10-jpeg", "mnist")
DTYPES = ("float32", "float16", "bfloat16")
METRICS = ("top1", "top1_tta", "loss", "exact_top1", "top1_tta_translate")
WEIGHTS_ENTRY_FILES = ("model.safetensors", "model.safetensors.index.json")  # what loading starts from

_REPO_ID = re.compile(r"^[A-Za-z0-9][\w.-]*/[A-Za-z0-9][\w.-]*$")
_COMMIT = re.compile(r"^[0-9a-f]{40}$")
_SHA256 = re.compile(r"^[0-9a-f]{64}$")
_TAG = re.compile(r"^[a-z0-9][a-z0-9_-]*$")
_MODEL = re.compile(r"^[a-z][a-z0-9_]*$")
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_FILE_NAME = re.compile(r"^(?!/)(?!.*(^|/)\.\.?(/|$))[\w./-]+$")  # relative, no '.' or '..' parts
_GROWN_FROM = re.compile(r"^[a-z][a-z0-9_]*\.[a-z0-9][a-z0-9_-]*$")


class ManifestError(ZooError, ValueError):
    """weights_manifest.json is malformed; the message names the entry and field."""


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _text(value: Any) -> bool:
    return isinstance(value, str) and bool(value.strip())


def _optional(check: Callable[[Any], bool]) -> Callable[[Any], bool]:
    return lambda value: value is None or check(value)


# field -> (required, check, what a valid value is)
_ENTRY_FIELDS: dict[str, tuple[bool, Callable[[Any], bool], str]] = {
    "repo_id": (True, lambda v: isinstance(v, str) and bool(_REPO_ID.match(v)), "a Hub repo id 'owner/name'"),
    "revision": (
        True,
        _optional(lambda v: isinstance(v, str) and bool(_COMMIT.match(v))),
        "a full 40-hex-digit lower-case commit sha (a pinned revision, not a branch), or null for "
        "weights exported but not yet on the Hub (loadable from ZOO_WEIGHTS_DIR only)",
    ),
    "files": (True, lambda v: isinstance(v, list) and bool(v), "a non-empty list of {name, sha256, size}"),
    "dtype": (True, lambda v: v in DTYPES, f"one of {', '.join(DTYPES)}"),
    "dataset": (True, lambda v: v in DATASET_IDENTITIES, f"one of {', '.join(DATASET_IDENTITIES)}"),
    "num_classes": (
        True,
        lambda v: _is_int(v) and v > 0,
        "a positive int (the classifier size of the weights)",
    ),
    "params": (True, lambda v: _is_int(v) and v > 0, "a positive int"),
    "metrics": (
        True,
        lambda v: isinstance(v, dict),
        f"an object with 'top1' and optionally {', '.join(METRICS[1:])}",
    ),
    "recipe": (False, _optional(_text), "a non-empty string or null"),
    "epochs": (False, _optional(lambda v: _is_int(v) and v >= 0), "a non-negative int or null"),
    "device": (False, _optional(_text), "a non-empty string or null"),
    "date": (True, lambda v: isinstance(v, str) and bool(_DATE.match(v)), "a date 'YYYY-MM-DD'"),
    "zoo_version": (True, _text, "the zoo version string that published the weights"),
    "rehearsal": (
        False,
        _optional(
            lambda v: (
                isinstance(v, dict)
                and set(v) == {"images", "top1"}
                and _is_int(v["images"])
                and v["images"] > 0
                and _is_number(v["top1"])
            )
        ),
        "{'images': N, 'top1': %} measured at export on the seeded random N test images "
        "`zoo eval --limit N` takes (the quick release rehearsal), or null",
    ),
    "recipe_changes": (
        False,
        _optional(
            lambda v: (
                isinstance(v, dict)
                and all(
                    isinstance(k, str) and (v[k] is None or isinstance(v[k], (str, int, float))) for k in v
                )
            )
        ),
        "an object of the hyper-parameters set differently from the named recipe ({'lr': 0.2, ...}), or null",
    ),
    "grown_from": (
        False,
        _optional(lambda v: isinstance(v, str) and bool(_GROWN_FROM.match(v))),
        "'MODEL.TAG' of the weights these were grown from (zoo grow), or null",
    ),
}

_FILE_FIELDS: dict[str, tuple[Callable[[Any], bool], str]] = {
    "name": (lambda v: isinstance(v, str) and bool(_FILE_NAME.match(v)), "a relative path inside the repo"),
    "sha256": (lambda v: isinstance(v, str) and bool(_SHA256.match(v)), "64 lower-case hex digits"),
    "size": (lambda v: _is_int(v) and v >= 0, "a non-negative int (bytes)"),
}


def field_rule(field: str) -> tuple[Callable[[Any], bool], str]:
    """(check, what a valid value is) of an entry field, for callers that vet one value early."""
    _, check, what = _ENTRY_FIELDS[field]
    return check, what


def validate_entry(model: str, tag: str, entry: Any, source: str = MANIFEST_NAME) -> dict[str, Any]:
    """Check one weights entry against the schema; return it, or raise `ManifestError`."""

    def fail(field: str, why: str, value: Any) -> ManifestError:
        return ManifestError(f"{source}: entry '{model}.{tag}': field '{field}' must be {why}, got {value!r}")

    if not _MODEL.match(model):
        raise ManifestError(
            f"{source}: model name {model!r} is not a zoo model name (lower-case, digits, '_')"
        )
    if not _TAG.match(tag):
        raise ManifestError(
            f"{source}: entry '{model}.{tag}': the tag must be lower-case letters, digits, '_', '-'"
        )
    if not isinstance(entry, dict):
        raise ManifestError(f"{source}: entry '{model}.{tag}' must be an object, got {type(entry).__name__}")
    unknown = sorted(set(entry) - set(_ENTRY_FIELDS))
    if unknown:
        raise ManifestError(
            f"{source}: entry '{model}.{tag}': field {unknown[0]!r} is not in the schema "
            f"(fields: {', '.join(_ENTRY_FIELDS)})"
        )
    for field, (required, check, why) in _ENTRY_FIELDS.items():
        if field not in entry:
            if required:
                raise ManifestError(f"{source}: entry '{model}.{tag}': field '{field}' is missing ({why})")
            continue
        if not check(entry[field]):
            raise fail(field, why, entry[field])
    names = []
    for i, item in enumerate(entry["files"]):
        if not isinstance(item, dict) or set(item) != set(_FILE_FIELDS):
            raise fail(f"files[{i}]", "an object with exactly name, sha256, size", item)
        for field, (check, why) in _FILE_FIELDS.items():
            if not check(item[field]):
                raise fail(f"files[{i}].{field}", why, item[field])
        names.append(item["name"])
    if len(set(names)) != len(names):
        raise fail("files", "a list without repeated names", names)
    if not set(names) & set(WEIGHTS_ENTRY_FILES):
        raise fail("files", f"a list holding {' or '.join(WEIGHTS_ENTRY_FILES)}", names)
    metrics = entry["metrics"]
    for key, value in metrics.items():
        if key not in METRICS:
            raise fail(f"metrics.{key}", f"one of the known metrics {', '.join(METRICS)}", key)
        if not _is_number(value):
            raise fail(f"metrics.{key}", "a number", value)
    if "top1" not in metrics:
        raise ManifestError(
            f"{source}: entry '{model}.{tag}': field 'metrics.top1' is missing "
            "(every published weight states its measured top-1)"
        )
    return entry


def validate_manifest(data: Any, source: str = MANIFEST_NAME) -> dict[str, dict[str, Any]]:
    """Check a whole manifest document; return its ``models`` mapping."""
    version = data.get("schema_version") if isinstance(data, dict) else data
    if not isinstance(data, dict) or version != SCHEMA_VERSION:
        raise ManifestError(
            f"{source}: field 'schema_version' is {version!r}, this zoo reads version {SCHEMA_VERSION}"
        )
    unknown = sorted(set(data) - {"schema_version", "models"})
    if unknown:
        raise ManifestError(
            f"{source}: unknown top-level field {unknown[0]!r} (fields: schema_version, models)"
        )
    models = data.get("models")
    if not isinstance(models, dict):
        raise ManifestError(f"{source}: field 'models' must be an object of model name -> tags")
    for model, tags in models.items():
        if not isinstance(tags, dict) or not tags:
            raise ManifestError(f"{source}: entry {model!r} must map weights tags to entries")
        for tag, entry in tags.items():
            validate_entry(model, tag, entry, source)
    return models


@lru_cache(maxsize=8)
def _load(path: Path, mtime_ns: int, size: int) -> dict[str, dict[str, Any]]:
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        return {}
    except json.JSONDecodeError as error:
        raise ManifestError(f"{path}: not valid JSON ({error})") from None
    except (OSError, UnicodeDecodeError) as error:
        raise ManifestError(f"{path}: cannot read the weights manifest ({error})") from None
    return validate_manifest(data, str(path))


def read_manifest_file(path: str | Path) -> dict[str, dict[str, Any]]:
    """A manifest file's validated ``models`` mapping (cached while the file is unchanged)."""
    path = Path(path)
    try:
        stat = path.stat()
    except OSError as error:
        raise ManifestError(f"{path}: cannot read the weights manifest ({error.strerror or error})") from None
    return _load(path, stat.st_mtime_ns, stat.st_size)
