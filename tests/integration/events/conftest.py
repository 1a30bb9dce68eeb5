"""The real app served by uvicorn on 127.0.0.1 (SSE needs a real server), real faces,
a real HTTP receiver for webhooks and the real Mosquitto broker for MQTT.

The server lives for the whole session: starting it and enrolling people costs seconds.
Each test uses cameras of its own, so that cooldowns and filters do not mix tests up.
"""

from __future__ import annotations

import io
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from PIL import Image

from facewatch.config import Settings
from facewatch.server.app import create_app
from facewatch.server.infra.runtime import Runtime
from facewatch.vision.image import decode_image
from integration.events.live import LiveServer
from integration.events.mqtt_probe import HOST as MQTT_HOST
from integration.events.mqtt_probe import PORT as MQTT_PORT
from integration.events.mqtt_probe import broker_answers, clear_retained

EXAMPLES = "face_recognition_examples/examples"
KNN = f"{EXAMPLES}/knn_examples"
# Who is enrolled, in which category, from which photos.
ENROLLED = {"obama": "staff", "biden": "watchlist", "alex_lacamoire": "authorized"}
# One photo per face used in the tests: never an enrolment photo.
PROBES = {
    "obama": f"{KNN}/test/obama1.jpg",
    "biden": f"{EXAMPLES}/biden.jpg",
    "alex_lacamoire": f"{KNN}/test/alex_lacamoire1.jpg",
    "stranger_kit": f"{KNN}/train/kit_harington/john1.jpeg",
    "stranger_rose": f"{KNN}/train/rose_leslie/img1.jpg",
    # Seen by one test only (presence's time window): no other test moves them elsewhere.
    "stranger_aaron": "lfw_devtrain/lfw/Aaron_Eckhart/Aaron_Eckhart_0001.jpg",
}
CROP_SIDE = 320


@pytest.fixture(scope="session")
def event_settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    run = uuid.uuid4().hex[:8]
    return Settings(
        data_dir=tmp_path_factory.mktemp("events-data"),
        event_cooldown_seconds=60,
        sse_heartbeat_seconds=0.5,
        webhook_max_attempts=3,
        webhook_backoff_seconds=0.05,
        webhook_backoff_max_seconds=0.2,
        webhook_timeout_seconds=2,
        mqtt_url=f"mqtt://{MQTT_HOST}:{MQTT_PORT}",
        mqtt_topic_prefix=f"fwtest-{run}",
        ha_discovery_prefix=f"hatest-{run}",
    )


@pytest.fixture(scope="session")
def live(event_settings: Settings) -> Iterator[LiveServer]:
    """The app under uvicorn in a thread, on a free port of 127.0.0.1."""
    app = create_app(event_settings)
    config = uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning", lifespan="on")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name="uvicorn-events", daemon=True)
    thread.start()
    deadline = time.monotonic() + 120
    while not server.started:
        assert thread.is_alive(), "the server failed to start"
        assert time.monotonic() < deadline, "the server did not start within 120 s"
        time.sleep(0.05)
    port = server.servers[0].sockets[0].getsockname()[1]
    runtime: Runtime = app.state.runtime
    url = f"http://127.0.0.1:{port}"
    with httpx.Client(base_url=url, timeout=30) as client:
        live = LiveServer(url, runtime, event_settings, {}, client)
        live.admin = live.key("admin")
        yield live
    server.should_exit = True
    thread.join(30)
    if broker_answers():  # leave no retained test messages in the broker
        clear_retained([event_settings.mqtt_topic_prefix, event_settings.ha_discovery_prefix])


@pytest.fixture(scope="session")
def enrolled(live: LiveServer, testdata: Path) -> dict[str, int]:
    """obama (staff), biden (watchlist), alex_lacamoire (authorized): name -> person id."""
    ids: dict[str, int] = {}
    for name, category in ENROLLED.items():
        created = live.client.post(
            "/api/v1/people", json={"name": name, "category": category}, headers=live.admin
        )
        assert created.status_code == 201, created.text
        ids[name] = created.json()["id"]
        photos = sorted((testdata / KNN / "train" / name).iterdir())
        files = [("images", (p.name, p.read_bytes())) for p in photos]
        added = live.client.post(
            f"/api/v1/people/{ids[name]}/faces", files=files, headers=live.admin
        )
        assert added.status_code == 201, added.text
        assert added.json()["accepted"], added.text
    return ids


