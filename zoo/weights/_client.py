"""Calling huggingface_hub: quietly, failing fast when the Hub cannot be reached, and with its errors
translated into zoo's (one line each: what failed, for which repo/revision/file, and what to do).

On a network failure `hf_hub_download` retries with back-off for some 25 s and logs a warning per
try. zoo asks first with one HEAD of the file, without the client's retries, tried `PROBE_ATTEMPTS`
times: an unreachable Hub is one error line within seconds. The client's own logger is kept at
ERROR while zoo calls it, so its warnings never break zoo's one-line output.
"""

from __future__ import annotations

import contextlib
import logging
import os
import time
from collections.abc import Iterator

from .._errors import ZooError

PROBE_ATTEMPTS = 2
PROBE_TIMEOUT = 5.0  # seconds per attempt
PROBE_PAUSE = 0.5  # seconds between attempts

OFFLINE_HINT = (
    "set HF_HUB_OFFLINE=1 to use the local cache, or ZOO_WEIGHTS_DIR=<dir> holding <repo-name>/<files>"
)
PUSH_OFFLINE_HINT = (
    "check HF_ENDPOINT and the network, or write the files with `zoo push --export DIR` and upload "
    "them later with --from-folder"
)


class HubError(ZooError):
    """Base of every error about published weights: finding, fetching, verifying, loading, publishing."""


class HubRepoNotFoundError(HubError):
    """The Hub has no such repo (or it is private and no valid token was sent)."""


class HubRevisionNotFoundError(HubError):
    """The repo exists but not the pinned revision."""


class HubFileNotFoundError(HubError):
    """The repo and revision exist but not the file."""


class HubUnreachableError(HubError):
    """The Hub endpoint could not be reached (network down, proxy, wrong HF_ENDPOINT)."""


class WeightsNotCachedError(HubError):
    """Offline (HF_HUB_OFFLINE=1) and the weights are neither in the cache nor in ZOO_WEIGHTS_DIR."""


class HubAuthError(HubError):
    """The Hub refused the credentials (HTTP 401/403)."""


_NETWORK_ERRORS = {
    "ConnectError",
    "ConnectTimeout",
    "TimeoutException",
    "NetworkError",
    "ConnectionError",
    "Timeout",
    "ReadTimeout",
    "ProxyError",
    "RemoteProtocolError",
}


_TRUE = {"1", "ON", "YES", "TRUE"}  # what huggingface_hub accepts as true


def offline() -> bool:
    """HF_HUB_OFFLINE as huggingface_hub saw it at import, or as the environment says now."""
    from huggingface_hub import constants

    return bool(constants.HF_HUB_OFFLINE) or os.environ.get("HF_HUB_OFFLINE", "").upper() in _TRUE


def endpoint() -> str:
    from huggingface_hub import constants

    return constants.ENDPOINT


def is_network_error(error: BaseException) -> bool:
    """Whether `error` is a failure to reach the server at all (refused, timed out, no route...)."""
    return any(c.__name__ in _NETWORK_ERRORS for c in type(error).__mro__)


def _status(error: BaseException) -> int | None:
    response = getattr(error, "response", None)
    return getattr(response, "status_code", None)


def translate(
    error: BaseException,
    *,
    repo_id: str,
    revision: str | None = None,
    filename: str | None = None,
    doing: str = "download",
) -> HubError:
    """The zoo.hub error for a huggingface_hub (or network) error raised while `doing` something."""
    from huggingface_hub import errors as hf

    where = repo_id + (f"@{revision[:12]}" if revision else "") + (f":{filename}" if filename else "")
    at = endpoint()
    # Order matters: the not-found errors subclass HfHubHTTPError.
    if isinstance(error, hf.RevisionNotFoundError):
        return HubRevisionNotFoundError(
            f"revision {revision} of {repo_id} not found on {at}: the manifest pins a commit this Hub "
            "does not have; check HF_ENDPOINT, or re-publish with `zoo push` to record a new revision"
        )
    # Older huggingface_hub: no RemoteEntryNotFoundError; LocalEntryNotFoundError is an EntryNotFoundError.
    remote_not_found = tuple(
        getattr(hf, n) for n in ("RemoteEntryNotFoundError", "EntryNotFoundError") if hasattr(hf, n)
    )
    if isinstance(error, remote_not_found) and not isinstance(error, hf.LocalEntryNotFoundError):
        return HubFileNotFoundError(
            f"file {filename} not found in {repo_id} at revision {revision} on {at}: "
            "the manifest lists a file the repo does not hold; re-publish with `zoo push`"
        )
    if isinstance(error, hf.GatedRepoError):
        return HubAuthError(f"{repo_id} on {at} is gated: accept its terms on the Hub, then set HF_TOKEN")
    if isinstance(error, hf.RepositoryNotFoundError):
        return HubRepoNotFoundError(
            f"repo {repo_id} not found on {at} (or it is private): check the repo id "
            "and HF_ENDPOINT, or set HF_TOKEN / pass --token for a private repo"
        )
    if isinstance(error, (hf.LocalEntryNotFoundError, hf.OfflineModeIsEnabled)) and (
        offline() or isinstance(error, hf.OfflineModeIsEnabled)
    ):
        return WeightsNotCachedError(
            f"{where} is not in the local cache and HF_HUB_OFFLINE=1: run `zoo pull` "
            "while online, or set ZOO_WEIGHTS_DIR=<dir> holding <repo-name>/<files>"
        )
    if _status(error) in (401, 403):
        return HubAuthError(
            f"{at} refused the credentials (HTTP {_status(error)}) to {doing} {where}: "
            "check HF_TOKEN / --token and its permissions"
        )
    cause = error.__cause__ or error.__context__
    if isinstance(error, hf.LocalEntryNotFoundError) or is_network_error(error):
        reason = cause if isinstance(error, hf.LocalEntryNotFoundError) and cause is not None else error
        hint = OFFLINE_HINT if doing == "download" else PUSH_OFFLINE_HINT
        return HubUnreachableError(f"cannot reach {at} to {doing} {where} ({type(reason).__name__}); {hint}")
    return HubError(
        f"the Hub at {at} failed to {doing} {where}: {str(error).splitlines()[0] if str(error) else error!r}"
    )


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
