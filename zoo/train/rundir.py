"""One run per run directory: `claim_run_dir` takes ``OUT/.zoo-train.lock`` for the length of a run.

The lock is an exclusive ``flock`` on the lock file, which holds the owner's pid and host. The
kernel drops the lock when its owner exits, however it exits, so a lock file left by a killed run
is stale and simply taken over; a live owner's lock refuses the second run with one line naming
its pid. Creating the lock file is also the first write into --out: an unwritable --out is refused
here, before any data is loaded.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from .._errors import ZooError
from .._files import read_json, write_failure
from ..checkpoint import CHECKPOINT_DIR, STATE_JSON, WriteFailedError, recover

logger = logging.getLogger("zoo")

try:
    import fcntl
except ImportError:  # Windows: no flock; a run directory is not protected there
    fcntl = None


CONFIG_FILE = "config.json"  # the resolved configuration, written first: a run to resume
LOCK_FILE = ".zoo-train.lock"  # the run directory's owner
_RESUME_HINT = "resume needs the files zoo wrote; start a new run with another --out"


class OutputDirError(ZooError, ValueError):
    """--out cannot be used as asked (not empty without --resume, nothing to resume, ...)."""


def resume_command(out: Path, model: str | None) -> str:
    return f"`zoo train {model or 'MODEL'} --out {out} --resume`"


def saved_config(out: Path) -> dict[str, Any]:
    """The configuration of the run in `out`, for --resume."""
    path = out / CONFIG_FILE
    if not path.is_file():
        raise OutputDirError(f"--resume: nothing to resume in {out} (no {CONFIG_FILE}); run without --resume")
    saved = read_json(path, OutputDirError, "the run config zoo writes", _RESUME_HINT)
    if not isinstance(saved, dict) or not isinstance(saved.get("config"), dict):
        raise OutputDirError(f"--resume: {path} is not a zoo run config (no 'config' object)")
    return saved["config"]


def check_fresh_out(out: Path) -> None:
    """A new run needs an empty (or absent) --out (the lock of a run claiming it aside)."""
    if out.exists() and not out.is_dir():
        raise OutputDirError(f"--out {out} is a file; give a directory")
    if out.is_dir() and any(p.name != LOCK_FILE for p in out.iterdir()):
        raise OutputDirError(
            f"--out {out} already holds files from a previous run; pass --resume to continue it, "
            f"or choose another --out"
        )


class RunWriteError(ZooError):
    """A file of the run could not be written (a full disk, say); the message names it and says what
    the last complete checkpoint holds and how to resume. Exit code 1."""

    exit_code = 1


class TrainingInterrupted(ZooError):
    """Ctrl-C during a run: the message says what was saved and how to resume. Exit code 130."""

    exit_code = 130


def _owner(path: Path) -> str:
    try:
        owner = json.loads(path.read_text())
        return f"pid {owner['pid']} on {owner['host']}"
    except (OSError, ValueError, KeyError, TypeError):
        return "another process"


def _open_locked(lock: Path) -> int:
    """A descriptor of `lock` holding its exclusive flock (the file may have been replaced meanwhile)."""
    while True:
        fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise OutputDirError(
                f"--out {lock.parent} is in use by another `zoo train` ({_owner(lock)}): wait for it "
                "to finish, or choose another --out"
            ) from None
        # The previous owner unlinks the file when it finishes: make sure ours is still the one there.
        try:
            if os.stat(lock).st_ino == os.fstat(fd).st_ino:
                return fd
        except FileNotFoundError:
            pass
        os.close(fd)


@contextlib.contextmanager
def claim_run_dir(out: Path, *, enabled: bool = True) -> Iterator[None]:
    """Hold --out for this run (see the module doc); `enabled` False (DDP ranks but 0) does nothing."""
    if not enabled or fcntl is None:
        yield
        return
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise OutputDirError(f"--out {out} is a file; give a directory")
    created = [p for p in (out, *out.parents) if not p.exists()]  # deepest first
    lock = out / LOCK_FILE
    try:
        out.mkdir(parents=True, exist_ok=True)
        fd = _open_locked(lock)
    except OSError as error:
        _remove_empty(created)
        raise OutputDirError(
            f"--out {out} is not writable ({error.strerror or error}): choose another --out"
        ) from None
    try:
        stale = os.fstat(fd).st_size > 0
        if stale:
            logger.info("taking over %s from a run that ended without releasing it (%s)", lock, _owner(lock))
        os.ftruncate(fd, 0)
        os.write(fd, json.dumps({"pid": os.getpid(), "host": socket.gethostname()}).encode())
        yield
    finally:
        with contextlib.suppress(OSError):
            lock.unlink()
        os.close(fd)
        _remove_empty(created)


def _remove_empty(folders: list[Path]) -> None:
    """Remove the folders a claim created, deepest first, as long as the run left them empty."""
    with contextlib.suppress(OSError):  # a folder the run wrote into is not empty: it stays
        for folder in folders:
            folder.rmdir()


def checkpoint_position(out: Path) -> tuple[str, str] | None:
    """(what OUT/checkpoint holds, where a resume continues), e.g. ``("epoch 2, step 12 (batch 4 of
    8)", "epoch 2, step 13 (batch 5 of 8)")``; None when there is no complete checkpoint."""
    try:
        info = json.loads((out / CHECKPOINT_DIR / STATE_JSON).read_text())
        epoch, step, partial = info["epoch"], info.get("global_step", 0), info.get("partial_epoch")
        if partial:
            done, batches, current = partial["batches_done"], partial["batches"], partial["epoch"]
            return (
                f"epoch {current}, step {step} (batch {done} of {batches})",
                f"epoch {current}, step {step + 1} (batch {done + 1} of {batches})",
            )
        epochs = info.get("config", {}).get("recipe", {}).get("epochs")
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return None
    if epoch == epochs:  # trained through: a resume only writes the plots and the result
        return f"epoch {epoch}, step {step} (the last)", "the run's end (its plots and result.json)"
    return f"epoch {epoch}, step {step} (the end of the epoch)", f"epoch {epoch + 1}, step {step + 1}"