@pytest.fixture(scope="session")
def faces(live: LiveServer, testdata: Path) -> dict[str, bytes]:
    """A small JPEG crop around the face of each probe photo (ingest is faster on crops)."""
    return {name: _face_crop(live.runtime, testdata / path) for name, path in PROBES.items()}


def _face_crop(runtime: Runtime, path: Path) -> bytes:
    image = decode_image(path.read_bytes(), max_pixels=runtime.settings.max_image_pixels)
    found = runtime.analyzer.analyze(image)
    assert len(found) == 1, f"{path.name}: expected one face, found {len(found)}"
    box = found[0].box
    margin = max(box.width, box.height) // 2
    picture = Image.open(path).convert("RGB")
    crop = picture.crop(
        (box.left - margin, box.top - margin, box.right + margin, box.bottom + margin)
    )
    crop.thumbnail((CROP_SIDE, CROP_SIDE))
    buffer = io.BytesIO()
    crop.save(buffer, "JPEG", quality=92)
    return buffer.getvalue()


@pytest.fixture(scope="session")
def ingest_key(live: LiveServer) -> dict[str, str]:
    return live.key("ingest")


@pytest.fixture(scope="session")
def read_key(live: LiveServer) -> dict[str, str]:
    return live.key("read")


@pytest.fixture(scope="session")
def ingest(
    live: LiveServer, ingest_key: dict[str, str], faces: dict[str, bytes], enrolled: dict[str, int]
) -> Callable[..., dict[str, Any]]:
    """Ingests the crop of ``who`` on ``camera`` at ``at``; returns the one detection stored."""

    def send(who: str, camera: str, at: datetime | None = None, **form: str) -> dict[str, Any]:
        data = {"camera_id": camera, "captured_at": (at or datetime.now(UTC)).isoformat(), **form}
        response = live.client.post(
            "/api/v1/detections",
            files={"image": (f"{who}.jpg", faces[who])},
            data=data,
            headers=ingest_key,
        )
        assert response.status_code == 201, response.text
        detections: list[dict[str, Any]] = response.json()["detections"]
        assert len(detections) == 1, detections
        return detections[0]

    return send


@pytest.fixture(scope="session")
def wait_for_events(live: LiveServer) -> Callable[..., list[dict[str, Any]]]:
    """Polls the events list (filtered by ``params``) until ``count`` events are there."""

    def wait(count: int, timeout: float = 10.0, **params: Any) -> list[dict[str, Any]]:
        deadline = time.monotonic() + timeout
        while True:
            page = live.client.get("/api/v1/events", params=params, headers=live.admin)
            assert page.status_code == 200, page.text
            items: list[dict[str, Any]] = page.json()["items"]
            if len(items) >= count or time.monotonic() > deadline:
                return items
            time.sleep(0.05)

    return wait


@pytest.fixture(scope="session")
def settle(live: LiveServer) -> Callable[[], None]:
    """Waits until the dispatcher and every queued sink have handled all they were given
    (so that an absence is real, not a delay)."""

    def idle() -> bool:
        stats = live.runtime.events.stats()
        workers = [stats.dispatcher, *stats.sinks]
        return all(
            w is not None and w.queued == 0 and w.handled + w.failed >= w.accepted for w in workers
        )

    def wait(timeout: float = 10.0) -> None:
        deadline = time.monotonic() + timeout
        while not idle():
            if time.monotonic() > deadline:
                pytest.fail("the event path did not catch up")
            time.sleep(0.05)

    return wait


@pytest.fixture
def camera(live: LiveServer, request: pytest.FixtureRequest) -> Callable[[str], str]:
    """Registers a camera whose id is unique to the calling test (and a suffix)."""

    def make(suffix: str = "") -> str:
        camera_id = f"cam-{uuid.uuid4().hex[:10]}{suffix}"
        created = live.client.post(
            "/api/v1/cameras", json={"id": camera_id, "name": camera_id}, headers=live.admin
        )
        assert created.status_code == 201, created.text
        return camera_id

    return make
