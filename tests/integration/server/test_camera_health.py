"""Edge health through the API: heartbeats, the cameras API, /metrics, stale cameras and
snapshots, on real migrated SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import cv2
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import update

from facewatch.config import Settings
from facewatch.server.infra.runtime import Runtime
from facewatch.server.services import camera_health
from facewatch.store.models import CameraHealth
from support import assert_error, blob_files

HEARTBEAT = "/api/v1/edge/heartbeat"
CLIP = "facenet_pytorch/examples/video.mp4"
STALE_AFTER = 30.0


@pytest.fixture(scope="module")
def settings(tmp_path_factory: pytest.TempPathFactory, app_database_url: str | None) -> Settings:
    """No scheduled check: the tests run it themselves (``camera_health.check_stale``)."""
    return Settings(
        data_dir=tmp_path_factory.mktemp("camera-health"),
        database_url=app_database_url,
        edge_stale_after_seconds=STALE_AFTER,
        edge_health_check_seconds=0,
    )


@pytest.fixture(scope="module")
def ingest(make_key: Callable[..., dict[str, str]]) -> dict[str, str]:
    return make_key("ingest")


@pytest.fixture(scope="module")
def reader(make_key: Callable[..., dict[str, str]]) -> dict[str, str]:
    return make_key("read")


@pytest.fixture(scope="module")
def street_frame(testdata: Path) -> bytes:
    """A 640 px JPEG still of the street clip's first frame, as the agent makes it."""
    capture = cv2.VideoCapture(str(testdata / CLIP))
    ok, bgr = capture.read()
    capture.release()
    assert ok
    return encode_still(bgr[:, :, ::-1], 640, 75)


def encode_still(rgb: Any, width: int, quality: int) -> bytes:
    """A JPEG no wider than ``width`` (what the agent sends; its own tests cover its encoder)."""
    height, current = rgb.shape[:2]
    small = cv2.resize(rgb, (width, round(height * width / current)), interpolation=cv2.INTER_AREA)
    ok, jpeg = cv2.imencode(".jpg", small[:, :, ::-1], [cv2.IMWRITE_JPEG_QUALITY, quality])
    assert ok
    return bytes(jpeg.tobytes())


def heartbeat(*cameras: str, **changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "edge_id": "site-a",
        "agent_version": "0.1.0",
        "embedder": "edgeface_xs_int8",
        "interval_seconds": 30,
        "outbox_depth": 7,
        "outbox_oldest_seconds": 12.5,
        "cameras": [
            {
                "camera_id": camera,
                "fps_in": 25.0,
                "fps_processed": 6.0,
                "frames_dropped": 3,
                "detections_per_minute": 42.0,
                "detector": "onnx",
                "last_error": None,
            }
            for camera in cameras
        ],
    }
    body.update(changes)
    return body


def backdate(runtime: Runtime, camera_id: str, seconds: float) -> None:
    """Make the camera's last heartbeat ``seconds`` older (instead of waiting that long)."""
    with runtime.uow() as uow:
        row = uow.camera_health.get(camera_id)
        assert row is not None
        earlier = row.reported_at - timedelta(seconds=seconds)
        uow.session.execute(
            update(CameraHealth)
            .where(CameraHealth.camera_id == camera_id)
            .values(reported_at=earlier)
        )
        uow.commit()


def test_a_heartbeat_registers_its_cameras_and_the_api_shows_their_health(
    client: TestClient, ingest: dict[str, str], reader: dict[str, str]
) -> None:
    sent = client.post(HEARTBEAT, json=heartbeat("hb-gate", "hb-yard"), headers=ingest)
    assert sent.status_code == 200, sent.text
    assert sent.json() == {"cameras": ["hb-gate", "hb-yard"], "recovered": []}

    camera = client.get("/api/v1/cameras/hb-gate", headers=reader).json()
    health = camera["health"]
    assert camera["name"] == "hb-gate"  # registered as ingest registers a new camera
    assert (health["fps_in"], health["fps_processed"], health["frames_dropped"]) == (25, 6, 3)
    assert health["detections_per_minute"] == 42
    assert (health["outbox_depth"], health["outbox_oldest_seconds"]) == (7, 12.5)
    assert (health["edge_id"], health["agent_version"]) == ("site-a", "0.1.0")
    assert (health["detector"], health["embedder"]) == ("onnx", "edgeface_xs_int8")
    assert health["stale"] is False
    assert health["snapshot_url"] is None
    listed = client.get("/api/v1/cameras", headers=reader).json()["items"]
    assert {c["id"]: c["health"]["fps_in"] for c in listed if c["health"]} == {
        "hb-gate": 25,
        "hb-yard": 25,
    }


def test_a_camera_whose_agent_never_reported_has_no_health(
    client: TestClient, admin: dict[str, str]
) -> None:
    client.post("/api/v1/cameras", json={"id": "hb-silent", "name": "Silent"}, headers=admin)
    assert client.get("/api/v1/cameras/hb-silent", headers=admin).json()["health"] is None


