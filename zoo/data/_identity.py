"""Which data a directory holds: file md5s (cached on disk), matched against known releases.

Hashing the 176 MB of CIFAR-10 costs about half a second on a warm page cache (measured: 0.46 s for
184 MB), more from a cold disk, which would dominate loading the 30 MB test split. So md5s are cached
in a small JSON file keyed by (resolved path, size, mtime_ns): any rewrite of a file changes its
size or mtime and forces a fresh hash. A cache that cannot be read or written is simply not used.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from collections.abc import Mapping
from pathlib import Path

from .._files import write_json_atomic, zoo_cache_dir


def cache_file() -> Path:
    """Where md5s are remembered: ``md5-cache.json`` in zoo's cache (``$ZOO_CACHE_DIR`` or the user cache)."""
    return zoo_cache_dir() / "md5-cache.json"


def warned_file() -> Path:
    """Where the directories already warned about (and as what identity) are remembered."""
    return zoo_cache_dir() / "data-warnings.json"


def _read_cache(path: Path) -> dict[str, list]:
    try:
        entries = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    return entries if isinstance(entries, dict) else {}


def _write_cache(path: Path, entries: dict[str, list]) -> None:
    # Write-then-rename so concurrent processes (DDP ranks) never read a half-written file;
    # a lost update only means a later process hashes again.
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        write_json_atomic(path, entries, durable=False, indent=0, sort_keys=True)
    except OSError:
        pass


def _hash_file(path: Path) -> str:
    digest = hashlib.md5(usedforsecurity=False)
    with open(path, "rb") as f:
        while chunk := f.read(1 << 22):
            digest.update(chunk)
    return digest.hexdigest()


def file_md5s(paths: Mapping[str, Path], contents: Mapping[str, bytes] | None = None) -> dict[str, str]:
    """The md5 of each file in `paths` (name -> path), from the cache where its size and mtime match.

    `contents` may hold bytes already read for some names, to hash those without reading them again.
    """
    contents = contents or {}
    store = cache_file()
    entries = _read_cache(store)
    md5s, changed = {}, False
    for name, path in paths.items():
        stat = path.stat()
        key = str(path.resolve())
        entry = entries.get(key)
        if isinstance(entry, list) and entry[:2] == [stat.st_size, stat.st_mtime_ns]:
            md5s[name] = entry[2]
            continue
        data = contents.get(name)
        md5s[name] = (
            hashlib.md5(data, usedforsecurity=False).hexdigest() if data is not None else _hash_file(path)
        )
        entries[key] = [stat.st_size, stat.st_mtime_ns, md5s[name]]
        changed = True
    if changed:
        _write_cache(store, entries)
    return md5s


def identify(md5s: Mapping[str, str], known: Mapping[str, Mapping[str, str]], family: str) -> str:
    """The first identity in `known` (identity -> {file name: md5}) that every file matches, else
    ``"<family>-custom-<first 8 hex of an md5 over the sorted name/md5 pairs>"``."""
    for identity, release in known.items():
        if all(release.get(name) == md5 for name, md5 in md5s.items()):
            return identity
    combined = "".join(f"{name} {md5}\n" for name, md5 in sorted(md5s.items()))
    return f"{family}-custom-{hashlib.md5(combined.encode(), usedforsecurity=False).hexdigest()[:8]}"


def warn_if_unofficial(path: Path, official: str, identity: str, note: str = "") -> None:
    """Warn that `path` holds files other than the official release: once per directory and identity
    (remembered in zoo's cache), never with ``ZOO_QUIET_DATA_WARNING=1``."""
    if identity == official or os.environ.get("ZOO_QUIET_DATA_WARNING", "").strip().lower() in _TRUE:
        return
    store = warned_file()
    warned = _read_cache(store)
    key = str(Path(path).resolve())
    if warned.get(key) == identity:
        return
    logging.getLogger("zoo").warning(
        "%s: files differ from the official %s release (md5s do not match); loaded as identity %r%s "
        "(said once per directory; ZOO_QUIET_DATA_WARNING=1 silences it)",
        path,
        official,
        identity,
        note,
    )
    warned[key] = identity
    _write_cache(store, warned)


_TRUE = {"1", "true", "yes"}
