"""A camera whose edge agent goes quiet raises camera.stale, and camera.recovered when it
reports again: both reach a real webhook receiver and the real Mosquitto broker.

The silence is made by moving the camera's last heartbeat back in the database, and the
scheduled check is run directly, so the test waits for no clock."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import update

from facewatch.server.services import camera_health
from facewatch.store.models import CameraHealth
from integration.events.live import LiveServer
from integration.events.mqtt_probe import MqttProbe, require_broker
from integration.events.test_webhooks import Receiver

HOOKS = "/api/v1/webhooks"
CAMERA_TYPES = ["camera.stale", "camera.recovered"]


@pytest.fixture(scope="module")
def receiver() -> Iterator[Receiver]:
    receiver = Receiver()
    yield receiver
    receiver.close()


@pytest.fixture(scope="module")
def hook(live: LiveServer, receiver: Receiver) -> Iterator[str]:
    """A webhook for the camera events; the receiver path it posts to."""
    url = receiver.script(200)
    created = live.client.post(
        HOOKS, json={"url": url, "event_types": CAMERA_TYPES}, headers=live.admin
    )
    assert created.status_code == 201, created.text
    yield url
    live.client.delete(f"{HOOKS}/{created.json()['id']}", headers=live.admin)


def heartbeat(live: LiveServer, key: dict[str, str], camera_id: str) -> dict[str, Any]:
    body = {
        "edge_id": "site-b",
        "agent_version": "0.1.0",
        "interval_seconds": 30,
        "outbox_depth": 0,
        "cameras": [
            {
                "camera_id": camera_id,
                "fps_in": 25,
                "fps_processed": 6,
                "frames_dropped": 0,
                "detections_per_minute": 0,
                "detector": "onnx",
            }
        ],
    }
    sent = live.client.post("/api/v1/edge/heartbeat", json=body, headers=key)
    assert sent.status_code == 200, sent.text
    answer: dict[str, Any] = sent.json()
    return answer


def go_quiet(live: LiveServer, camera_id: str) -> None:
    """Move the camera's last heartbeat back past the stale limit."""
    quiet = timedelta(seconds=live.settings.edge_stale_after_seconds + 5)
    with live.runtime.uow() as uow:
        row = uow.camera_health.get(camera_id)
        assert row is not None
        uow.session.execute(
            update(CameraHealth)
            .where(CameraHealth.camera_id == camera_id)
            .values(reported_at=row.reported_at - quiet)
        )
        uow.commit()


def event_of(
    wait_for_events: Callable[..., list[dict[str, Any]]], camera_id: str, kind: str
) -> dict[str, Any]:
    [event] = wait_for_events(1, camera_id=camera_id, type=kind)
    return event


def test_a_quiet_camera_and_its_return_reach_webhooks_and_mqtt(
    live: LiveServer,
    receiver: Receiver,
    hook: str,
    ingest_key: dict[str, str],
    wait_for_events: Callable[..., list[dict[str, Any]]],
) -> None:
    require_broker()
    prefix = live.settings.mqtt_topic_prefix
    cam = f"quiet-{uuid.uuid4().hex[:8]}"
    health_topic = f"{prefix}/cameras/{cam}/health"
    heartbeat(live, ingest_key, cam)
    with MqttProbe([f"{prefix}/events", f"{prefix}/cameras/{cam}/#"]) as probe:
        go_quiet(live, cam)
        assert cam in camera_health.check_stale(live.runtime)
        stale = event_of(wait_for_events, cam, "camera.stale")
        assert (stale["severity"], stale["person_id"], stale["detection_id"]) == (
            "warning",
            None,
            None,
        )
        [posted] = receiver.wait_for(stale["id"], 1)
        assert posted.headers["x-facewatch-event"] == "camera.stale"
        assert posted.event == stale
        on_mqtt = probe.wait_for(lambda m: m.payload and m.json.get("id") == stale["id"], count=2)
        assert {m.topic for m in on_mqtt} == {f"{prefix}/events", f"{prefix}/cameras/{cam}/events"}
        state = probe.wait_for(lambda m: m.topic == health_topic)
        assert state[-1].json["state"] == "stale"

        assert heartbeat(live, ingest_key, cam)["recovered"] == [cam]
        back = event_of(wait_for_events, cam, "camera.recovered")
        assert back["severity"] == "info"
        [posted_back] = receiver.wait_for(back["id"], 1)
        assert posted_back.headers["x-facewatch-event"] == "camera.recovered"
        states = probe.wait_for(lambda m: m.topic == health_topic, count=2)
        assert [m.json["state"] for m in states] == ["stale", "online"]

    # The health state is retained: a client connecting later learns it at once.
    with MqttProbe([health_topic]) as late:
        retained = late.on_topic(health_topic)
        assert retained is not None
        assert retained.retain
        assert retained.json["state"] == "online"


def test_a_camera_goes_stale_once_however_often_the_check_runs(
    live: LiveServer,
    ingest_key: dict[str, str],
    wait_for_events: Callable[..., list[dict[str, Any]]],
    settle: Callable[[], None],
) -> None:
    cam = f"quiet-{uuid.uuid4().hex[:8]}"
    heartbeat(live, ingest_key, cam)
    go_quiet(live, cam)
    runs = [camera_health.check_stale(live.runtime) for _ in range(3)]
    assert [cam in marked for marked in runs] == [True, False, False]
    wait_for_events(1, camera_id=cam)
    settle()
    assert [e["type"] for e in wait_for_events(1, camera_id=cam)] == ["camera.stale"]
