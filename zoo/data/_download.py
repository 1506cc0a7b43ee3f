"""Downloads through torchvision's utilities, staged so a data directory never holds a partial file.

Each download lands in a private ``.download-*`` folder inside the target directory and is moved
into place only after its md5 checked out, so an interrupted download, a tampered mirror or two
DDP ranks downloading at once never leave a truncated or wrong file under the real name.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from urllib.error import URLError

from .array_dataset import DatasetError

# Said after a failed download: on a machine without network the data must come from a folder.
OFFLINE_HINT = (
    "without network, point --data-dir (data_dir, ZOO_DATA_DIR) at a directory that already holds the "
    "data set (cifar-10-batches-py/ or MNIST/raw/ inside it)"
)
DOWNLOAD_HINT = (
    "pass --download (download=True) to download the official release into it, or point --data-dir "
    "(data_dir, ZOO_DATA_DIR) at a directory that holds it"
)


@contextmanager
def staging_dir(parent: Path) -> Iterator[Path]:
    """A fresh folder inside `parent` (same file system, so moves out of it are atomic), removed after."""
    try:
        parent.mkdir(parents=True, exist_ok=True)
        path = Path(tempfile.mkdtemp(prefix=".download-", dir=parent))
    except OSError as error:
        raise DatasetError(f"cannot download into {parent}: {error}") from error
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def fetch(urls: Sequence[str], staging: Path, filename: str, md5: str, *, extract: bool = False) -> Path:
    """Download `filename` from the first of `urls` that serves it with the right `md5` into `staging`.

    With `extract`, the archive is also unpacked into `staging`. Raises `DatasetError` listing every
    URL tried and what went wrong with it.
    """
    from torchvision.datasets.utils import download_and_extract_archive, download_url

    failures = []
    for url in urls:
        try:
            if extract:
                download_and_extract_archive(url, download_root=str(staging), filename=filename, md5=md5)
            else:
                download_url(url, str(staging), filename=filename, md5=md5)
            return staging / filename
        except RuntimeError as error:
            # torchvision says "File not found or corrupted." when the md5 does not match.
            failures.append(f"{url}: md5 mismatch or unreadable download ({error}), expected md5 {md5}")
        except (URLError, OSError, ValueError) as error:
            failures.append(f"{url}: {error}")
        (staging / filename).unlink(missing_ok=True)
    raise DatasetError(
        f"could not download {filename} into {staging.parent}: " + "; ".join(failures) + f"; {OFFLINE_HINT}"
    )


def move_into_place(source: Path, target: Path) -> None:
    """Move a verified file or folder to `target`; if another process got there first, keep theirs."""
    try:
        # os.rename refuses to replace a non-empty folder, which is what we want when a rank won the race.
        os.rename(source, target)
    except OSError:
        if not target.exists():
            raise