def test_the_latest_heartbeat_replaces_the_one_before(
    client: TestClient, ingest: dict[str, str], reader: dict[str, str]
) -> None:
    client.post(HEARTBEAT, json=heartbeat("hb-again"), headers=ingest)
    later = heartbeat("hb-again", outbox_depth=0, outbox_oldest_seconds=None)
    later["cameras"][0].update(fps_in=12.5, last_error="HTTP 503: busy")
    assert client.post(HEARTBEAT, json=later, headers=ingest).status_code == 200
    health = client.get("/api/v1/cameras/hb-again", headers=reader).json()["health"]
    assert (health["fps_in"], health["outbox_depth"], health["outbox_oldest_seconds"]) == (
        12.5,
        0,
        None,
    )
    assert health["last_error"] == "HTTP 503: busy"


def test_metrics_show_each_cameras_health(client: TestClient, ingest: dict[str, str]) -> None:
    client.post(HEARTBEAT, json=heartbeat("hb-metrics"), headers=ingest)
    text = client.get("/metrics").text
    assert 'facewatch_camera_fps_in{camera="hb-metrics"} 25.0' in text
    assert 'facewatch_camera_fps_processed{camera="hb-metrics"} 6.0' in text
    assert 'facewatch_camera_frames_dropped{camera="hb-metrics"} 3.0' in text
    assert 'facewatch_camera_detections_per_minute{camera="hb-metrics"} 42.0' in text
    assert 'facewatch_camera_outbox_depth{camera="hb-metrics"} 7.0' in text
    assert 'facewatch_camera_outbox_oldest_seconds{camera="hb-metrics"} 12.5' in text
    assert 'facewatch_camera_stale{camera="hb-metrics"} 0.0' in text
    assert (
        'facewatch_camera_agent_info{camera="hb-metrics",detector="onnx",'
        'edge="site-a",embedder="edgeface_xs_int8",version="0.1.0"} 1.0'
    ) in text


def test_a_quiet_camera_goes_stale_once_and_recovers_with_its_next_heartbeat(
    client: TestClient, runtime: Runtime, ingest: dict[str, str], reader: dict[str, str]
) -> None:
    client.post(HEARTBEAT, json=heartbeat("hb-quiet", "hb-busy"), headers=ingest)
    assert "hb-quiet" not in camera_health.check_stale(runtime)
    backdate(runtime, "hb-quiet", STALE_AFTER + 1)

    assert camera_health.check_stale(runtime) == ["hb-quiet"]
    assert camera_health.check_stale(runtime) == []  # marked once, not at every check
    health = client.get("/api/v1/cameras/hb-quiet", headers=reader).json()["health"]
    assert health["stale"] is True
    assert client.get("/api/v1/cameras/hb-busy", headers=reader).json()["health"]["stale"] is False
    assert 'facewatch_camera_stale{camera="hb-quiet"} 1.0' in client.get("/metrics").text

    back = client.post(HEARTBEAT, json=heartbeat("hb-quiet"), headers=ingest).json()
    assert back["recovered"] == ["hb-quiet"]
    assert client.get("/api/v1/cameras/hb-quiet", headers=reader).json()["health"]["stale"] is False
    again = client.post(HEARTBEAT, json=heartbeat("hb-quiet"), headers=ingest).json()
    assert again["recovered"] == []


def test_an_overdue_camera_shows_stale_before_the_check_marks_it(
    client: TestClient, runtime: Runtime, ingest: dict[str, str], reader: dict[str, str]
) -> None:
    client.post(HEARTBEAT, json=heartbeat("hb-overdue"), headers=ingest)
    backdate(runtime, "hb-overdue", STALE_AFTER + 1)
    assert client.get("/api/v1/cameras/hb-overdue", headers=reader).json()["health"]["stale"]


BAD_BODIES: dict[str, Any] = {
    "no cameras": heartbeat(),
    "no edge id": {k: v for k, v in heartbeat("c1").items() if k != "edge_id"},
    "an unknown field": heartbeat("c1", cpu=0.5),
    "a camera twice": heartbeat("c1", "c1"),
    "a bad camera id": heartbeat("../etc"),
    "a negative rate": heartbeat("c1", cameras=[{**heartbeat("c1")["cameras"][0], "fps_in": -1}]),
    "a rate as text": heartbeat("c1", cameras=[{**heartbeat("c1")["cameras"][0], "fps_in": "x"}]),
    "a huge count": heartbeat("c1", outbox_depth=2**40),
    "no interval": heartbeat("c1", interval_seconds=0),
    "a newline in the error": heartbeat(
        "c1", cameras=[{**heartbeat("c1")["cameras"][0], "last_error": "a\nb"}]
    ),
    "a long error": heartbeat(
        "c1", cameras=[{**heartbeat("c1")["cameras"][0], "last_error": "x" * 501}]
    ),
    "a list": [heartbeat("c1")],
}


