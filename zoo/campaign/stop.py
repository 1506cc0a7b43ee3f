"""`zoo campaign stop`: end the background campaign the way a session's end does, and wait for it.

The campaign process turns SIGTERM into the Ctrl-C its `zoo train` handles: the run saves a
checkpoint where it stands (mid-epoch), campaign.log records the stop, and the next `run` resumes.
Stopping on purpose frees the CPU for something else (a test suite, an export) without losing work.
"""

from __future__ import annotations

import os
import signal
import socket
import time
from dataclasses import dataclass
from pathlib import Path

from .lock import owner
from .plan import CampaignError
from .runs import CampaignDir, campaign_dir


@dataclass(frozen=True)
class Stopped:
    """A stopped campaign process: its pid, whether it ended within the wait, and its log."""

    pid: int
    ended: bool
    log: Path


def stop(*, timeout_s: float = 300.0, poll_s: float = 0.5) -> Stopped | None:
    """SIGTERM the campaign process of the campaign dir and wait (up to `timeout_s`) until it has
    ended, its step's checkpoint saved; None when no campaign process is alive."""
    folder = CampaignDir(campaign_dir())
    held = owner(folder.lock)
    if held is None:
        return None
    pid = int(held["pid"])
    if held.get("host", socket.gethostname()) != socket.gethostname():
        raise CampaignError(
            f"the campaign in {folder.root} runs on host {held['host']} (pid {pid}): stop it there"
        )
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        return Stopped(pid, True, folder.log)
    deadline = time.monotonic() + timeout_s
    while (owner(folder.lock) is not None or _alive(pid)) and time.monotonic() < deadline:
        time.sleep(poll_s)  # the lock goes first, then the process: the CPU is free once both are
    return Stopped(pid, owner(folder.lock) is None and not _alive(pid), folder.log)


def _alive(pid: int) -> bool:
    try:
        if os.waitpid(pid, os.WNOHANG)[0] == pid:  # a child of this process (a library caller's)
            return False
    except ChildProcessError:  # not ours: the usual case, a campaign started by an earlier `run`
        pass
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
