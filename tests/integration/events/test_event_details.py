"""One event in detail (GET /api/v1/events/{id}/details) through the real app: severity and
whether it asks for acknowledgement, the candidates and distances, camera, zone, the rule."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

from integration.events.live import LiveServer

Ingest = Callable[..., dict[str, Any]]
WaitForEvents = Callable[..., list[dict[str, Any]]]


def details(live: LiveServer, event_id: str, headers: dict[str, str]) -> dict[str, Any]:
    response = live.client.get(f"/api/v1/events/{event_id}/details", headers=headers)
    assert response.status_code == 200, response.text
    found: dict[str, Any] = response.json()
    return found


def test_a_routine_recognition_names_its_candidates_and_asks_for_nothing(
    live: LiveServer,
    ingest: Ingest,
    wait_for_events: WaitForEvents,
    enrolled: dict[str, int],
    camera: Callable[[], str],
    read_key: dict[str, str],
) -> None:
    cam = camera()
    detection = ingest("obama", cam)
    [event] = wait_for_events(1, camera_id=cam)

    found = details(live, event["id"], read_key)
    assert found["event"]["severity"] == "info"
    assert found["needs_acknowledgement"] is False
    assert found["detection"]["id"] == detection["id"]
    first = found["candidates"][0]
    assert (first["person_id"], first["name"], first["named"]) == (enrolled["obama"], "obama", True)
    assert first["distance"] == detection["distance"]
    distances = [c["distance"] for c in found["candidates"]]
    assert distances == sorted(distances)
    assert first["distance"] <= found["match_threshold"]
    assert found["camera"]["id"] == cam
    assert found["zone_detail"] is None
    assert "routine" in found["rule"]
    assert found["frame_stored"] is False


def test_a_stranger_in_a_restricted_zone_is_critical_and_says_why(
    live: LiveServer,
    ingest: Ingest,
    wait_for_events: WaitForEvents,
    enrolled: dict[str, int],
    camera: Callable[[], str],
    read_key: dict[str, str],
) -> None:
    cam = camera()
    zone_id = f"zone-{uuid.uuid4().hex[:8]}"
    body = {"id": zone_id, "name": "Server room", "cameras": [cam], "restricted": True}
    assert live.client.post("/api/v1/zones", json=body, headers=live.admin).status_code == 201
    ingest("stranger_rose", cam)
    [event] = wait_for_events(1, camera_id=cam)

    found = details(live, event["id"], read_key)
    assert found["event"]["severity"] == "critical"
    assert found["needs_acknowledgement"] is True
    assert found["zone_detail"]["id"] == zone_id
    assert "restricted zone Server room" in found["rule"]
    assert all(not c["named"] for c in found["candidates"])
    assert all(c["distance"] > found["match_threshold"] for c in found["candidates"])


def test_an_unknown_event_is_a_404_with_a_json_body(
    live: LiveServer, read_key: dict[str, str]
) -> None:
    response = live.client.get(f"/api/v1/events/{uuid.uuid4()}/details", headers=read_key)
    assert response.status_code == 404
    assert response.json()["detail"]
