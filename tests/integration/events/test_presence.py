"""Who is where now (GET /api/v1/presence) through the real app, with real faces: each
identity at the camera that saw it last, by zone, restricted zones first, violations marked."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from integration.events.live import LiveServer

PRESENCE = "/api/v1/presence"
Ingest = Callable[..., dict[str, Any]]
Board = dict[str, Any]


def make_zone(live: LiveServer, cameras: list[str], **fields: Any) -> str:
    zone_id = f"zone-{uuid.uuid4().hex[:8]}"
    body = {"id": zone_id, "name": zone_id, "cameras": cameras, **fields}
    created = live.client.post("/api/v1/zones", json=body, headers=live.admin)
    assert created.status_code == 201, created.text
    return zone_id


def board(live: LiveServer, headers: dict[str, str], minutes: int = 15) -> Board:
    response = live.client.get(PRESENCE, params={"minutes": minutes}, headers=headers)
    assert response.status_code == 200, response.text
    found: Board = response.json()
    return found


def camera_in(found: Board, camera_id: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """The zone and the camera entry of ``camera_id`` on a board."""
    for zone in found["zones"]:
        for camera in zone["cameras"]:
            if camera["camera_id"] == camera_id:
                return zone, camera
    raise AssertionError(f"camera {camera_id} is not on the board")


def who(camera: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The presences at a camera by name (strangers by their unknown id)."""
    return {p["name"] or p["unknown_id"]: p for p in camera["present"]}


def test_people_and_strangers_are_shown_under_their_zone_with_violations_marked(
    live: LiveServer,
    ingest: Ingest,
    enrolled: dict[str, int],
    camera: Callable[[], str],
    read_key: dict[str, str],
) -> None:
    vault, hall = camera(), camera()
    zone = make_zone(live, [vault], restricted=True, categories=["staff"])
    obama = ingest("obama", vault)
    stranger = ingest("stranger_kit", vault)
    biden = ingest("biden", hall)

    found = board(live, read_key)
    restricted = [z["restricted"] for z in found["zones"]]
    assert restricted == sorted(restricted, reverse=True)  # restricted zones first
    vault_zone, at_vault = camera_in(found, vault)
    assert (vault_zone["zone_id"], vault_zone["restricted"]) == (zone, True)
    present = who(at_vault)
    assert set(present) == {"obama", stranger["unknown_id"]}
    assert present["obama"]["violation"] is None  # staff may be in the vault
    assert present["obama"]["severity"] == "info"
    assert present["obama"]["detection_id"] == obama["id"]
    assert present["obama"]["crop_sha256"] == obama["crop_sha256"]
    alert = present[stranger["unknown_id"]]
    assert (alert["severity"], alert["violation"]) == ("critical", "stranger in a restricted zone")
    assert vault_zone["violations"] == 1
    hall_zone, at_hall = camera_in(found, hall)
    assert hall_zone["zone_id"] is None
    assert who(at_hall)["biden"]["violation"] == "watchlist"
    assert who(at_hall)["biden"]["detection_id"] == biden["id"]


def test_someone_seen_on_two_cameras_is_where_they_were_seen_last(
    live: LiveServer, ingest: Ingest, camera: Callable[[], str], read_key: dict[str, str]
) -> None:
    gate, lobby = camera(), camera()
    now = datetime.now(UTC)
    ingest("alex_lacamoire", gate, now - timedelta(minutes=3))
    later = ingest("alex_lacamoire", lobby, now - timedelta(minutes=1))

    found = board(live, read_key)
    assert who(camera_in(found, gate)[1]) == {}
    [alex] = camera_in(found, lobby)[1]["present"]
    assert (alex["name"], alex["detection_id"]) == ("alex_lacamoire", later["id"])
    assert alex["sightings"] >= 2
    assert datetime.fromisoformat(alex["last_seen"]) == datetime.fromisoformat(later["captured_at"])


def test_a_face_older_than_the_window_is_not_on_the_board(
    live: LiveServer, ingest: Ingest, camera: Callable[[], str], read_key: dict[str, str]
) -> None:
    attic = camera()
    # A face no other test shows: a later sighting elsewhere would move it off this camera.
    ingest("stranger_aaron", attic, datetime.now(UTC) - timedelta(minutes=30))
    assert who(camera_in(board(live, read_key, minutes=15), attic)[1]) == {}
    assert len(camera_in(board(live, read_key, minutes=60), attic)[1]["present"]) == 1


@pytest.mark.parametrize("minutes", ["0", "1441", "soon"])
def test_a_bad_window_is_a_422_with_a_json_body(
    live: LiveServer, read_key: dict[str, str], minutes: str
) -> None:
    response = live.client.get(PRESENCE, params={"minutes": minutes}, headers=read_key)
    assert response.status_code == 422
    assert response.json()["detail"]


def test_the_board_needs_the_read_scope(live: LiveServer, ingest_key: dict[str, str]) -> None:
    assert live.client.get(PRESENCE).status_code == 401
    assert live.client.get(PRESENCE, headers=ingest_key).status_code == 403
