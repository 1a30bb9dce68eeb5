"""The agent's health end to end: the agent's loop on the real street clip, into the real
server over HTTP, read back through the cameras API, /metrics and the dashboard's cameras
page in a real Chromium; and the snapshot off switch (no request carries a frame)."""

from __future__ import annotations

import email.parser
import email.policy
import re
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import cv2
import httpx
import numpy as np
import pytest

from facewatch import __version__
from facewatch.edge.agent import EdgeAgent, RunSummary
from facewatch.edge.config import EdgeConfig
from facewatch.server.infra.runtime import Runtime
from support_dashboard import ARTIFACTS, CHROMIUM_ARGS, PASSWORD, add_users, chromium_path

from .conftest import ConfigMaker, LiveServer

if TYPE_CHECKING:
    from playwright.sync_api import Browser

pytestmark = pytest.mark.testdata

HEARTBEAT = "/api/v1/edge/heartbeat"


@dataclass(frozen=True)
class Sent:
    path: str
    content_type: str
    body: bytes

    def images(self) -> list[tuple[int, int]]:
        """(width, height) of every JPEG or WebP image in a multipart body."""
        if not self.content_type.startswith("multipart/"):
            return []
        head = f"Content-Type: {self.content_type}\r\n\r\n".encode()
        message = email.parser.BytesParser(policy=email.policy.default).parsebytes(head + self.body)
        sizes = []
        for part in message.iter_parts():  # type: ignore[attr-defined]
            data = part.get_payload(decode=True) or b""
            if data[:3] == b"\xff\xd8\xff" or data[8:12] == b"WEBP":
                image = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
                assert image is not None
                sizes.append((image.shape[1], image.shape[0]))
        return sizes


class WatchingTransport(httpx.BaseTransport):
    """Forwards every request to the real server and keeps what was sent."""

    def __init__(self) -> None:
        self._inner = httpx.HTTPTransport()
        self._lock = threading.Lock()
        self.sent: list[Sent] = []

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        body = request.read()
        with self._lock:
            self.sent.append(Sent(request.url.path, request.headers.get("content-type", ""), body))
        return self._inner.handle_request(request)

    def close(self) -> None:
        self._inner.close()

    def to(self, path: str) -> list[Sent]:
        with self._lock:
            return [s for s in self.sent if s.path == path or s.path.endswith(path)]


def run(config: EdgeConfig) -> tuple[EdgeAgent, RunSummary, WatchingTransport]:
    transport = WatchingTransport()
    agent = EdgeAgent(config, transport=transport)
    return agent, agent.run(), transport


@pytest.fixture(scope="module")
def read_key(server: LiveServer) -> dict[str, str]:
    return {"Authorization": f"Bearer {server.key('read')}"}


@pytest.fixture(scope="module")
def with_stills(
    make_config: ConfigMaker, clip: Path
) -> tuple[EdgeAgent, RunSummary, WatchingTransport]:
    return run(make_config("health-street", clip, snapshots={"enabled": True}))


def test_the_agents_health_reaches_the_cameras_api(
    server: LiveServer,
    read_key: dict[str, str],
    with_stills: tuple[EdgeAgent, RunSummary, WatchingTransport],
) -> None:
    agent, summary, transport = with_stills
    counts = summary.cameras["health-street"]
    assert counts.frames_processed > 0
    assert len(transport.to(HEARTBEAT)) >= 2  # one at start, one at stop

    camera = httpx.get(f"{server.url}/api/v1/cameras/health-street", headers=read_key).json()
    health = camera["health"]
    assert 0 < health["fps_processed"] <= health["fps_in"]
    assert health["detections_per_minute"] > 0
    assert health["frames_dropped"] == counts.frames_dropped == 0  # a file drops nothing
    assert (health["outbox_depth"], health["outbox_oldest_seconds"]) == (0, None)  # drained
    assert health["detector"] == agent.config.cameras[0].detector.kind
    assert health["embedder"] is None  # mode crops
    assert (health["edge_id"], health["agent_version"]) == ("test-site", __version__)
    assert health["last_error"] is None
    assert health["stale"] is False