@pytest.mark.parametrize("body", BAD_BODIES.values(), ids=BAD_BODIES)
def test_bad_heartbeats_are_422_with_a_json_body_and_store_nothing(
    client: TestClient, ingest: dict[str, str], reader: dict[str, str], body: Any
) -> None:
    assert_error(client.post(HEARTBEAT, json=body, headers=ingest), 422, "validation_error")
    assert client.get("/api/v1/cameras/c1", headers=reader).status_code == 404


def test_a_heartbeat_that_is_no_json_is_a_4xx_with_a_json_body(
    client: TestClient, ingest: dict[str, str]
) -> None:
    response = client.post(
        HEARTBEAT, content=b"fps=25", headers={**ingest, "Content-Type": "text/plain"}
    )
    assert_error(response, 422)
    broken = client.post(
        HEARTBEAT, content=b'{"edge_id": ', headers={**ingest, "Content-Type": "application/json"}
    )
    assert_error(broken, 422)


def test_a_heartbeat_needs_the_ingest_scope(
    client: TestClient, reader: dict[str, str], make_key: Callable[..., dict[str, str]]
) -> None:
    assert_error(client.post(HEARTBEAT, json=heartbeat("c1")), 401)
    assert_error(client.post(HEARTBEAT, json=heartbeat("c1"), headers=reader), 403)


def snapshot_of(
    client: TestClient, camera: str, jpeg: bytes, key: dict[str, str], edge_id: str = "site-a"
) -> Any:
    return client.post(
        f"/api/v1/edge/cameras/{camera}/snapshot",
        files={"image": ("snapshot.jpg", jpeg, "image/jpeg")},
        data={"edge_id": edge_id},
        headers=key,
    )


def test_a_snapshot_is_kept_served_and_replaced(
    client: TestClient,
    settings: Settings,
    ingest: dict[str, str],
    reader: dict[str, str],
    street_frame: bytes,
) -> None:
    stored = snapshot_of(client, "hb-still", street_frame, ingest)
    assert stored.status_code == 200, stored.text
    assert (stored.json()["width"], stored.json()["height"]) == (640, 360)
    health = client.get("/api/v1/cameras/hb-still", headers=reader).json()["health"]
    assert health["snapshot_url"] == "/api/v1/cameras/hb-still/snapshot"
    served = client.get(health["snapshot_url"], headers=reader)
    assert served.status_code == 200
    assert served.headers["content-type"] == "image/jpeg"
    assert served.content == street_frame
    first_blobs = blob_files(settings)

    darker = encode_still(cv2.imdecode(_array(street_frame), cv2.IMREAD_COLOR) // 2, 640, 75)
    assert snapshot_of(client, "hb-still", darker, ingest).status_code == 200
    assert client.get(health["snapshot_url"], headers=reader).content == darker
    assert len(blob_files(settings)) == len(first_blobs)  # the old still's blob is gone


def test_a_deleted_camera_takes_its_snapshot_with_it(
    client: TestClient,
    settings: Settings,
    admin: dict[str, str],
    ingest: dict[str, str],
    street_frame: bytes,
) -> None:
    before = blob_files(settings)
    tinted = encode_still(cv2.imdecode(_array(street_frame), cv2.IMREAD_COLOR) // 3, 640, 75)
    assert snapshot_of(client, "hb-gone", tinted, ingest).status_code == 200
    assert len(blob_files(settings)) == len(before) + 1
    assert client.delete("/api/v1/cameras/hb-gone", headers=admin).status_code == 204
    assert blob_files(settings) == before
    assert_error(client.get("/api/v1/cameras/hb-gone/snapshot", headers=admin), 404)


@pytest.mark.parametrize(
    ("payload", "status"),
    [(b"not an image at all", 415), (b"\xff\xd8\xff\xe0" + b"\0" * 64, 400), (b"", 400)],
    ids=["text", "a broken jpeg", "empty"],
)
def test_bad_snapshots_are_refused_with_a_json_body(
    client: TestClient, ingest: dict[str, str], payload: bytes, status: int
) -> None:
    assert_error(snapshot_of(client, "hb-bad-still", payload, ingest), status)


def test_a_png_snapshot_is_415_and_a_bad_edge_id_422(
    client: TestClient, ingest: dict[str, str], street_frame: bytes
) -> None:
    ok, png = cv2.imencode(".png", cv2.imdecode(_array(street_frame), cv2.IMREAD_COLOR))
    assert ok
    assert_error(snapshot_of(client, "hb-png", png.tobytes(), ingest), 415)
    assert_error(snapshot_of(client, "hb-png", street_frame, ingest, edge_id="a b"), 422)


def test_a_camera_without_a_snapshot_answers_404(
    client: TestClient, ingest: dict[str, str], reader: dict[str, str]
) -> None:
    client.post(HEARTBEAT, json=heartbeat("hb-nostill"), headers=ingest)
    assert_error(client.get("/api/v1/cameras/hb-nostill/snapshot", headers=reader), 404)
    assert_error(client.get("/api/v1/cameras/hb-nowhere/snapshot", headers=reader), 404)


def _array(data: bytes) -> Any:
    import numpy as np

    return np.frombuffer(data, dtype=np.uint8)
