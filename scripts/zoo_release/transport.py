"""Getting finished files back from the device machine within the device tool's per-call limits.

A call brings back at most 8 files of at most 16 MiB, 64 MiB together, from $OUT, which is emptied
before every call. The job works in its own folder on the machine (it outlives a call while the
machine stays warm) and `send` copies the next files that fit into $OUT, recording them in a
ledger, so the calls after the job fetch the rest. A file above `PART_BYTES` (a single tensor larger
than a shard) travels as numbered parts that `join_parts` puts back together.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from zoo._files import replacing

MAX_FILES = 8
MAX_BYTES = 62 * 2**20  # 64 MiB less room for a partly copied file's leftovers
PART_BYTES = 15_000_000  # under the 16 MiB a file may have
LEDGER = "sent.json"
FINISHED = "finished.txt"  # model folders in the order they finished: the order they are sent
EVAL_FILE = "eval.json"
_PART = ".part"


@dataclass(frozen=True)
class Sent:
    """What one `send` put into $OUT and what is still to fetch."""

    files: list[str]  # "model/name", in the order sent
    remaining: list[str]
    remaining_bytes: int

    def summary(self) -> str:
        left = (
            f"{len(self.remaining)} file(s), {self.remaining_bytes / 1e6:.1f} MB still to fetch: "
            "run --send again"
            if self.remaining
            else "nothing left to fetch"
        )
        return f"sent {len(self.files)} file(s); {left}"


def split_file(path: Path, part_bytes: int = PART_BYTES) -> list[Path]:
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


def pending(work: Path) -> list[str]:
    """Files of the finished models, as "model/name": eval.json first, then the small ones, then weights."""
    finished = (work / FINISHED).read_text().split() if (work / FINISHED).is_file() else []
    files = []
    for model in dict.fromkeys(finished):
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


def send(
    work: Path,
    out: Path,
    again: Sequence[str] = (),
    *,
    max_files: int = MAX_FILES,
    max_bytes: int = MAX_BYTES,
) -> Sent:
    """Copy the next unsent files of `work` into `out` (as out/model/name) while they fit the limits.

    `again`: files to send once more although the ledger has them (a call whose transfer failed).
    """
    ledger = _ledger(work)
    unknown = [name for name in again if not (work / name).is_file()]
    if unknown:
        raise FileNotFoundError(f"--again: {work} has no {', '.join(unknown)}")
    count, size = _in_out(out)
    wanted = list(again) + [name for name in pending(work) if name not in ledger and name not in again]
    sent, remaining = [], []
    for name in wanted:
        length = (work / name).stat().st_size
        if count >= max_files or size + length > max_bytes:
            remaining.append(name)
            continue
        target = out / name
        target.parent.mkdir(parents=True, exist_ok=True)
        with replacing(target) as tmp:  # a copy cut short never has the real name
            shutil.copyfile(work / name, tmp)
        count, size = count + 1, size + length
        sent.append(name)
        ledger += [] if name in ledger else [name]
        (work / LEDGER).write_text(json.dumps(ledger))
    return Sent(sent, remaining, sum((work / n).stat().st_size for n in remaining))
