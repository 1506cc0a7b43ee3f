"""Disks to fill, for the tests of what zoo does when the disk is full (test_adversarial_train.py,
test_adversarial_disk.py): a small tmpfs filled for real, or an injected ENOSPC. A test module imports
the fixtures it uses (`small_disk_fixture`, `disk_fixture`); tests ask for them as `small_disk`, `disk`."""

from __future__ import annotations

import errno
import gc
import os
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest


@pytest.fixture(name="small_disk")
def small_disk_fixture(tmp_path) -> Path:
    """A 3 MiB tmpfs to fill (mounting needs root with CAP_SYS_ADMIN; skipped elsewhere)."""
    disk = tmp_path / "disk"
    disk.mkdir()
    mount = ["mount", "-t", "tmpfs", "-o", "size=3m", "tmpfs", str(disk)]
    try:
        done = subprocess.run(mount, capture_output=True, text=True)
    except FileNotFoundError:
        pytest.skip("no mount command: cannot make a small disk to fill")
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs to fill ({done.stderr.strip()}): needs root with CAP_SYS_ADMIN")
    yield disk
    gc.collect()  # tensors read from the disk's files map them until collected: the disk would be busy
    if subprocess.run(["umount", str(disk)]).returncode:
        subprocess.run(["umount", "--lazy", str(disk)], check=True)


def fill(disk: Path) -> None:
    """Fill `disk` to the last byte with a ballast file."""
    with open(disk / "ballast", "ab", buffering=0) as ballast:
        for chunk in (1 << 16, 1 << 12, 1):
            try:
                while True:
                    ballast.write(b"\0" * chunk)
            except OSError as error:
                assert error.errno == errno.ENOSPC


@dataclass
class Disk:
    """The folder a case writes to, and how it fills: an injected ENOSPC, or a tmpfs filled for real."""

    path: Path
    injected: bool
    monkeypatch: pytest.MonkeyPatch

    def full_from(self, owner: object, name: str, call: int = 1) -> None:
        """The disk is full from the `call`-th call of ``owner.name`` on."""
        real, calls = getattr(owner, name), []

        def full(*args, **kwargs):
            calls.append(1)
            if len(calls) >= call and self.injected:
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
            if len(calls) == call:
                fill(self.path)
            return real(*args, **kwargs)

        self.monkeypatch.setattr(owner, name, full)


@pytest.fixture(name="disk", params=["injected", "tmpfs"])
def disk_fixture(request, tmp_path, monkeypatch) -> Disk:
    if request.param == "tmpfs":
        return Disk(request.getfixturevalue("small_disk"), False, monkeypatch)
    (tmp_path / "disk").mkdir()
    return Disk(tmp_path / "disk", True, monkeypatch)
