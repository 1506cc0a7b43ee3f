"""Checking weights files against the manifest's sha256 and size, without re-hashing unchanged files.

A file that hashed right is recorded as (size, mtime_ns, ctime_ns, inode, device, sha256) in a JSON
sidecar in the zoo cache dir (``$ZOO_CACHE_DIR`` or the platform cache dir), keyed by its absolute
path; while the stat (taken through symlinks, so a cache link re-pointed at another blob has another
inode) still matches, later loads skip the hash. The ctime is what makes this sound: any write to
the file sets it to the current time and no user call can set it back (``os.utime`` restores the
mtime, never the ctime). A file changed less than `RACY_SECONDS` before it was hashed is not recorded,
because a change within the same clock tick would leave its ctime as it was (git's "racy clean"
rule); it is hashed again on its next load. ``ZOO_REHASH=1`` hashes every time.

A file that does not match is refused. If it belongs to the huggingface_hub download cache (zoo's
own cache), it is renamed to ``<name>.corrupt`` so the next load downloads it again; any other file
(in ZOO_WEIGHTS_DIR, a plugin's folder, or a symlink leading out of the cache) is left as it is.
"""

from __future__ import annotations

import json
import os
from functools import lru_cache
from pathlib import Path

from .._files import RACY_SECONDS, settled, sha256_of, stat_signature, write_json_atomic, zoo_cache_dir
from ._client import HubError

RECORDS_NAME = "verified-weights.json"
CORRUPT_SUFFIX = ".corrupt"

__all__ = ["RACY_SECONDS", "ChecksumMismatchError", "move_aside", "sha256_of", "verify_file"]


class ChecksumMismatchError(HubError):
    """A weights file does not have the size or sha256 the manifest records; it was moved aside."""


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
        write_json_atomic(path, live, durable=False, indent=0, sort_keys=True)
    except OSError:
        pass  # a read-only cache dir only costs a re-hash next time


def download_cache_dir() -> Path:
    """The huggingface_hub cache, where zoo's downloads live: the only files zoo moves or deletes."""
    from huggingface_hub import constants

    return Path(constants.HF_HUB_CACHE).resolve()


def _inside(path: Path, folder: Path) -> bool:
    return path == folder or folder in path.parents


def move_aside(path: str | Path) -> Path | None:
    """Rename a bad file of zoo's download cache to ``*.corrupt`` (the blob behind a cache link, and
    drop the link); None, touching nothing, for a file outside that cache or a link leading out of it."""
    link = Path(os.path.abspath(path))
    real = link.resolve()
    cache = download_cache_dir()
    if not (_inside(link.parent.resolve(), cache) and _inside(real, cache)):
        return None
    target = real.with_name(real.name + CORRUPT_SUFFIX)
    os.replace(real, target)
    if link.is_symlink():
        link.unlink()  # so that huggingface_hub downloads the file again instead of following a dead link
    return target


def _set_aside(path: Path) -> str:
    """What happened to a refused file and what to do, for the error message."""
    real = path.resolve()
    shown = f"{path} (a link to {real})" if real != Path(os.path.abspath(path)) else str(path)
    try:
        moved = move_aside(path)
    except OSError as error:
        return f"could not move {shown} aside ({error.strerror}): delete it, then load again"
    if moved is None:
        return (
            f"left {shown} untouched (zoo moves only files of its download cache): replace it with "
            "the published file, or remove it to load from the cache or the Hub"
        )
    return f"moved it to {moved} (the next load fetches a fresh copy, or run `zoo pull`)"


def verify_file(path: str | Path, sha256: str, size: int, *, rehash: bool | None = None) -> Path:
    """Check that `path` holds `size` bytes hashing to `sha256`; return it, or move it aside and raise.

    Raises:
        ChecksumMismatchError: the size or hash differ; a file of the download cache was renamed to
            ``*.corrupt`` (see `move_aside`), any other file is left alone.
        FileNotFoundError: there is no such file.
    """
    path = Path(path)
    real = os.path.abspath(path)
    stat = os.stat(real)
    if rehash is None:
        rehash = os.environ.get("ZOO_REHASH", "").lower() in {"1", "true", "yes"}
    records = _read_records()
    if stat.st_size == size and not rehash and records.get(real) == [*stat_signature(stat), sha256]:
        return path
    actual = sha256_of(real) if stat.st_size == size else None
    if actual != sha256:
        found = f"sha256 {actual}" if actual else f"{stat.st_size} bytes"
        expected = f"sha256 {sha256}" if actual else f"{size} bytes"
        records.pop(real, None)
        aside = _set_aside(path)
        _write_records(records)
        raise ChecksumMismatchError(
            f"refusing to load {path}: it has {found}, the manifest expects {expected}; {aside}"
        )
    if settled(stat) and records.get(real) != [*stat_signature(stat), sha256]:
        records[real] = [*stat_signature(stat), sha256]
        _write_records(records)
    return path
