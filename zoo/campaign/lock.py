"""One campaign process per campaign dir (an fcntl lock), and who holds a lock, without taking it.

The lock is an exclusive ``flock`` on ``campaign.lock``, whose content names the owner (pid, host,
log). The kernel drops it when the owner exits, however it exits. `owner` reads the content and
checks that the pid is alive instead of probing the flock: a probe would hold the lock for an
instant, and a `zoo train` or `zoo campaign run` starting in that instant would be refused.
"""

from __future__ import annotations

import json
import os
import socket
from pathlib import Path
from typing import Any

from .files import NOT_STARTED, writing
from .plan import CampaignError

try:
    import fcntl
except ImportError:  # Windows has no flock: campaigns need a POSIX system
    fcntl = None


def owner(lock: Path) -> dict[str, Any] | None:
    """The live process a lock file names ({"pid", "host", ...}), or None (no file, empty, dead pid)."""
    try:
        held = json.loads(lock.read_text())
        pid = int(held["pid"])
    except (OSError, ValueError, KeyError, TypeError):
        return None
    if held.get("host", socket.gethostname()) != socket.gethostname():
        return held  # another machine's process: it cannot be checked from here, so it counts as alive
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return None
    except PermissionError:  # alive, owned by another user
        pass
    return held


class CampaignLock:
    """The exclusive lock on ``DIR/campaign.lock`` (see the module doc); `release` ends it."""

    def __init__(self, path: Path, fd: int) -> None:
        self.path, self.fd = path, fd

    @classmethod
    def acquire(cls, path: Path, log: Path) -> CampaignLock:
        """Take the lock, or raise a CampaignError naming the pid and log of the campaign holding it."""
        if fcntl is None:
            raise CampaignError("zoo campaign needs a POSIX system (fcntl locks)")
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as error:
            raise CampaignError(f"cannot create {path} ({error.strerror or error})") from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            held = owner(path) or {}
            raise CampaignError(
                f"a campaign is already running in {path.parent} (pid {held.get('pid', '?')}, log "
                f"{held.get('log', path.parent / 'campaign.log')}): watch it with `zoo campaign status`"
            ) from None
        lock = cls(path, fd)
        try:
            with writing(path, NOT_STARTED):
                lock.write(os.getpid(), log)
        except BaseException:
            lock.release()
            raise
        return lock

    @classmethod
    def inherit(cls, path: Path, fd: int) -> CampaignLock:
        """The lock a parent `zoo campaign run` took and passed down as descriptor `fd`."""
        try:
            same = os.fstat(fd).st_ino == os.stat(path).st_ino
        except OSError:
            same = False
        if not same:
            raise CampaignError(f"descriptor {fd} is not the lock {path}: start with `zoo campaign run`")
        return cls(path, fd)

    def write(self, pid: int, log: Path) -> None:
        """Name the owner: `pid` (the background process once it is started) and its log.

        Written over the record before it, then cut to length: renaming the owner (the background
        process) reuses the bytes the first record took, so it needs no new space on a full disk."""
        record = json.dumps({"pid": pid, "host": socket.gethostname(), "log": str(log)}).encode()
        os.pwrite(self.fd, record, 0)
        os.ftruncate(self.fd, len(record))

    def release(self) -> None:
        """Empty the file (it names no owner now) and drop the lock."""
        try:
            os.ftruncate(self.fd, 0)
        finally:
            os.close(self.fd)

    def close(self) -> None:
        """Close this process's descriptor only: a child that inherited the lock keeps holding it."""
        os.close(self.fd)
