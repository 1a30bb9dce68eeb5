"""Zones through the API: cameras join and leave, authorisations are replaced, bad input."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import pytest

from integration.events.live import LiveServer

ZONES = "/api/v1/zones"


def new_id(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def person(live: LiveServer, category: str = "staff") -> int:
    created = live.client.post(
        "/api/v1/people", json={"name": new_id("p"), "category": category}, headers=live.admin
    )
    assert created.status_code == 201, created.text
    person_id: int = created.json()["id"]
    return person_id


def create_zone(live: LiveServer, **fields: Any) -> dict[str, Any]:
    body = {"id": new_id("zone"), "name": "Server room", **fields}
    created = live.client.post(ZONES, json=body, headers=live.admin)
    assert created.status_code == 201, created.text
    zone: dict[str, Any] = created.json()
    return zone


def camera_zone(live: LiveServer, camera_id: str) -> str:
    zone: str = live.client.get(f"/api/v1/cameras/{camera_id}", headers=live.admin).json()["zone"]
    return zone


def test_a_zone_is_created_with_its_cameras_people_and_categories(
    live: LiveServer, camera: Callable[[str], str]
) -> None:
    cams, alice = [camera("1"), camera("2")], person(live)
    zone = create_zone(live, cameras=cams, people=[alice], categories=["staff", "guard"])

    assert zone["cameras"] == sorted(cams)
    assert (zone["people"], zone["categories"]) == ([alice], ["guard", "staff"])
    assert zone["restricted"] is True
    assert all(camera_zone(live, cam) == zone["id"] for cam in cams)
    assert live.client.get(f"{ZONES}/{zone['id']}", headers=live.admin).json() == zone


def test_changing_the_cameras_moves_them_in_and_out(
    live: LiveServer, camera: Callable[[str], str]
) -> None:
    staying, leaving, joining = camera("s"), camera("l"), camera("j")
    zone = create_zone(live, cameras=[staying, leaving])

    changed = live.client.patch(
        f"{ZONES}/{zone['id']}", json={"cameras": [staying, joining]}, headers=live.admin
    )
    assert changed.status_code == 200, changed.text
    assert changed.json()["cameras"] == sorted([staying, joining])
    assert camera_zone(live, leaving) == ""


def test_a_camera_moved_to_another_zone_leaves_the_first(
    live: LiveServer, camera: Callable[[str], str]
) -> None:
    cam = camera("m")
    first = create_zone(live, cameras=[cam])
    second = create_zone(live, cameras=[cam])
    assert live.client.get(f"{ZONES}/{first['id']}", headers=live.admin).json()["cameras"] == []
    assert camera_zone(live, cam) == second["id"]


def test_a_change_keeps_the_lists_it_does_not_name(
    live: LiveServer, camera: Callable[[str], str]
) -> None:
    alice, bob = person(live), person(live)
    zone = create_zone(live, cameras=[camera("k")], people=[alice], categories=["staff"])
    changed = live.client.patch(
        f"{ZONES}/{zone['id']}", json={"people": [bob], "restricted": False}, headers=live.admin
    ).json()
    assert (changed["people"], changed["categories"]) == ([bob], ["staff"])
    assert (changed["cameras"], changed["restricted"]) == (zone["cameras"], False)


def test_deleting_a_zone_keeps_its_cameras_in_no_zone(
    live: LiveServer, camera: Callable[[str], str]
) -> None:
    cam = camera("d")
    zone = create_zone(live, cameras=[cam])
    assert live.client.delete(f"{ZONES}/{zone['id']}", headers=live.admin).status_code == 204
    assert live.client.get(f"{ZONES}/{zone['id']}", headers=live.admin).status_code == 404
    assert camera_zone(live, cam) == ""


def test_deleting_a_person_removes_their_authorisation(live: LiveServer) -> None:
    alice = person(live)
    zone = create_zone(live, people=[alice])
    assert live.client.delete(f"/api/v1/people/{alice}", headers=live.admin).status_code == 204
    assert live.client.get(f"{ZONES}/{zone['id']}", headers=live.admin).json()["people"] == []


def test_a_taken_zone_id_is_a_conflict(live: LiveServer) -> None:
    zone = create_zone(live)
    again = live.client.post(ZONES, json={"id": zone["id"], "name": "x"}, headers=live.admin)
    assert again.status_code == 409


BAD_ZONES = {
    "unknown camera": ({"cameras": ["no-such-camera"]}, 400),
    "unknown person": ({"people": [987654]}, 400),
    "bad id": ({"id": "has space"}, 422),
    "bad category": ({"categories": ["Not A Category"]}, 422),
    "unknown field": ({"colour": "red"}, 422),
}


@pytest.mark.parametrize(("fields", "status"), BAD_ZONES.values(), ids=BAD_ZONES)
def test_a_bad_zone_is_refused_and_nothing_is_stored(
    live: LiveServer, fields: dict[str, Any], status: int
) -> None:
    body = {"id": new_id("zone"), "name": "bad", **fields}
    response = live.client.post(ZONES, json=body, headers=live.admin)
    assert response.status_code == status, response.text
    assert live.client.get(f"{ZONES}/{body['id']}", headers=live.admin).status_code in (404, 422)


@pytest.mark.parametrize(
    ("method", "path", "scope", "status"),
    [
        ("get", ZONES, "read", 200),
        ("post", ZONES, "read", 403),
        ("post", ZONES, "enroll", 403),
        ("get", ZONES, None, 401),
    ],
)
def test_reading_zones_needs_read_and_changing_them_admin(
    live: LiveServer, method: str, path: str, scope: str | None, status: int
) -> None:
    headers = live.key(scope) if scope else {}
    body = {"id": new_id("zone"), "name": "x"} if method == "post" else None
    assert live.client.request(method, path, json=body, headers=headers).status_code == status
