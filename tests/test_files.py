"""zoo._files' writers: a write that fails leaves the previous file as it was (whole-then-rename, or an
append cut back), and says so in the words every zoo command uses."""

from __future__ import annotations

import errno
import os

import pytest

from zoo._files import append_text, replacing, write_failure, write_json_atomic, write_text_atomic


def test_a_failed_write_leaves_the_old_file_and_no_temporary(tmp_path):
    path = tmp_path / "state.json"
    write_json_atomic(path, {"epoch": 1})
    with pytest.raises(OSError, match="disk full"):
        with replacing(path) as tmp:
            tmp.write_text('{"epoch": 2, "trunc')
            raise OSError(28, "disk full")
    assert path.read_text() == '{"epoch": 1}\n'
    assert sorted(p.name for p in tmp_path.iterdir()) == ["state.json"]


def test_a_finished_write_replaces_the_file_whole(tmp_path):
    path = tmp_path / "notes.txt"
    write_text_atomic(path, "old")
    with replacing(path) as tmp:
        assert tmp.parent == path.parent and tmp != path  # beside it: the rename stays on one file system
        tmp.write_text("new")
        assert path.read_text() == "old"  # nobody sees the new text before it is complete
    assert path.read_text() == "new"


def test_an_append_that_fails_part_way_is_cut_back(tmp_path, monkeypatch):
    log = tmp_path / "campaign.log"
    log.write_text("one\n")
    real = os.write

    def half_then_full(fd, data):  # the disk takes two bytes, then is full
        if len(data) > 2:
            return real(fd, bytes(data[:2]))
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    with monkeypatch.context() as patched:
        patched.setattr(os, "write", half_then_full)
        with pytest.raises(OSError, match="No space left"):
            append_text(log, "two\n")
    assert log.read_text() == "one\n"  # no half line
    append_text(log, "three\n")
    assert log.read_text() == "one\nthree\n"


def test_a_failed_write_says_the_disk_is_full_only_when_it_is():
    no_space = write_failure("/x/a.csv", "No space left on device", errno.ENOSPC, "it is as it was")
    assert no_space == "the disk is full: could not write /x/a.csv (No space left on device); it is as it was"
    denied = write_failure("/x/a.csv", "Permission denied", errno.EACCES, "it is as it was")
    assert denied == "could not write /x/a.csv (Permission denied); it is as it was"
