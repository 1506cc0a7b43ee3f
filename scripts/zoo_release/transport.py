"""Getting finished files back from the GPU machine, a bounded fetch at a time.

The job works in its own folder on the GPU machine (WORK). Whatever brings files back from that
machine may limit one fetch: `send` copies the next files that fit `Limits` into an outbox folder and
records them in a ledger, so later `send`s hand over the rest. The outbox must be emptied by each
fetch (this project's lent machine empties its $OUT before every call; over ssh,
``rsync --remove-source-files``). A file above the job's largest-file size (a single tensor larger
than a shard) travels as numbered parts that `join_parts` puts back together.
"""

from __future__ import annotations

import json
import re
import shutil
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from zoo._files import replacing

FILE_BYTES = 15_000_000  # the largest file the job writes: under the lent machine's 16 MiB a file
LEDGER = "sent.json"
FINISHED = "finished.txt"  # model folders in the order they finished: the order they are sent
EVAL_FILE = "eval.json"
_PART = ".part"
_UNITS = {"": 1, "b": 1, "kb": 10**3, "mb": 10**6, "gb": 10**9, "kib": 2**10, "mib": 2**20, "gib": 2**30}
_SIZE = re.compile(r"\s*(\d+(?:\.\d+)?)\s*([a-z]*)\s*", re.IGNORECASE)


class LimitsError(ValueError):
    """A fetch limit or file size that cannot work; the message names the value and what to do."""


def parse_size(text: str) -> int:
    """Bytes in '15000000', '15MB', '62MiB', '500kB' (decimal and binary units)."""
    match = _SIZE.fullmatch(str(text))
    unit = match and _UNITS.get(match.group(2).lower())
    if not unit:
        raise LimitsError(f"{text!r} is not a size; write e.g. 15000000, 15MB or 62MiB")
    return int(float(match.group(1)) * unit)


@dataclass(frozen=True)
class Limits:
    """What one fetch may bring back from the outbox; 0: no limit.

    The defaults fit this project's lent GPU machine: a call brings back at most 8 files, 64 MiB
    together, less room for a partly copied file's leftovers.
    """

    files: int = 8
    bytes: int = 62 * 2**20

    def __post_init__(self):
        if self.files < 0 or self.bytes < 0:
            raise LimitsError(
                f"fetch limits must be 0 (no limit) or positive, got {self.files} files, {self.bytes} bytes"
            )

    def check_file_size(self, file_bytes: int) -> None:
        """Refuse a largest-file size that a fetch could never bring back (the job would stall)."""
        if self.bytes and file_bytes > self.bytes:
            raise LimitsError(
                f"files of up to {file_bytes} bytes do not fit a fetch of {self.bytes} bytes: "
                f"lower --max-file-bytes to {self.bytes} or less, or raise --max-bytes"
            )

    def fits(self, count: int, size: int) -> bool:
        """Whether `count` files of `size` bytes together are within the limits."""
        return (not self.files or count <= self.files) and (not self.bytes or size <= self.bytes)


@dataclass(frozen=True)
class Sent:
    """What one `send` put into the outbox and what is still to fetch."""

    files: list[str]  # "model/name", in the order sent
    remaining: list[str]
    remaining_bytes: int

    def summary(self) -> str:
        left = (
            f"{len(self.remaining)} file(s), {self.remaining_bytes / 1e6:.1f} MB still to fetch: "
            "fetch the outbox, then run send again"
            if self.remaining
            else "nothing left to fetch"
        )
        return f"sent {len(self.files)} file(s); {left}"


def split_file(path: Path, part_bytes: int = FILE_BYTES) -> list[Path]:
    """Replace `path` by ``<name>.part0``, ``.part1``, ... of at most `part_bytes` each (if it is larger)."""
    if path.stat().st_size <= part_bytes:
        return [path]
    parts = []
    with path.open("rb") as source:
        while chunk := source.read(part_bytes):
            part = path.with_name(f"{path.name}{_PART}{len(parts)}")
            part.write_bytes(chunk)
            parts.append(part)
    path.unlink()
    return parts


def join_parts(folder: Path, name: str, count: int) -> bool:
    """Rebuild `folder/name` from its `count` parts when all arrived; whether the file is there now."""
    target = folder / name
    if target.is_file():
        return True
    parts = [folder / f"{name}{_PART}{i}" for i in range(count)]
    if count < 2 or not all(part.is_file() for part in parts):
        return False
    with replacing(target) as tmp, tmp.open("wb") as out:
        for part in parts:
            out.write(part.read_bytes())
    return True


def mark_finished(work: Path, model: str) -> None:
    """Record that `work/model` holds everything it will hold: its files may now be sent."""
    with (work / FINISHED).open("a") as f:
        f.write(model + "\n")


def finished_models(work: Path) -> list[str]:
    """The models `work` holds finished, in the order they finished."""
    path = work / FINISHED
    return list(dict.fromkeys(path.read_text().split())) if path.is_file() else []


def pending(work: Path) -> list[str]:
    """Files of the finished models, as "model/name": eval.json first, then the small ones, then weights."""
    files = []
    for model in finished_models(work):
        names = [p.name for p in (work / model).iterdir() if p.is_file() and not p.name.startswith(".")]
        names.sort(key=lambda n: (n != EVAL_FILE, "safetensors" in n, n))
        files += [f"{model}/{n}" for n in names]
    return files


def _ledger(work: Path) -> list[str]:
    path = work / LEDGER
    return json.loads(path.read_text()) if path.is_file() else []


def _in_out(out: Path) -> tuple[int, int]:
    files = [p for p in out.rglob("*") if p.is_file()]
    return len(files), sum(p.stat().st_size for p in files)


def send(work: Path, out: Path, again: Sequence[str] = (), limits: Limits = Limits()) -> Sent:
    """Copy the next unsent files of `work` into the outbox `out` (as out/model/name) while they fit
    `limits`, counting what `out` already holds.

    `again`: files to send once more although the ledger has them (a fetch that failed).
    """
    ledger = _ledger(work)
    unknown = [name for name in again if not (work / name).is_file()]
    if unknown:
        raise FileNotFoundError(f"--again: {work} has no {', '.join(unknown)}")
    count, size = _in_out(out)
    wanted = list(again) + [name for name in pending(work) if name not in ledger and name not in again]
    sizes = {name: (work / name).stat().st_size for name in wanted}
    too_big = [f"{name} ({length} bytes)" for name, length in sizes.items() if not limits.fits(1, length)]
    if too_big:  # it would stay "still to fetch" forever
        raise LimitsError(
            f"{', '.join(too_big)} can never fit a fetch of {limits.bytes} bytes: raise --max-bytes, "
            "or run the job again with a smaller --max-file-bytes"
        )
    sent, remaining = [], []
    for name in wanted:
        if not limits.fits(count + 1, size + sizes[name]):
            remaining.append(name)
            continue
        target = out / name
        target.parent.mkdir(parents=True, exist_ok=True)
        with replacing(target) as tmp:  # a copy cut short never has the real name
            shutil.copyfile(work / name, tmp)
        count, size = count + 1, size + sizes[name]
        sent.append(name)
        ledger += [] if name in ledger else [name]
        (work / LEDGER).write_text(json.dumps(ledger))
    return Sent(sent, remaining, sum(sizes[n] for n in remaining))
