"""The test hub (tests/hub_server.py) against the unmodified huggingface_hub client."""

from __future__ import annotations

import hashlib
import os

import pytest
from hub_server import set_offline

hf = pytest.importorskip("huggingface_hub")
from huggingface_hub import CommitOperationAdd, CommitOperationDelete, HfApi, hf_hub_download  # noqa: E402
from huggingface_hub.errors import (  # noqa: E402
    EntryNotFoundError,
    HfHubHTTPError,
    LocalEntryNotFoundError,
    RepositoryNotFoundError,
    RevisionNotFoundError,
)

REPO = "zoo-test/tiny"
WEIGHTS = os.urandom(300_000)  # random bytes: any corruption in transit shows
CARD = b"---\nlibrary_name: zoo\nlicense: mit\n---\n# tiny\n"


def _publish(api: HfApi, files: dict[str, bytes], message: str = "upload") -> str:
    ops = [CommitOperationAdd(path_in_repo=path, path_or_fileobj=data) for path, data in files.items()]
    return api.create_commit(REPO, ops, commit_message=message).oid


@pytest.fixture
def api(hub_server) -> HfApi:
    api = HfApi()
    api.create_repo(REPO)
    return api


def _download(filename: str, revision: str | None = None, **kwargs) -> bytes:
    with open(hf_hub_download(REPO, filename, revision=revision, **kwargs), "rb") as f:
        return f.read()


def test_regular_upload_round_trips_without_xet_or_lfs(api, hub_server):
    sha = _publish(api, {"model.safetensors": WEIGHTS, "README.md": CARD, "sub/config.json": b"{}"})
    assert len(sha) == 40
    assert _download("model.safetensors", sha) == WEIGHTS
    assert _download("sub/config.json") == b"{}"
    paths = hub_server.paths_requested()
    assert "/api/validate-yaml" in paths and f"/api/models/{REPO}/commit/main" in paths
    assert not any("xet" in p or "/info/lfs/" in p for p in paths)
    stored = hub_server.store.repos[REPO].commits[sha].files["model.safetensors"]
    assert stored.lfs_sha256 is None


def test_lfs_upload_goes_through_the_batch_api(make_hub_server):
    server = make_hub_server(upload_mode="lfs")
    api = HfApi()
    api.create_repo(REPO)
    sha = _publish(api, {"model.safetensors": WEIGHTS})
    digest = hashlib.sha256(WEIGHTS).hexdigest()
    assert server.store.repos[REPO].commits[sha].files["model.safetensors"].lfs_sha256 == digest
    assert any(p.endswith(".git/info/lfs/objects/batch") for p in server.paths_requested("POST"))
    assert any(p.startswith("/_lfs-upload/") for p in server.paths_requested("PUT"))
    assert any(p.endswith("/info/lfs/objects/verify") for p in server.paths_requested("POST"))
    meta = hf.get_hf_file_metadata(hf.hf_hub_url(REPO, "model.safetensors", revision=sha))
    assert (meta.etag, meta.size, meta.commit_hash) == (digest, len(WEIGHTS), sha)
    # The cache names an LFS blob by its sha256, as on the real Hub.
    path = hf_hub_download(REPO, "model.safetensors", revision=sha)
    assert os.path.basename(os.path.realpath(path)) == digest
    assert open(path, "rb").read() == WEIGHTS


def test_new_commit_keeps_old_revision_downloadable(api):
    first = _publish(api, {"model.safetensors": WEIGHTS})
    second = _publish(api, {"model.safetensors": WEIGHTS[::-1]}, "retrain")
    assert first != second
    assert _download("model.safetensors", first) == WEIGHTS
    assert _download("model.safetensors", second) == WEIGHTS[::-1]
    assert _download("model.safetensors", "main") == WEIGHTS[::-1]
    assert _download("model.safetensors", first[:7]) == WEIGHTS  # short shas resolve
    assert [c.commit_id for c in api.list_repo_commits(REPO)][:2] == [second, first]
    assert api.list_repo_refs(REPO).branches[0].target_commit == second
    assert api.model_info(REPO, revision=first).sha == first


def test_metadata_endpoints_and_deletion(api):
    _publish(api, {"a.txt": b"a", "dir/b.txt": b"bb"})
    assert sorted(api.list_repo_files(REPO)) == [".gitattributes", "a.txt", "dir/b.txt"]
    top = {entry.path for entry in api.list_repo_tree(REPO)}
    assert top == {".gitattributes", "a.txt", "dir"}
    sha = api.create_commit(REPO, [CommitOperationDelete("dir/")], commit_message="rm").oid
    assert "dir/b.txt" not in api.list_repo_files(REPO, revision=sha)
    assert {s.rfilename for s in api.model_info(REPO).siblings} == {".gitattributes", "a.txt"}


def test_missing_repo_file_and_revision_raise_the_client_errors(api):
    sha = _publish(api, {"model.safetensors": WEIGHTS})
    with pytest.raises(RepositoryNotFoundError):
        hf_hub_download("zoo-test/absent", "model.safetensors")
    with pytest.raises(EntryNotFoundError):
        hf_hub_download(REPO, "absent.safetensors", revision=sha)
    with pytest.raises(RevisionNotFoundError):
        hf_hub_download(REPO, "model.safetensors", revision="0" * 40)
    with pytest.raises(RevisionNotFoundError):
        api.model_info(REPO, revision="no-such-branch")


def test_token_guards_writes_and_private_repos(make_hub_server):
    make_hub_server(token="s3cret")
    with pytest.raises(HfHubHTTPError) as info:
        HfApi().create_repo(REPO)
    assert info.value.response.status_code == 401
    with pytest.raises(HfHubHTTPError) as info:
        HfApi(token="wrong").create_repo(REPO)
    assert info.value.response.status_code == 401
    owner = HfApi(token="s3cret")
    owner.create_repo(REPO, private=True)
    owner.create_commit(REPO, [CommitOperationAdd("w.bin", WEIGHTS)], commit_message="w")
    with pytest.raises(RepositoryNotFoundError):
        hf_hub_download(REPO, "w.bin")
    with pytest.raises(HfHubHTTPError) as info:
        hf_hub_download(REPO, "w.bin", token="wrong")
    assert info.value.response.status_code == 401
    assert _download("w.bin", token="s3cret") == WEIGHTS


def test_offline_mode_reads_the_cache_only(api, hub_server, monkeypatch):
    sha = _publish(api, {"model.safetensors": WEIGHTS})
    cached = _download("model.safetensors", "main")  # records refs/main -> sha in the cache
    set_offline(monkeypatch, True)
    seen = len(hub_server.requests)
    assert _download("model.safetensors", sha) == cached == WEIGHTS
    assert _download("model.safetensors", "main") == cached
    with pytest.raises(LocalEntryNotFoundError):
        hf_hub_download(REPO, "never-downloaded.bin", revision=sha)
    assert len(hub_server.requests) == seen


def test_large_regular_and_lfs_files_survive_streaming(make_hub_server, tmp_path):
    make_hub_server(upload_mode="lfs")
    big = os.urandom(3_000_000)
    source = tmp_path / "big.bin"
    source.write_bytes(big)
    api = HfApi()
    api.create_repo(REPO)
    # A path (streamed from disk by the client) rather than bytes in memory.
    sha = api.upload_file(path_or_fileobj=str(source), path_in_repo="big.bin", repo_id=REPO).oid
    assert _download("big.bin", sha) == big
