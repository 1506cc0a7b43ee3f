"""The test hub's storage: repos as lists of full-snapshot commits, branches, content by hash.

Regular files are kept by git blob sha1 and LFS objects by sha256, as the Hub names them.
"""

from __future__ import annotations

import hashlib
import itertools
import threading
import time
from dataclasses import dataclass, field


def git_blob_sha1(data: bytes) -> str:
    """The git object id of a regular file (what the Hub returns as a file's ``oid``)."""
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


@dataclass(frozen=True)
class StoredFile:
    """One file of a commit: its content's store key and, for LFS files, its sha256."""

    size: int
    git_oid: str  # sha1 of the content (regular) or of the LFS pointer (LFS)
    lfs_sha256: str | None = None

    @property
    def etag(self) -> str:
        return self.lfs_sha256 or self.git_oid


@dataclass
class Commit:
    oid: str
    title: str
    date: float
    parent: str | None
    files: dict[str, StoredFile]


@dataclass
class Repo:
    repo_id: str
    private: bool
    commits: dict[str, Commit] = field(default_factory=dict)
    branches: dict[str, str] = field(default_factory=dict)

    def resolve(self, revision: str) -> Commit | None:
        """A branch name, a full commit sha or an unambiguous prefix of at least 7 hex digits."""
        if revision in self.branches:
            return self.commits[self.branches[revision]]
        if len(revision) >= 7:
            matches = [oid for oid in self.commits if oid.startswith(revision.lower())]
            if len(matches) == 1:
                return self.commits[matches[0]]
        return None


class HubStore:
    """Repos (commits as full snapshots, branches) and content (regular blobs by git oid, LFS by sha256)."""

    def __init__(self) -> None:
        self.repos: dict[str, Repo] = {}
        self.blobs: dict[str, bytes] = {}
        self.lfs: dict[str, bytes] = {}
        self.lock = threading.RLock()
        self._counter = itertools.count()

    def create_repo(self, repo_id: str, private: bool) -> Repo:
        with self.lock:
            repo = self.repos[repo_id] = Repo(repo_id, private)
            # The Hub starts every repo with a .gitattributes commit, so `main` always exists.
            self.commit(
                repo, "main", "initial commit", {".gitattributes": b"*.safetensors filter=lfs\n"}, {}, []
            )
            return repo

    def put_regular(self, data: bytes) -> StoredFile:
        oid = git_blob_sha1(data)
        with self.lock:
            self.blobs[oid] = data
        return StoredFile(len(data), oid)

    def lfs_file(self, sha256: str) -> StoredFile:
        data = self.lfs[sha256]
        pointer = f"version https://git-lfs.github.com/spec/v1\noid sha256:{sha256}\nsize {len(data)}\n"
        return StoredFile(len(data), git_blob_sha1(pointer.encode()), sha256)

    def read(self, stored: StoredFile) -> bytes:
        return self.lfs[stored.lfs_sha256] if stored.lfs_sha256 else self.blobs[stored.git_oid]

    def commit(
        self,
        repo: Repo,
        branch: str,
        title: str,
        regular: dict[str, bytes],
        lfs: dict[str, str],
        deletions: list[str],
    ) -> Commit:
        """A new commit on `branch`: its parent's files, minus `deletions`, plus the new files."""
        with self.lock:
            parent = repo.commits.get(repo.branches.get(branch, ""))
            files = dict(parent.files) if parent else {}
            for path in deletions:
                prefix = path.rstrip("/") + "/"
                files = {p: f for p, f in files.items() if p != path and not p.startswith(prefix)}
            files.update({path: self.put_regular(data) for path, data in regular.items()})
            files.update({path: self.lfs_file(sha) for path, sha in lfs.items()})
            seed = f"{repo.repo_id}\n{parent.oid if parent else ''}\n{title}\n{next(self._counter)}\n"
            seed += "".join(f"{p}:{f.git_oid}\n" for p, f in sorted(files.items()))
            commit = Commit(
                hashlib.sha1(seed.encode()).hexdigest(),
                title,
                time.time(),
                parent.oid if parent else None,
                files,
            )
            repo.commits[commit.oid] = commit
            repo.branches[branch] = commit.oid
            return commit
