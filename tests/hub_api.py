"""The HTTP side of the test hub: the Hub API routes huggingface_hub calls, with its headers and errors.

Requests: POST /api/repos/create, /api/validate-yaml, /api/models/{repo}/preupload/{rev},
/api/models/{repo}/commit/{rev} (ndjson), the LFS batch API (/{repo}.git/info/lfs/objects/batch, a PUT
to a one-time upload URL, verify), HEAD/GET /{repo}/resolve/{rev}/{path}, and GET /api/models/{repo}
[/revision/{rev} | /tree/{rev}[/{path}] | /refs | /commits/{rev}]. Errors carry X-Error-Code
(RepoNotFound, RevisionNotFound, EntryNotFound) and X-Error-Message as the client expects.
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import time
from email.utils import formatdate
from http.server import BaseHTTPRequestHandler
from typing import TYPE_CHECKING
from urllib.parse import parse_qs, unquote, urlsplit

from hub_store import Commit, Repo

if TYPE_CHECKING:
    from hub_server import HubServer

MAX_BODY = 256 * 1024 * 1024  # the biggest request body accepted
SOCKET_TIMEOUT = 10.0  # seconds a connection may stay silent
INVALID_TOKEN = "Invalid credentials in Authorization header"  # the Hub's wording, which the client tests for


class HubError(Exception):
    """An HTTP error answer: status, X-Error-Code, message."""

    def __init__(
        self,
        status: int,
        message: str,
        code: str | None = None,
        headers: dict | None = None,
        body: dict | None = None,
    ):
        super().__init__(message)
        self.status, self.code, self.headers, self.body = status, code, headers or {}, body or {}


def _iso(timestamp: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime(timestamp))


class HubHandler(BaseHTTPRequestHandler):
    """Routes one request of the Hub API subset; `self.server` is the `HubServer`."""

    protocol_version = "HTTP/1.1"
    timeout = SOCKET_TIMEOUT
    server: HubServer

    def log_message(self, format, *args) -> None:  # noqa: A002 - the base class's name
        pass

    # -- plumbing -----------------------------------------------------------------------------
    def _dispatch(self) -> None:
        url = urlsplit(self.path)
        self.query = {k: v[-1] for k, v in parse_qs(url.query).items()}
        segments = [unquote(s) for s in url.path.split("/")[1:]]
        self.server.requests.append((self.command, url.path))
        self._cached_body: bytes | None = None
        try:
            self._check_token()
            self._route(segments)
        except HubError as error:
            try:  # an unread body would be parsed as the next request on this kept-alive connection
                self._body()
            except HubError:
                self.close_connection = True
            headers = dict(error.headers)
            if error.code:
                headers["X-Error-Code"] = error.code
            headers["X-Error-Message"] = str(error)
            self._send(error.status, {"error": str(error), **error.body}, headers)

    do_GET = do_HEAD = do_POST = do_PUT = do_DELETE = _dispatch

    def _body(self) -> bytes:
        if self._cached_body is None:
            self._cached_body = self._read_body()
        return self._cached_body

    def _read_body(self) -> bytes:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            chunks, total = [], 0
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    self.rfile.readline()
                    return b"".join(chunks)
                total += size
                if total > MAX_BODY:
                    raise HubError(413, "request body too large")
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
        length = int(self.headers.get("Content-Length") or 0)
        if length > MAX_BODY:
            raise HubError(413, "request body too large")
        return self.rfile.read(length) if length else b""

    def _json(self) -> dict:
        try:
            return json.loads(self._body() or b"{}")
        except json.JSONDecodeError as error:
            raise HubError(400, f"body is not JSON: {error}") from None

    def _send(
        self,
        status: int,
        payload: bytes | dict | list | None = None,
        headers: dict | None = None,
        content_type: str = "application/json",
    ) -> None:
        body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Date", formatdate(usegmt=True))
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    # -- auth ---------------------------------------------------------------------------------
    def _check_token(self) -> None:
        given = self.headers.get("Authorization", "")
        self.authorized = self.server.token is None or given == f"Bearer {self.server.token}"
        if self.server.token is not None and given and not self.authorized:
            raise HubError(401, INVALID_TOKEN)

    def _require_write(self) -> None:
        if not self.authorized:
            raise HubError(401, "You must be authenticated to write to this server")

    def _repo(self, repo_id: str) -> Repo:
        repo = self.server.store.repos.get(repo_id)
        if repo is None or (repo.private and not self.authorized):
            # A private repo seen without a token looks missing, as on the Hub (401, RepoNotFound).
            raise HubError(401 if repo else 404, f"Repository {repo_id} not found", "RepoNotFound")
        return repo

    def _commit(self, repo: Repo, revision: str) -> Commit:
        commit = repo.resolve(revision)
        if commit is None:
            raise HubError(404, f"Invalid rev id: {revision}", "RevisionNotFound")
        return commit

    # -- routes -------------------------------------------------------------------------------
    def _route(self, s: list[str]) -> None:
        method = self.command
        if s[:1] == ["api"]:
            return self._route_api(method, s[1:])
        if len(s) >= 5 and s[2] == "resolve" and method in ("GET", "HEAD"):
            return self._resolve(f"{s[0]}/{s[1]}", s[3], "/".join(s[4:]))
        if (
            len(s) == 6
            and s[1].endswith(".git")
            and s[2:5] == ["info", "lfs", "objects"]
            and method == "POST"
        ):
            repo_id = f"{s[0]}/{s[1][:-4]}"
            return self._lfs_batch(repo_id) if s[5] == "batch" else self._lfs_verify(repo_id)
        if len(s) == 3 and s[0] == "_lfs-upload" and method == "PUT":
            return self._lfs_put(s[1], s[2])
        raise HubError(404, f"no route for {method} /{'/'.join(s)}")

    def _route_api(self, method: str, s: list[str]) -> None:
        if s == ["repos", "create"] and method == "POST":
            return self._create_repo()
        if s == ["validate-yaml"] and method == "POST":
            self._body()
            return self._send(200, {"errors": [], "warnings": []})
        if s == ["whoami-v2"]:
            if not self.authorized or not self.headers.get("Authorization"):
                raise HubError(401, INVALID_TOKEN)
            return self._send(200, {"type": "user", "name": "zoo-tester", "orgs": [], "auth": {}})
        if s == ["agent-harnesses"]:
            return self._send(200, {"standardEnvVars": [], "harnesses": {}})
        if len(s) < 3 or s[0] != "models":
            raise HubError(404, f"no route for {method} /api/{'/'.join(s)}")
        repo = self._repo(f"{s[1]}/{s[2]}")
        rest = s[3:]
        if not rest and method == "GET":
            return self._send(200, self._info(repo, self._commit(repo, "main")))
        action, args = rest[0] if rest else "", rest[1:]
        if action == "revision" and args and method == "GET":
            return self._send(200, self._info(repo, self._commit(repo, args[0])))
        if action == "refs" and method == "GET":
            return self._send(200, self._refs(repo))
        if action == "tree" and args and method == "GET":
            return self._send(200, self._tree(self._commit(repo, args[0]), "/".join(args[1:])))
        if action == "commits" and args and method == "GET":
            return self._send(200, self._history(repo, self._commit(repo, args[0])))
        if action == "preupload" and args and method == "POST":
            self._require_write()
            return self._preupload(repo, args[0])
        if action == "commit" and args and method == "POST":
            self._require_write()
            return self._create_commit(repo, args[0])
        if action == "xet-write-token":
            raise HubError(
                501, "this test hub does not speak Xet: answer 'regular' or set HF_HUB_DISABLE_XET=1"
            )
        raise HubError(404, f"no route for {method} /api/{'/'.join(s)}")

    def _create_repo(self) -> None:
        self._require_write()
        payload = self._json()
        name, org = payload.get("name"), payload.get("organization") or "zoo-tester"
        if not name or payload.get("type", "model") not in (None, "model"):
            raise HubError(400, "this test hub holds model repos with a name")
        repo_id = f"{org}/{name}"
        url = f"{self.server.url}/{repo_id}"
        with self.server.store.lock:
            if repo_id in self.server.store.repos:
                raise HubError(409, "You already created this model repo", body={"url": url})
            private = payload.get("visibility") == "private" or bool(payload.get("private"))
            self.server.store.create_repo(repo_id, private)
        self._send(200, {"url": url, "name": repo_id, "id": repo_id})

    def _info(self, repo: Repo, commit: Commit) -> dict:
        return {
            "id": repo.repo_id,
            "modelId": repo.repo_id,
            "author": repo.repo_id.split("/")[0],
            "sha": commit.oid,
            "private": repo.private,
            "disabled": False,
            "gated": False,
            "lastModified": _iso(commit.date),
            "tags": [],
            "downloads": 0,
            "likes": 0,
            "siblings": [{"rfilename": path} for path in sorted(commit.files)],
        }

    def _refs(self, repo: Repo) -> dict:
        branches = [
            {"name": name, "ref": f"refs/heads/{name}", "targetCommit": oid}
            for name, oid in repo.branches.items()
        ]
        return {"branches": branches, "converts": [], "tags": [], "pullRequests": []}

    def _history(self, repo: Repo, commit: Commit | None) -> list:
        history = []
        while commit is not None:
            history.append(
                {
                    "id": commit.oid,
                    "title": commit.title,
                    "message": "",
                    "authors": [],
                    "date": _iso(commit.date),
                }
            )
            commit = repo.commits.get(commit.parent or "")
        return history

    def _tree(self, commit: Commit, folder: str) -> list:
        prefix = f"{folder.strip('/')}/" if folder.strip("/") else ""
        recursive = self.query.get("recursive", "false").lower() in ("1", "true")
        entries, folders = [], set()
        for path, stored in sorted(commit.files.items()):
            if not path.startswith(prefix):
                continue
            tail = path[len(prefix) :]
            if "/" in tail and not recursive:
                folders.add(prefix + tail.split("/")[0])
                continue
            if recursive:
                parts = tail.split("/")[:-1]
                folders.update(prefix + "/".join(parts[: i + 1]) for i in range(len(parts)))
            entry = {"type": "file", "path": path, "size": stored.size, "oid": stored.git_oid}
            if stored.lfs_sha256:
                entry["lfs"] = {"oid": stored.lfs_sha256, "size": stored.size, "pointerSize": 134}
            entries.append(entry)
        if prefix and not entries and not folders:
            raise HubError(404, f"{folder} does not exist in this revision", "EntryNotFound")
        tree_oid = hashlib.sha1(commit.oid.encode()).hexdigest()
        return [{"type": "directory", "path": f, "oid": tree_oid} for f in sorted(folders)] + entries

    def _preupload(self, repo: Repo, revision: str) -> None:
        head = self._commit(repo, revision)
        files = []
        for item in self._json().get("files", []):
            existing = head.files.get(item["path"])
            mode = self.server.upload_mode
            files.append(
                {
                    "path": item["path"],
                    "uploadMode": mode,
                    "shouldIgnore": False,
                    "oid": existing.etag if existing else None,
                }
            )
        self._send(200, {"files": files, "commitOid": head.oid})

    def _create_commit(self, repo: Repo, branch: str) -> None:
        if branch not in repo.branches:
            raise HubError(404, f"Invalid rev id: {branch} (commits go to a branch)", "RevisionNotFound")
        lines = [json.loads(line) for line in self._body().splitlines() if line.strip()]
        header = next((item["value"] for item in lines if item.get("key") == "header"), {})
        regular: dict[str, bytes] = {}
        lfs: dict[str, str] = {}
        deletions: list[str] = []
        for item in lines:
            key, value = item.get("key"), item.get("value", {})
            if key == "file":
                regular[value["path"]] = base64.b64decode(value["content"])
            elif key == "lfsFile":
                if value.get("oid") not in self.server.store.lfs:
                    raise HubError(
                        400, f"LFS object {value.get('oid')} for {value.get('path')} was never uploaded"
                    )
                lfs[value["path"]] = value["oid"]
            elif key in ("deletedFile", "deletedFolder"):
                deletions.append(value["path"])
        with self.server.store.lock:
            parent = header.get("parentCommit")
            if parent and not repo.branches[branch].startswith(parent):
                raise HubError(412, f"parent commit {parent} is not the head of {branch}")
            commit = self.server.store.commit(
                repo, branch, header.get("summary") or "commit", regular, lfs, deletions
            )
        self._send(
            200,
            {
                "commitUrl": f"{self.server.url}/{repo.repo_id}/commit/{commit.oid}",
                "commitOid": commit.oid,
                "pullRequestUrl": None,
                "success": True,
            },
        )

    # -- LFS ----------------------------------------------------------------------------------
    def _lfs_batch(self, repo_id: str) -> None:
        self._require_write()
        self._repo(repo_id)
        objects = []
        for obj in self._json().get("objects", []):
            oid, size = obj["oid"], obj["size"]
            answer = {"oid": oid, "size": size, "authenticated": True}
            if oid not in self.server.store.lfs:
                ticket = secrets.token_hex(8)
                self.server.upload_tickets[ticket] = (oid, size)
                answer["actions"] = {
                    "upload": {"href": f"{self.server.url}/_lfs-upload/{oid}/{ticket}"},
                    "verify": {"href": f"{self.server.url}/{repo_id}.git/info/lfs/objects/verify"},
                }
            objects.append(answer)
        self._send(
            200, {"transfer": "basic", "objects": objects}, content_type="application/vnd.git-lfs+json"
        )

    def _lfs_put(self, oid: str, ticket: str) -> None:
        # The client PUTs without its token (a signed CDN URL on the Hub): the one-time ticket stands in.
        if self.server.upload_tickets.pop(ticket, (None, None))[0] != oid:
            raise HubError(403, "unknown or used upload ticket")
        data = self._body()
        if hashlib.sha256(data).hexdigest() != oid:
            raise HubError(400, f"uploaded bytes do not hash to {oid}")
        with self.server.store.lock:
            self.server.store.lfs[oid] = data
        self._send(200, b"", content_type="text/plain")

    def _lfs_verify(self, repo_id: str) -> None:
        self._require_write()
        payload = self._json()
        data = self.server.store.lfs.get(payload.get("oid"))
        if data is None or len(data) != payload.get("size"):
            raise HubError(404, f"LFS object {payload.get('oid')} not found or wrong size")
        self._send(200, {"success": True})

    # -- downloads ----------------------------------------------------------------------------
    def _resolve(self, repo_id: str, revision: str, path: str) -> None:
        repo = self._repo(repo_id)
        commit = self._commit(repo, revision)
        stored = commit.files.get(path)
        if stored is None:
            raise HubError(404, f"Entry not found: {path}", "EntryNotFound", {"X-Repo-Commit": commit.oid})
        data = self.server.store.read(stored)
        headers = {"X-Repo-Commit": commit.oid, "ETag": f'"{stored.etag}"', "Accept-Ranges": "bytes"}
        if stored.lfs_sha256:
            headers.update({"X-Linked-Etag": f'"{stored.lfs_sha256}"', "X-Linked-Size": str(stored.size)})
        status, byte_range = 200, self.headers.get("Range", "")
        if byte_range.startswith("bytes=") and self.command == "GET":
            first, _, last = byte_range[6:].partition("-")
            start = int(first or 0)
            end = min(int(last), len(data) - 1) if last else len(data) - 1
            headers["Content-Range"] = f"bytes {start}-{end}/{len(data)}"
            data, status = data[start : end + 1], 206
        self._send(status, data, headers, content_type="application/octet-stream")
