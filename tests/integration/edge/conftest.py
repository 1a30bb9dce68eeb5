"""A real Facewatch server on 127.0.0.1 (uvicorn in a thread) that tests can stop and restart,
and an httpx transport that records what the agent sent and can lose answers on purpose."""

from __future__ import annotations

import gzip
import json
import re
import socket
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn

from facewatch.config import Settings
from facewatch.edge.config import EdgeConfig
from facewatch.server.app import create_app
from facewatch.server.infra.runtime import Runtime

CLIP = "facenet_pytorch/examples/video.mp4"
_FIELD = re.compile(rb'name="(idempotency_key|manifest)"\r\n\r\n(.*?)\r\n--', re.DOTALL)
_MANIFEST_GZ = re.compile(
    rb'name="manifest_gz"; filename="[^"]*"\r\nContent-Type: [^\r]*\r\n\r\n(.*?)\r\n--',
    re.DOTALL,
)


class LiveServer:
    """The real app served by uvicorn on a fixed loopback port; ``stop`` and ``start`` again."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self._started_once = False

    def start(self) -> None:
        """Serve on ``self.port``; on the first start, try another free port if it was
        taken meanwhile (other test suites bind ports on this machine too)."""
        for _ in range(3):
            if self._serve():
                return
            if self._started_once:
                break
            self.port = _free_port()
            self.url = f"http://127.0.0.1:{self.port}"
        raise RuntimeError(f"the test server did not start on port {self.port}")

    def _serve(self) -> bool:
        config = uvicorn.Config(
            create_app(self.settings), host="127.0.0.1", port=self.port, log_level="warning"
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, name="live-server", daemon=True)
        self._thread.start()
        deadline = time.monotonic() + 60
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                self.stop()
                return False
            time.sleep(0.05)
        self._started_once = True
        return True

    def stop(self) -> None:
        if self._server is not None and self._thread is not None:
            self._server.should_exit = True
            self._thread.join(timeout=30)
        self._server = self._thread = None

    def key(self, *scopes: str) -> str:
        """A new API key with ``scopes``, made in the server's database."""
        runtime = Runtime.open(self.settings)
        try:
            with runtime.uow() as uow:
                _, secret = uow.api_keys.create("edge test", list(scopes))
                uow.commit()
        finally:
            runtime.close()
        return secret

    def detections(self, **filters: Any) -> list[dict[str, Any]]:
        """Every stored detection matching ``filters`` (through the API, newest first)."""
        headers = {"Authorization": f"Bearer {self.key('read')}"}
        items: list[dict[str, Any]] = []
        with httpx.Client(base_url=self.url, headers=headers, timeout=30) as client:
            while True:
                params = {**filters, "offset": len(items), "limit": 500}
                page = client.get("/api/v1/detections", params=params).json()
                items += page["items"]
                if len(items) >= page["total"]:
                    return items


class RecordingTransport(httpx.BaseTransport):
    """Forwards to the real server and records, per idempotency key, the detection ids of
    every answer. With ``lose_every=n``, every n-th answer is thrown away after the server
    has handled the request (a link that drops the reply), so the agent must send it again.
    """

    def __init__(self, lose_every: int = 0) -> None:
        self._inner = httpx.HTTPTransport()
        self.lose_every = lose_every
        self.requests = 0
        self.failures = 0
        self.lost = 0
        self.answers: dict[str, list[list[int]]] = defaultdict(list)
        self.crop_boxes: dict[str, list[int] | None] = {}
        """Per crop of an edge batch: the face box the agent sent with it (None: none)."""

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        self.requests += 1
        if request.url.path.endswith("/edge/batch"):
            self._remember_boxes(request.read())
        try:
            response = self._inner.handle_request(request)
        except httpx.TransportError:
            self.failures += 1
            raise
        raw = response.read()
        body = json.loads(raw) if raw else {}
        if response.status_code < 300 and request.method == "POST" and _carries_items(request):
            for key, detections in _answered(request, body):
                self.answers[key].append([d["id"] for d in detections])
        if self.lose_every and self.requests % self.lose_every == 0:
            self.lost += 1
            raise httpx.ReadTimeout("the answer was lost on the way back")
        return response

    def close(self) -> None:
        self._inner.close()

    def _remember_boxes(self, body: bytes) -> None:
        match = _MANIFEST_GZ.search(body)
        assert match is not None
        for item in json.loads(gzip.decompress(match.group(1)))["items"]:
            if item["kind"] == "crop":
                self.crop_boxes[item["idempotency_key"]] = item.get("box")


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    settings = Settings(data_dir=tmp_path_factory.mktemp("edge-server"))
    live = LiveServer(settings)
    live.start()
    try:
        yield live
    finally:
        live.stop()


@pytest.fixture(scope="module")
def clip(testdata: Path) -> Path:
    return testdata / CLIP


def _carries_items(request: httpx.Request) -> bool:
    """An ingest request (not the agent's heartbeat or a camera's still)."""
    path = request.url.path
    return not path.endswith(("/edge/heartbeat", "/snapshot"))


def _answered(request: httpx.Request, body: dict[str, Any]) -> list[tuple[str, list[Any]]]:
    """(idempotency key, stored detections) of each item the server accepted."""
    if "results" in body:  # a batch: each item answered on its own
        return [
            (r["idempotency_key"], r["detections"]) for r in body["results"] if r["status"] < 300
        ]
    match = _FIELD.search(request.read())
    assert match is not None
    return [(match.group(2).decode(), body["detections"])]


ConfigMaker = Callable[..., EdgeConfig]


@pytest.fixture(scope="module")
def make_config(server: LiveServer, tmp_path_factory: pytest.TempPathFactory) -> ConfigMaker:
    """``make_config(camera_id, source, **settings)``: an agent config for one camera, with
    its own outbox file (named after the camera) unless ``outbox`` says otherwise."""
    folder = tmp_path_factory.mktemp("outboxes")

    def make(camera_id: str, source: Path, **extra: Any) -> EdgeConfig:
        return _config(server, folder, camera_id, source, extra)

    return make


def _config(
    server: LiveServer, folder: Path, camera_id: str, source: Path, extra: dict[str, Any]
) -> EdgeConfig:
    data: dict[str, Any] = {
        "server": server.url,
        "api_key": server.key("ingest"),
        "edge_id": "test-site",
        "cameras": [{"id": camera_id, "source": str(source)}],
        "outbox": {"path": str(folder / f"{camera_id}-outbox.db")},
        "uplink": {"backoff_initial": 0.05, "backoff_max": 0.5},
        "drain_timeout": 60,
        "metrics_interval": 5,
    }
    for key, value in extra.items():
        data[key] = {**data[key], **value} if isinstance(data.get(key), dict) else value
    return EdgeConfig.model_validate(data)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port
