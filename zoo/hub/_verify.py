"""Checking weights files against the manifest's sha256 and size, without re-hashing unchanged files.

A file that hashed right is recorded as (size, mtime_ns, inode, sha256) in a JSON sidecar in the zoo
cache dir (``$ZOO_CACHE_DIR`` or the platform cache dir), keyed by its absolute path; while the stat
(taken through symlinks, so a cache link re-pointed at another blob has another inode) still matches,
later loads skip the hash. ``ZOO_REHASH=1`` hashes every time. A file that does
not match is renamed to ``<name>.corrupt`` and refused.
"""

from __future__ import annotations

import hashlib
import json
import os
from functools import lru_cache
from pathlib import Path

from ._errors import ChecksumMismatchError

RECORDS_NAME = "verified-weights.json"
CORRUPT_SUFFIX = ".corrupt"


def zoo_cache_dir() -> Path:
    """``$ZOO_CACHE_DIR``, else the platform's user cache dir for zoo."""
    if os.environ.get("ZOO_CACHE_DIR"):
        return Path(os.environ["ZOO_CACHE_DIR"])
    import platformdirs

    return Path(platformdirs.user_cache_dir("zoo"))


def _records_path() -> Path:
    return zoo_cache_dir() / RECORDS_NAME


@lru_cache(maxsize=4)
def _parse_records(path: str, mtime_ns: int, size: int) -> dict[str, list]:
    # Keyed by the sidecar's stat: parsed once per change, not on every load.
    try:
        records = json.loads(Path(path).read_text())
    except (OSError, ValueError):  # unreadable: it is only a cache of hashes
        return {}
    return records if isinstance(records, dict) else {}


def _read_records() -> dict[str, list]:
    """The recorded hashes (a private copy the caller may change)."""
    path = _records_path()
    try:
        stat = os.stat(path)
    except OSError:
        return {}
    return dict(_parse_records(str(path), stat.st_mtime_ns, stat.st_size))


def _write_records(records: dict[str, list]) -> None:
    path = _records_path()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        # Forget files that are gone, so the sidecar stays as small as the set of weights on disk.
        live = {key: value for key, value in records.items() if os.path.exists(key)}
        tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
        tmp.write_text(json.dumps(live, indent=0, sort_keys=True))
        os.replace(tmp, path)
    except OSError:
        pass  # a read-only cache dir only costs a re-hash next time


def _signature(stat: os.stat_result) -> list:
    return [stat.st_size, stat.st_mtime_ns, stat.st_ino]


def sha256_of(path: str | Path) -> str:
    """The hex sha256 of a file's bytes."""
    with open(path, "rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest()


def move_aside(path: str | Path) -> Path:
    """Rename a bad file out of the way (the real file behind a cache symlink, and drop the link)."""
    link = Path(path)
    real = link.resolve()
    target = real.with_name(real.name + CORRUPT_SUFFIX)
    os.replace(real, target)
    if link.is_symlink():
        link.unlink()  # so that huggingface_hub downloads the file again instead of following a dead link
    return target


def verify_file(path: str | Path, sha256: str, size: int, *, rehash: bool | None = None) -> Path:
    """Check that `path` holds `size` bytes hashing to `sha256`; return it, or move it aside and raise.

    Raises:
        ChecksumMismatchError: the size or hash differ; the file was renamed to ``*.corrupt``.
        FileNotFoundError: there is no such file.
    """
    path = Path(path)
    real = os.path.abspath(path)
    stat = os.stat(real)
    if rehash is None:
        rehash = os.environ.get("ZOO_REHASH", "").lower() in {"1", "true", "yes"}
    records = _read_records()
    if stat.st_size == size and not rehash and records.get(real) == [*_signature(stat), sha256]:
        return path
    actual = sha256_of(real) if stat.st_size == size else None
    if actual != sha256:
        found = f"sha256 {actual}" if actual else f"{stat.st_size} bytes"
        expected = f"sha256 {sha256}" if actual else f"{size} bytes"
        records.pop(real, None)
        try:
            aside = f"moved it to {move_aside(path)}"
        except OSError as error:
            aside = f"could not move it aside ({error}); delete it"
        _write_records(records)
        raise ChecksumMismatchError(
            f"refusing to load {path}: it has {found}, the manifest expects {expected}; {aside} "
            "(the next load fetches a fresh copy, or run `zoo pull`)"
        )
    if records.get(real) != [*_signature(stat), sha256]:
        records[real] = [*_signature(stat), sha256]
        _write_records(records)
    return path
