"""Hostile and careless use of published weights: tampered, linked, malformed files, a broken
manifest, an unreachable Hub, bad names. Each case asserts what the user sees (exit code, one
`zoo: error:` line naming the file) and that nothing outside the test's tmp dir was touched.

Issue 11 items 1, 2, 8, 9, 19 and the extra cases (pull of an unknown model, a bad --repo-id,
ZOO_WEIGHTS_DIR without the files).
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest
from helpers import export_to_weights_dir, flip_byte, one_error, snapshot

torch = pytest.importorskip("torch")
pytest.importorskip("huggingface_hub")

import zoo  # noqa: E402
import zoo._files  # noqa: E402
from zoo import hub  # noqa: E402
from zoo._files import sha256_of  # noqa: E402
from zoo.weights import weights_entry, write_entry  # noqa: E402

REPO_NAME = "lenet5-mirror"


@pytest.fixture
def mirror(zoo_manifest, tmp_path, monkeypatch) -> Path:
    """lenet5 weights exported to ZOO_WEIGHTS_DIR/lenet5-mirror (tag "mirror"); returns the weights file."""
    torch.manual_seed(0)
    folder = export_to_weights_dir(zoo.create("lenet5"), tmp_path / "weights", REPO_NAME, tag="mirror")
    monkeypatch.setenv("ZOO_WEIGHTS_DIR", str(tmp_path / "weights"))
    return folder / "model.safetensors"


def _pin(revision: str = "a" * 40, **changes) -> dict:
    """Rewrite the mirror entry of the manifest (a revision, other files) and return it."""
    entry = {**weights_entry("lenet5", "mirror"), "revision": revision, **changes}
    write_entry("lenet5", "mirror", entry)
    return entry


# 1. A link in ZOO_WEIGHTS_DIR that leads elsewhere: the file it points at is never renamed.
def test_a_link_leading_out_of_the_weights_dir_is_refused_and_its_target_left_alone(mirror, tmp_path, cli):
    victim = tmp_path / "elsewhere" / "precious.txt"
    victim.parent.mkdir()
    victim.write_bytes(b"a file of the user's, nothing to do with zoo\n")
    mirror.unlink()
    mirror.symlink_to(victim)
    before = snapshot(victim.parent)

    code, _, err = cli("pull", "lenet5", "--tag", "mirror")

    assert code == 1
    line = one_error(err)
    assert line.startswith(f"zoo: error: refusing to load {mirror}: it has {victim.stat().st_size} bytes")
    assert (
        f"left {mirror} (a link to {victim}) untouched (zoo moves only files of its download cache)" in line
    )
    assert snapshot(victim.parent) == before and mirror.is_symlink()
    assert not list(tmp_path.rglob("*.corrupt"))


def test_only_files_of_the_download_cache_are_moved_aside(hub_env, tmp_path):
    cache = hub_env / "hub" / "models--org--repo"
    (cache / "snapshots" / "c0ffee").mkdir(parents=True)
    (cache / "blobs").mkdir()
    outside = tmp_path / "outside.bin"
    outside.write_bytes(b"user data")
    escaping = cache / "snapshots" / "c0ffee" / "escaping.safetensors"
    escaping.symlink_to(outside)
    blob = cache / "blobs" / "0123abcd"
    blob.write_bytes(b"bad weights")
    cached = cache / "snapshots" / "c0ffee" / "model.safetensors"
    cached.symlink_to(blob)

    assert hub.move_aside(escaping) is None and outside.read_bytes() == b"user data"
    assert hub.move_aside(outside) is None and outside.is_file()
    assert hub.move_aside(cached) == blob.with_name("0123abcd.corrupt")
    assert not cached.exists() and not blob.exists() and blob.with_name("0123abcd.corrupt").is_file()


# 2. A byte flipped in place, mtime restored: the recorded stat no longer matches (the ctime moved).
def test_a_byte_flipped_in_place_with_the_mtime_restored_is_caught(mirror, tmp_path, monkeypatch, cli):
    monkeypatch.setattr(zoo._files, "RACY_SECONDS", 0.05)
    time.sleep(0.1)  # the export is older than the racy window: the first pull records the file
    code, out, _ = cli("pull", "lenet5", "--tag", "mirror")
    assert code == 0 and "sha256 verified" in out
    records = json.loads((tmp_path / "zoo-cache" / "verified-weights.json").read_text())
    assert str(mirror) in records  # the shortcut is armed

    stat = mirror.stat()
    flip_byte(mirror)
    os.utime(mirror, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    assert (mirror.stat().st_size, mirror.stat().st_mtime_ns) == (stat.st_size, stat.st_mtime_ns)

    code, out, err = cli("pull", "lenet5", "--tag", "mirror")
    assert code == 1 and "verified" not in out
    assert one_error(err).startswith(
        f"zoo: error: refusing to load {mirror}: it has sha256 {sha256_of(mirror)}"
    )


def test_a_file_changed_within_the_racy_window_is_not_recorded(zoo_manifest, tmp_path):
    path = tmp_path / "w.bin"
    path.write_bytes(b"weights")
    hub.verify_file(path, sha256_of(path), 7)  # hashed and accepted, but too fresh to trust its stat
    assert not (tmp_path / "zoo-cache" / "verified-weights.json").exists()


# 8. A file whose sha256 matches the manifest but that is not safetensors.
def test_a_broken_file_the_manifest_vouches_for_is_one_line(mirror, tmp_path, cli):
    mirror.write_bytes(b"\xff" * 64)
    _pin(None, files=[{"name": "model.safetensors", "sha256": sha256_of(mirror), "size": 64}])

    code, _, err = cli("eval", "lenet5.mirror", "--pretrained", "--data-dir", tmp_path / "no-data")

    assert code == 2
    line = one_error(err)
    assert line.startswith(f"zoo: error: {mirror} is not a readable safetensors file (")
    assert line.endswith("the published file is broken: re-publish with `zoo push`")


# 9. ZOO_MANIFEST naming a folder.
def test_a_manifest_that_is_a_folder_is_one_line(zoo_manifest, tmp_path, monkeypatch, cli):
    monkeypatch.setenv("ZOO_MANIFEST", str(tmp_path))
    for args in (("pull", "lenet5"), ("list", "--pretrained")):
        code, _, err = cli(*args)
        assert code == 2 and str(tmp_path) in one_error(err)


def _record_waits(monkeypatch) -> list[float]:
    """The seconds code asked `time.sleep` for (retry back-off), recorded instead of slept."""
    waits: list[float] = []
    monkeypatch.setattr(time, "sleep", waits.append)
    return waits


# 19. An unreachable Hub: one line within seconds, no retry chatter.
def test_an_unreachable_hub_fails_fast_with_one_line(mirror, hub_env, monkeypatch, capfd):
    from huggingface_hub import constants

    from zoo.cli import main

    monkeypatch.delenv("ZOO_WEIGHTS_DIR")  # hub_env: the endpoint is a closed port on 127.0.0.1
    _pin()
    capfd.readouterr()
    waits = _record_waits(monkeypatch)
    with pytest.raises(SystemExit) as exit_info:
        main(["pull", "lenet5", "--tag", "mirror"])
    _, err = capfd.readouterr()

    assert exit_info.value.code == 1 and sum(waits) <= 1  # no client back-off (it waits ~25 s)
    line = one_error(err)
    assert err.strip() == line  # nothing but the one line: no "Retrying in 1s"
    assert line.startswith(
        f"zoo: error: cannot reach {constants.ENDPOINT} to download "
        f"zoo-test/{REPO_NAME}@aaaaaaaaaaaa:model.safetensors"
    )


def test_a_push_to_an_unreachable_hub_fails_fast_with_one_line(
    hub_env, zoo_manifest, tmp_path, cli, monkeypatch
):
    from huggingface_hub import constants

    from zoo.checkpoint import save_model

    checkpoint = save_model(zoo.create("lenet5"), tmp_path / "run", name="lenet5")
    metrics = tmp_path / "metrics.json"
    metrics.write_text('{"top1": 50.0}')
    waits = _record_waits(monkeypatch)
    code, _, err = cli(
        "push", "lenet5", "--checkpoint", checkpoint, "--repo-id", "org/lenet5", "--metrics", metrics
    )
    assert code == 1 and sum(waits) <= 1  # no client back-off
    assert one_error(err) == (
        f"zoo: error: cannot reach {constants.ENDPOINT} to create org/lenet5 (ConnectError); check "
        "HF_ENDPOINT and the network, or write the files with `zoo push --export DIR` and upload them "
        "later with --from-folder"
    )


# Extra: pulling an unknown model is a usage error with suggestions, not "no published weights".
def test_pull_of_an_unknown_model_suggests_names(zoo_manifest, cli):
    code, _, err = cli("pull", "resnet19")
    assert code == 2
    line = one_error(err)
    assert "unknown model 'resnet19'" in line and "resnet18" in line


# Extra: a bad --repo-id is refused before the checkpoint is read or any file written.
def test_a_bad_repo_id_is_refused_first(zoo_manifest, tmp_path, cli):
    before = zoo_manifest.read_bytes()
    release = tmp_path / "release"
    code, _, err = cli(
        "push",
        "lenet5",
        "--checkpoint",
        tmp_path / "no-run",
        "--repo-id",
        "org/bad name",
        "--export",
        release,
    )
    assert code == 2
    assert one_error(err) == (
        "zoo: error: --repo-id 'org/bad name' is not a Hub repo id 'owner/name' (letters, digits, '.', "
        "'_', '-') (see `zoo push --help`)"
    )
    with pytest.raises(hub.PushError, match="--repo-id 'org/bad name'"):
        hub.export("lenet5", tmp_path / "no-run", release, "org/bad name")
    assert not release.exists() and zoo_manifest.read_bytes() == before


# Extra: ZOO_WEIGHTS_DIR set, but without the files: the message says so, not "set ZOO_WEIGHTS_DIR".
def test_a_weights_dir_without_the_files_is_named(mirror, tmp_path, monkeypatch, cli):
    empty = tmp_path / "empty-weights"
    empty.mkdir()
    monkeypatch.setenv("ZOO_WEIGHTS_DIR", str(empty))
    code, _, err = cli("pull", "lenet5", "--tag", "mirror")
    assert code == 1
    assert one_error(err) == (
        f"zoo: error: the weights of zoo-test/{REPO_NAME} are not on the Hub yet (the manifest pins no "
        f"revision): ZOO_WEIGHTS_DIR={empty} has no {REPO_NAME}/ holding model.safetensors: put the "
        f"exported {REPO_NAME}/ folder there, e.g. the releases/ folder of a zoo checkout"
    )