def test_the_agent_sends_a_640_px_still_that_the_api_serves(
    server: LiveServer,
    read_key: dict[str, str],
    with_stills: tuple[EdgeAgent, RunSummary, WatchingTransport],
) -> None:
    _, _, transport = with_stills
    stills = transport.to("/api/v1/edge/cameras/health-street/snapshot")
    assert stills
    assert stills[0].images() == [(640, 360)]  # the 1080p frame, scaled down
    url = f"{server.url}/api/v1/cameras/health-street/snapshot"
    served = httpx.get(url, headers=read_key)
    assert served.status_code == 200
    image = cv2.imdecode(np.frombuffer(served.content, np.uint8), cv2.IMREAD_COLOR)
    assert image.shape == (360, 640, 3)
    assert image.std() > 20  # a street, not a blank frame


def test_metrics_export_the_agents_figures_per_camera(
    server: LiveServer, with_stills: tuple[EdgeAgent, RunSummary, WatchingTransport]
) -> None:
    text = httpx.get(f"{server.url}/metrics").text
    found = re.search(
        r'^facewatch_camera_fps_processed\{camera="health-street"\} (\S+)$', text, re.M
    )
    assert found is not None
    assert float(found.group(1)) > 0
    assert 'facewatch_camera_stale{camera="health-street"} 0.0' in text
    assert 'facewatch_camera_outbox_depth{camera="health-street"} 0.0' in text


def test_with_stills_off_no_request_carries_a_frame(
    server: LiveServer, read_key: dict[str, str], make_config: ConfigMaker, clip: Path
) -> None:
    config = make_config("health-private", clip)
    assert config.snapshots.enabled is False  # the default
    agent, summary, transport = run(config)

    assert summary.cameras["health-private"].sent > 0
    assert not [s for s in transport.sent if "snapshot" in s.path]
    images = [size for sent in transport.sent for size in sent.images()]
    assert images  # the crops went out...
    assert max(max(size) for size in images) <= config.crops.max_size  # ...and nothing bigger
    assert agent.frames.take("health-private") is None  # no frame was even kept
    assert len(transport.to(HEARTBEAT)) >= 2
    health = httpx.get(f"{server.url}/api/v1/cameras/health-private", headers=read_key).json()
    assert health["health"]["fps_processed"] > 0
    assert health["health"]["snapshot_url"] is None


# --- the dashboard in a real browser ---------------------------------------------------
@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    from playwright.sync_api import sync_playwright

    executable = chromium_path()
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture(scope="module")
def users(server: LiveServer) -> None:
    runtime = Runtime.open(server.settings)
    try:
        add_users(runtime)
    finally:
        runtime.close()


def test_the_cameras_page_shows_the_agents_health_and_snapshot(
    server: LiveServer,
    browser: Browser,
    users: None,
    with_stills: tuple[EdgeAgent, RunSummary, WatchingTransport],
) -> None:
    from playwright.sync_api import expect

    context = browser.new_context(base_url=server.url, viewport={"width": 1280, "height": 900})
    context.set_default_timeout(30_000)
    page = context.new_page()
    try:
        page.goto("/login")
        page.get_by_label("Username").fill("viewer")
        page.get_by_label("Password").fill(PASSWORD)
        page.get_by_role("button", name="Log in").click()
        page.goto("/cameras")
        row = page.locator("#camera-health-street")
        expect(row.locator(".agent")).to_contain_text("online")
        expect(row.locator(".agent")).to_contain_text("test-site")
        expect(row.locator(".fps")).to_have_text(re.compile(r"^\d+\.\d / [1-9]\d*\.\d$"))
        expect(row.locator(".outbox")).to_have_text("0")
        health = page.locator("#health-health-street")
        health.get_by_text("Health of health-street").click()
        expect(health.locator(".dropped")).to_have_text("0")
        expect(health.locator(".version")).to_contain_text(__version__)
        expect(health.locator(".last-error")).to_have_text("none")
        snapshot = health.locator("img.camera-snapshot")
        expect(snapshot).to_have_js_property("complete", True)
        expect(snapshot).to_have_js_property("naturalWidth", 640)
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=ARTIFACTS / "11-camera-health.png", full_page=True)
    finally:
        context.close()
