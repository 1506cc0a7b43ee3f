"""Reading the files zoo is handed, and checking where it will write, with errors for people.

Every reader here turns what can go wrong with a file a user gives (missing, a directory, not
UTF-8, not JSON, not safetensors, truncated) into one `ZooError` of the caller's class that names
the file, says what was wrong and what to do; none of them lets a traceback out. The writers write
whole or not at all; `write_failures_as` says a failed write (a full disk) the way every zoo command does.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import json
import os
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ._errors import ZooError

if TYPE_CHECKING:
    import torch


# Timestamps move in clock ticks (a few ms; 1-2 s on some file systems): a file changed this recently
# could change again without its ctime moving, so a hash of it is not remembered yet.
RACY_SECONDS = 2.0
DISK_FULL = frozenset({errno.ENOSPC, errno.EDQUOT})  # a full disk, or a full quota: freeing space helps


class OutputPathError(ZooError, ValueError):
    """An output path zoo cannot write to: found before any work is done."""


def zoo_cache_dir() -> Path:
    """``$ZOO_CACHE_DIR``, else the user cache dir for zoo (hash records, data md5s, bench CSVs)."""
    if os.environ.get("ZOO_CACHE_DIR"):
        return Path(os.environ["ZOO_CACHE_DIR"])
    import platformdirs  # only where a cache path is needed

    return Path(platformdirs.user_cache_dir("zoo"))


def sha256_of(path: str | Path) -> str:
    """The hex sha256 of a file's bytes."""
    with open(path, "rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest()


def stat_signature(stat: os.stat_result) -> list[int]:
    """What changes whenever a file's bytes do: no user call can set the ctime back (os.utime cannot)."""
    return [stat.st_size, stat.st_mtime_ns, stat.st_ctime_ns, stat.st_ino, stat.st_dev]


def settled(stat: os.stat_result) -> bool:
    """Whether the file last changed long enough ago that any later change will show in its stat."""
    return time.time_ns() - max(stat.st_ctime_ns, stat.st_mtime_ns) > RACY_SECONDS * 1e9


def fsync_path(path: str | Path) -> None:
    """Flush a file's (or a folder's entries') bytes to disk; folders cannot be fsynced everywhere."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


@contextlib.contextmanager
def replacing(path: str | Path, *, durable: bool = True) -> Iterator[Path]:
    """Write whole, then rename: yields a temporary path beside `path` to write; on success it is
    fsynced (with `durable`) and renamed over `path`, on any failure removed, `path` untouched.

    A reader (another process, a resumed run) never sees half a file under the real name, and a
    crash or a full disk mid-write leaves the previous version in place.
    """
    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        yield tmp
        if durable:
            fsync_path(tmp)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    if durable:
        fsync_path(path.parent)


def write_text_atomic(path: str | Path, text: str, *, durable: bool = True) -> None:
    """Replace `path` by `text` (UTF-8), whole or not at all (see `replacing`)."""
    with replacing(path, durable=durable) as tmp:
        tmp.write_text(text, encoding="utf-8")


def write_json_atomic(path: str | Path, data: Any, *, durable: bool = True, **dumps: Any) -> None:
    """Replace `path` by the JSON of `data` (``dumps`` go to json.dumps), whole or not at all."""
    write_text_atomic(path, json.dumps(data, **dumps) + "\n", durable=durable)


def write_with(path: str | Path, write: Callable[[Path], Any], *, durable: bool = True) -> None:
    """Replace `path` by what ``write(tmp)`` writes (e.g. safetensors' save_file), whole or not at all."""
    with replacing(path, durable=durable) as tmp:
        write(tmp)


def append_text(path: str | Path, text: str) -> None:
    """Append `text` (UTF-8) to `path`, whole or not at all: a write that fails part way (a full disk)
    is cut back off, so a log never ends in half a line. Appends in place: a process writing to the
    file already (a child's output) keeps writing to the same file."""
    data = text.encode("utf-8")
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        start = os.lseek(fd, 0, os.SEEK_END)
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view) :]
        except BaseException:
            os.ftruncate(fd, start)
            raise
    finally:
        os.close(fd)


def write_failure(path: str | Path, reason: str, code: int | None, kept: str) -> str:
    """The one line zoo says when writing `path` failed, then what is kept and what to do:
    ``the disk is full: could not write PATH (No space left on device); KEPT`` (those first words
    only for a full disk or quota)."""
    return f"{'the disk is full: ' if code in DISK_FULL else ''}could not write {path} ({reason}); {kept}"


@contextlib.contextmanager
def write_failures_as(error: type[ZooError], path: str | Path, kept: str) -> Iterator[None]:
    """Raise an OSError from the block (writing `path`) as one `error` in the words of `write_failure`."""
    try:
        yield
    except OSError as failure:
        raise error(write_failure(path, failure.strerror or str(failure), failure.errno, kept)) from None


def _reason(error: BaseException) -> str:
    if isinstance(error, OSError):
        return error.strerror or type(error).__name__
    if isinstance(error, UnicodeDecodeError):
        return f"not UTF-8 text (byte 0x{error.object[error.start]:02x} at offset {error.start})"
    return str(error).splitlines()[0] if str(error) else type(error).__name__


def read_json(path: str | Path, error: type[ZooError], what: str, hint: str = "") -> Any:
    """The JSON document in `path`; any failure is `error` naming the file as `what`, then `hint`."""
    try:
        return json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as failure:
        kind = "not valid JSON" if isinstance(failure, json.JSONDecodeError) else "unreadable"
        raise error(
            f"{path} is {kind} ({_reason(failure)}): it should be {what}{'; ' + hint if hint else ''}"
        ) from None


def read_safetensors(
    path: str | Path, error: type[ZooError], hint: str, *, tensors: bool = True
) -> tuple[dict[str, torch.Tensor], dict[str, str]]:
    """(tensors on the CPU, or {} without `tensors`; header metadata) of a safetensors file.

    A file that is not safetensors, has a huge or truncated header or misses data is `error`
    naming it, followed by `hint` (what to do).
    """
    from safetensors import SafetensorError, safe_open

    try:
        with safe_open(str(path), framework="pt") as f:
            metadata = dict(f.metadata() or {})
            return ({key: f.get_tensor(key) for key in f.keys()} if tensors else {}), metadata
    except (SafetensorError, OSError, ValueError) as failure:
        raise error(
            f"{path} is not a readable safetensors file ({_reason(failure)}): it is truncated, "
            f"corrupted or of another format; {hint}"
        ) from None


def check_output_path(path: str | Path, option: str, *, directory: bool = False) -> Path:
    """Refuse, before any work, an output `path` that cannot be written (a file, or a folder if `directory`).

    The path may not exist yet; its nearest existing ancestor must be a writable folder. Nothing is created.
    """
    path = Path(path)
    if path.exists():
        if directory and not path.is_dir():
            raise OutputPathError(f"{option} {path} is a file, not a folder: give a folder to write into")
        if not directory and path.is_dir():
            raise OutputPathError(f"{option} {path} is a folder: give a file name to write")
        parent = path if directory else path.parent
    else:
        parent = path.parent
        while not parent.exists() and parent != parent.parent:
            parent = parent.parent
        if not parent.is_dir():
            raise OutputPathError(
                f"{option} {path} cannot be created: {parent} is a file, not a folder; give another path"
            )
    if not os.access(parent, os.W_OK | os.X_OK):
        raise OutputPathError(f"{option} {path}: folder {parent} is not writable; give another path")
    return path
