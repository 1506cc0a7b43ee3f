"""A Hugging Face Hub look-alike on 127.0.0.1, for tests driven by the unmodified huggingface_hub client.

The public Hub cannot be reached from the test machines and no open-source Hub server takes uploads,
so `HubServer` serves the part of the Hub API the client uses to create repos, commit files (regular
base64 files, or LFS objects through the batch API) and download them (``/resolve``), with the
headers and ``X-Error-Code`` values `huggingface_hub` reads (routes: hub_api.py, storage: hub_store.py).
Xet is not spoken: answer "regular" in preupload, or run with ``HF_HUB_DISABLE_XET`` for the LFS path.

Fixtures (import them into a test module with ``from hub_server import hub_server, ...``):

- ``hub_env``: an isolated Hugging Face home and cache in a tmp dir, telemetry off, and the endpoint
  pointed at a closed local port, so nothing can leave the machine;
- ``hub_server``: ``hub_env`` plus a running server (regular uploads, no token);
- ``make_hub_server``: a factory, ``make_hub_server(upload_mode="lfs", token="secret")``;
- ``zoo_manifest``: an empty zoo weights manifest (ZOO_MANIFEST) and verification cache (ZOO_CACHE_DIR).

`huggingface_hub` copies HF_ENDPOINT, HF_HUB_CACHE, HF_HUB_OFFLINE... into `huggingface_hub.constants`
when it is imported, so the fixtures patch those constants as well as the environment.
"""

from __future__ import annotations

import json
import socket
import threading
from http.server import ThreadingHTTPServer
from pathlib import Path

import pytest
from hub_api import HubHandler
from hub_store import HubStore


