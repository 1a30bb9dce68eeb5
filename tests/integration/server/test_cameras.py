"""Cameras through the API."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from support import assert_error


def test_a_camera_is_created_listed_changed_and_deleted(
    client: TestClient, admin: dict[str, str]
) -> None:
    body = {"id": "cam-7", "name": "Back door", "zone": "B", "latitude": 48.85, "longitude": 2.35}
    assert client.post("/api/v1/cameras", json=body, headers=admin).status_code == 201
    assert "cam-7" in [
        c["id"] for c in client.get("/api/v1/cameras", headers=admin).json()["items"]
    ]
    changed = client.patch("/api/v1/cameras/cam-7", json={"zone": "C"}, headers=admin).json()
    assert changed["zone"] == "C"
    assert changed["name"] == "Back door"
    assert client.delete("/api/v1/cameras/cam-7", headers=admin).status_code == 204
    assert_error(client.get("/api/v1/cameras/cam-7", headers=admin), 404)


def test_a_taken_camera_id_is_a_conflict(client: TestClient, admin: dict[str, str]) -> None:
    client.post("/api/v1/cameras", json={"id": "twin", "name": "a"}, headers=admin)
    again = client.post("/api/v1/cameras", json={"id": "twin", "name": "b"}, headers=admin)
    assert_error(again, 409)


@pytest.mark.parametrize(
    "body",
    [
        {"id": "a b", "name": "x"},
        {"id": "../x", "name": "x"},
        {"id": "ok", "name": "x", "latitude": 91},
        {"id": "ok", "name": "x", "longitude": -181},
        {"id": "ok"},
    ],
)
def test_bad_camera_bodies_are_422(
    client: TestClient, admin: dict[str, str], body: dict[str, object]
) -> None:
    assert_error(client.post("/api/v1/cameras", json=body, headers=admin), 422)
