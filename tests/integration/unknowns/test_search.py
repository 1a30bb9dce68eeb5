"""Search by photo or from a detection, across people and strangers, by time and camera."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from PIL import Image

from facewatch.server.infra.runtime import Runtime
from integration.unknowns.faces import Ingest, jpeg
from support import assert_error

SEARCH = "/api/v1/search"


@pytest.fixture(scope="module")
def seen(client: TestClient, admin: dict[str, str], ingest: Ingest, knn: Path) -> dict[str, Any]:
    """Biden (a stranger) at the gate then in the lobby, Obama at the gate, and Kit (enrolled)."""
    created = client.post("/api/v1/people", json={"name": "kit"}, headers=admin).json()
    photo = knn / "train/kit_harington/john1.jpeg"
    files = [("images", (photo.name, photo.read_bytes()))]
    assert (
        client.post(f"/api/v1/people/{created['id']}/faces", files=files, headers=admin).status_code
        == 201
    )
    return {
        "biden_gate": ingest(
            jpeg(knn / "train/biden/biden.jpg"), "gate", captured_at="2026-11-20T09:00:00Z"
        )[0],
        "obama_gate": ingest(
            jpeg(knn / "train/obama/obama.jpg"), "gate", captured_at="2026-11-20T09:05:00Z"
        )[0],
        "biden_lobby": ingest(
            jpeg(knn / "train/biden/biden2.jpg"), "lobby", captured_at="2026-11-20T10:00:00Z"
        )[0],
        "kit_lobby": ingest(
            jpeg(knn / "train/kit_harington/john2.jpeg"),
            "lobby",
            captured_at="2026-11-20T10:30:00Z",
        )[0],
        "kit_id": created["id"],
    }


def search_photo(
    client: TestClient, admin: dict[str, str], photo: Path, **form: str
) -> dict[str, Any]:
    response = client.post(
        SEARCH, files={"image": (photo.name, jpeg(photo))}, data=form, headers=admin
    )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def test_a_stranger_is_found_by_photo_wherever_they_were_seen(
    client: TestClient, admin: dict[str, str], seen: dict[str, Any], knn: Path
) -> None:
    found = search_photo(client, admin, knn / "train/biden/biden.jpg")
    [biden] = [
        i for i in found["identities"] if i["unknown_id"] == seen["biden_gate"]["unknown_id"]
    ]
    assert (biden["kind"], biden["sightings"], biden["cameras"]) == (
        "unknown",
        2,
        ["gate", "lobby"],
    )
    ids = {s["id"] for s in found["sightings"]}
    assert ids == {seen["biden_gate"]["id"], seen["biden_lobby"]["id"]}
    assert seen["obama_gate"]["id"] not in ids


@pytest.mark.parametrize(
    ("filters", "expected"),
    [
        ({"since": "2026-11-20T09:30:00Z"}, ["biden_lobby"]),
        ({"until": "2026-11-20T09:30:00Z"}, ["biden_gate"]),
        ({"camera_id": "gate"}, ["biden_gate"]),
        ({"camera_id": "yard"}, []),
    ],
    ids=["since", "until", "camera", "elsewhere"],
)
def test_time_and_camera_filters_narrow_the_sightings(
    client: TestClient,
    admin: dict[str, str],
    seen: dict[str, Any],
    knn: Path,
    filters: dict[str, str],
    expected: list[str],
) -> None:
    found = search_photo(client, admin, knn / "train/biden/biden.jpg", **filters)
    assert {s["id"] for s in found["sightings"]} == {seen[key]["id"] for key in expected}


def runtime_of(client: TestClient) -> Runtime:
    runtime: Runtime = client.app.state.runtime  # type: ignore[attr-defined]
    return runtime


def test_a_search_from_a_detection_finds_the_same_face_elsewhere(
    client: TestClient, admin: dict[str, str], seen: dict[str, Any]
) -> None:
    response = client.get(f"{SEARCH}/detections/{seen['biden_lobby']['id']}", headers=admin)
    assert response.status_code == 200, response.text
    found = response.json()
    assert [s["id"] for s in found["sightings"]] == [seen["biden_gate"]["id"]]
    assert (
        found["sightings"][0]["search_distance"] <= runtime_of(client).recognition.match_threshold
    )


def test_an_enrolled_person_is_found_with_their_name(
    client: TestClient, admin: dict[str, str], seen: dict[str, Any], knn: Path
) -> None:
    found = search_photo(client, admin, knn / "train/kit_harington/john1.jpeg")
    [kit] = [i for i in found["identities"] if i["kind"] == "person"]
    assert (kit["person_id"], kit["name"]) == (seen["kit_id"], "kit")
    assert kit["sightings"] == 1


def test_a_photo_without_a_face_is_refused(client: TestClient, admin: dict[str, str]) -> None:
    buffer = io.BytesIO()
    Image.new("RGB", (200, 200), "gray").save(buffer, "JPEG")
    response = client.post(SEARCH, files={"image": ("wall.jpg", buffer.getvalue())}, headers=admin)
    assert_error(response, 422, "no_face")
