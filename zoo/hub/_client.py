"""Calling huggingface_hub quietly, and failing fast when the Hub cannot be reached.

On a network failure `hf_hub_download` retries with back-off for some 25 s and logs a warning per
try. zoo asks first with one HEAD of the file, without the client's retries, tried `PROBE_ATTEMPTS`
times: an unreachable Hub is one error line within seconds. The client's own logger is kept at
ERROR while zoo calls it, so its warnings never break zoo's one-line output.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Iterator

from ._errors import is_network_error

PROBE_ATTEMPTS = 2
PROBE_TIMEOUT = 5.0  # seconds per attempt
PROBE_PAUSE = 0.5  # seconds between attempts


@contextlib.contextmanager
def quiet_client() -> Iterator[None]:
    """huggingface_hub's warnings ("Retrying in 1s ...") off while zoo calls it: zoo reports the outcome."""
    hf_logger = logging.getLogger("huggingface_hub")
    level = hf_logger.level
    hf_logger.setLevel(logging.ERROR)
    try:
        yield
    finally:
        hf_logger.setLevel(level)


def probe(repo_id: str, filename: str, revision: str, token: str | bool | None) -> None:
    """Raise what huggingface_hub raises for a HEAD of the file (a network failure after
    `PROBE_ATTEMPTS` quick tries; a missing repo, revision or file at once)."""
    from huggingface_hub import get_hf_file_metadata, hf_hub_url

    url = hf_hub_url(repo_id, filename, revision=revision)
    for attempt in range(1, PROBE_ATTEMPTS + 1):
        try:
            get_hf_file_metadata(url, token=token, timeout=PROBE_TIMEOUT)
            return
        except Exception as error:
            if attempt == PROBE_ATTEMPTS or not is_network_error(error):
                raise
        time.sleep(PROBE_PAUSE)