def kept_checkpoint(out: Path) -> str:
    """What a run that stopped on a bad loss leaves to go on from, and advice."""
    advice = "a lower --lr (in a new run: another --out) usually helps"
    position = checkpoint_position(out)
    if position is None:
        return f"No checkpoint was written; {advice}"
    return f"{out / CHECKPOINT_DIR} still holds {position[0]}; {advice}"


def what_was_saved(out: Path, model: str, fix: str | None = None) -> str:
    """What `out` holds to go on from and the command that goes on, to do after `fix` (e.g. "free
    space") when something must be fixed first."""
    then, resume = f"{fix}, then " if fix else "", resume_command(out, model)
    if not (out / CONFIG_FILE).is_file():
        return f"nothing was saved yet: {then}run the same command again"
    recover(out)  # what a resume would find
    position = checkpoint_position(out)
    if position is None:
        return f"no checkpoint was saved yet: {then}{resume} starts it over"
    holds = "still holds" if fix else "holds"
    return f"{out / CHECKPOINT_DIR} {holds} {position[0]}; {then}{resume} continues at {position[1]}"


@contextlib.contextmanager
def interrupt_as_error(out: Path, model: str, *, enabled: bool = True) -> Iterator[None]:
    """Turn Ctrl-C during a run into `TrainingInterrupted`: what was saved, how to resume."""
    try:
        yield
    except KeyboardInterrupt:
        if not enabled:
            raise
        saved = what_was_saved(Path(out), model.partition(".")[0])
        raise TrainingInterrupted(f"interrupted: {saved}") from None


@contextlib.contextmanager
def write_failures_as_error(out: Path, model: str) -> Iterator[None]:
    """Turn a file the run could not write (checkpoint, best/, metrics, plots, config.json, result.json)
    into one `RunWriteError`: which file, why, what the last complete checkpoint holds, how to resume."""
    try:
        yield
    except WriteFailedError as error:
        fix = "free space" if error.disk_full else "fix the cause"
        saved = what_was_saved(Path(out), model.partition(".")[0], fix)
        raise RunWriteError(write_failure(error.path, error.reason, error.errno, saved)) from None
