"""zoo._files' write-whole-then-rename helper: a writer that fails leaves the previous file as it was."""

from __future__ import annotations

import pytest

from zoo._files import replacing, write_json_atomic, write_text_atomic


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
