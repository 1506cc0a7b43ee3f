"""The campaign's own files (campaign.log, step logs, ``<step>.failed``, the lock's owner record),
written whole or not at all; a write that fails (a full disk) is one `CampaignWriteError` naming the
file and what is kept, in the words `zoo train` uses (zoo._files.write_failure).
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator
from pathlib import Path

from .._files import append_text, write_failures_as, write_text_atomic
from .plan import CampaignError

logger = logging.getLogger("zoo")

# What a campaign stopped by a failed write leaves: `zoo train` wrote every run folder, never the campaign.
KEPT = "the campaign stopped, its runs as `zoo train` left them: free space, then `zoo campaign run` goes on"
NOT_STARTED = "no campaign was started: free space, then run `zoo campaign run` again"


class CampaignWriteError(CampaignError):
    """A file of the campaign could not be written (a full disk); the line names it. Exit code 1."""

    exit_code = 1


def writing(path: Path, kept: str = KEPT) -> contextlib.AbstractContextManager[None]:
    """An OSError from the block, which writes `path`, raised as a `CampaignWriteError`."""
    return write_failures_as(CampaignWriteError, path, kept)


def append_line(path: Path, line: str) -> None:
    """Append one line to a log, whole or not at all."""
    with writing(path):
        append_text(path, line + "\n")


def replace_text(path: Path, text: str) -> None:
    """Replace `path` by `text`, whole or not at all."""
    with writing(path):
        write_text_atomic(path, text)


@contextlib.contextmanager
def only_warned() -> Iterator[None]:
    """A write (or script) that fails inside the block is a warning: the campaign is stopping for
    another reason already, which this failure must not hide."""
    try:
        yield
    except CampaignError as error:
        logger.warning(str(error))