class HubServer(ThreadingHTTPServer):
    """The test hub: `url`, `store`, `requests` (method, path) seen, `upload_mode`, `token`."""

    daemon_threads = True
    block_on_close = False

    def __init__(self, upload_mode: str = "regular", token: str | None = None) -> None:
        if upload_mode not in ("regular", "lfs"):
            raise ValueError(f"upload_mode must be 'regular' or 'lfs', got {upload_mode!r}")
        super().__init__(("127.0.0.1", 0), HubHandler)
        self.url = f"http://127.0.0.1:{self.server_address[1]}"
        self.upload_mode, self.token = upload_mode, token
        self.store = HubStore()
        self.requests: list[tuple[str, str]] = []
        self.upload_tickets: dict[str, tuple[str, int]] = {}
        self._connections: set[socket.socket] = set()
        self._stopped = False
        self._thread = threading.Thread(
            target=self.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    def start(self) -> HubServer:
        self._thread.start()
        return self

    def get_request(self):
        connection, address = super().get_request()
        self._connections.add(connection)
        return connection, address

    def shutdown_request(self, request) -> None:
        self._connections.discard(request)
        super().shutdown_request(request)

    def stop(self) -> None:
        """Stop listening and cut kept-alive connections: the endpoint becomes unreachable."""
        if self._stopped:
            return
        self._stopped = True
        self.shutdown()
        self.server_close()
        for connection in list(self._connections):
            try:
                connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        self._thread.join(timeout=5)

    def paths_requested(self, method: str | None = None) -> list[str]:
        return [p for m, p in self.requests if method is None or m == method]


def _closed_port_url() -> str:
    """A 127.0.0.1 URL nobody listens on: connections are refused at once."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{sock.getsockname()[1]}"


def point_client_at(monkeypatch: pytest.MonkeyPatch, endpoint: str, *, disable_xet: bool = False) -> None:
    """Aim the already imported huggingface_hub at `endpoint` (environment and the constants it copied)."""
    from huggingface_hub import constants

    monkeypatch.setenv("HF_ENDPOINT", endpoint)
    monkeypatch.setattr(constants, "ENDPOINT", endpoint)
    monkeypatch.setattr(
        constants, "HUGGINGFACE_CO_URL_TEMPLATE", endpoint + "/{repo_id}/resolve/{revision}/{filename}"
    )
    monkeypatch.setattr(constants, "HF_URL_HOSTS", constants.HF_URL_HOSTS | {"127.0.0.1"})
    monkeypatch.setattr(constants, "HF_HUB_DISABLE_XET", disable_xet)
    if disable_xet:
        monkeypatch.setenv("HF_HUB_DISABLE_XET", "1")
    else:
        monkeypatch.delenv("HF_HUB_DISABLE_XET", raising=False)


def set_offline(monkeypatch: pytest.MonkeyPatch, offline: bool) -> None:
    """HF_HUB_OFFLINE for the process, in the environment and in huggingface_hub's copy."""
    from huggingface_hub import constants

    if offline:
        monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    else:
        monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", offline)


@pytest.fixture
def hub_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An isolated Hugging Face home (returned), no token, no telemetry, the endpoint on a closed port."""
    from huggingface_hub import constants

    home = tmp_path / "hf-home"
    cache = home / "hub"
    cache.mkdir(parents=True)
    for name in (
        "HF_TOKEN",
        "HUGGING_FACE_HUB_TOKEN",
        "HF_HUB_CACHE",
        "HUGGINGFACE_HUB_CACHE",
        "TRANSFORMERS_OFFLINE",
    ):
        monkeypatch.delenv(name, raising=False)
    env = {
        "HF_HOME": home,
        "HF_HUB_CACHE": cache,
        "HF_TOKEN_PATH": home / "token",
        "HF_XET_CACHE": home / "xet",
    }
    for name, value in env.items():
        monkeypatch.setenv(name, str(value))
    monkeypatch.setenv("HF_HUB_DISABLE_TELEMETRY", "1")
    patched = {
        "HF_HOME": str(home),
        "HF_HUB_CACHE": str(cache),
        "HUGGINGFACE_HUB_CACHE": str(cache),
        "HF_ASSETS_CACHE": str(home / "assets"),
        "HF_XET_CACHE": str(home / "xet"),
        "HF_TOKEN_PATH": str(home / "token"),
        "HF_STORED_TOKENS_PATH": str(home / "stored_tokens"),
        "AGENT_HARNESSES_PATH": str(home / ".agent_harnesses.json"),
        "CHECK_FOR_UPDATE_DONE_PATH": str(home / ".check_for_update_done"),
        "HF_HUB_DISABLE_TELEMETRY": True,
        "HF_HUB_DISABLE_IMPLICIT_TOKEN": False,
    }
    for name, value in patched.items():
        if hasattr(constants, name):
            monkeypatch.setattr(constants, name, value)
    set_offline(monkeypatch, False)
    point_client_at(monkeypatch, _closed_port_url())
    return home


@pytest.fixture
def make_hub_server(hub_env: Path, monkeypatch: pytest.MonkeyPatch):
    """Start a test hub and aim the client at it: ``make_hub_server(upload_mode="lfs", token=None)``.

    The "lfs" mode also sets HF_HUB_DISABLE_XET, the way to reach the LFS batch API with this client.
    """
    servers: list[HubServer] = []

    def start(upload_mode: str = "regular", token: str | None = None) -> HubServer:
        server = HubServer(upload_mode, token).start()
        servers.append(server)
        point_client_at(monkeypatch, server.url, disable_xet=upload_mode == "lfs")
        return server

    yield start
    for server in servers:
        server.stop()


@pytest.fixture
def hub_server(make_hub_server) -> HubServer:
    """A running test hub (regular uploads, no token) that the client talks to."""
    return make_hub_server()


@pytest.fixture
def zoo_manifest(hub_env: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty weights manifest for zoo (ZOO_MANIFEST), its own verification cache, no ZOO_WEIGHTS_DIR."""
    manifest = tmp_path / "weights_manifest.json"
    manifest.write_text(json.dumps({"schema_version": 1, "models": {}}))
    monkeypatch.setenv("ZOO_MANIFEST", str(manifest))
    monkeypatch.setenv("ZOO_CACHE_DIR", str(tmp_path / "zoo-cache"))
    monkeypatch.delenv("ZOO_WEIGHTS_DIR", raising=False)
    monkeypatch.delenv("ZOO_REHASH", raising=False)
    return manifest
