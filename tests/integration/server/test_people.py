"""People through the API: create, search, read, change, delete, and bad input."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from facewatch.config import Settings
from support import assert_error, blob_files


def create(client: TestClient, headers: dict[str, str], **body: object) -> dict[str, object]:
    response = client.post("/api/v1/people", json=body, headers=headers)
    assert response.status_code == 201, response.text
    result: dict[str, object] = response.json()
    return result


def test_a_person_is_created_read_changed_and_deleted(
    client: TestClient, admin: dict[str, str]
) -> None:
    person = create(client, admin, name="Grace Hopper", category="staff", notes="badge 7")
    url = f"/api/v1/people/{person['id']}"
    assert client.get(url, headers=admin).json()["notes"] == "badge 7"

    changed = client.patch(url, json={"category": "watchlist"}, headers=admin)
    assert changed.json()["category"] == "watchlist"
    assert changed.json()["name"] == "Grace Hopper"

    assert client.delete(url, headers=admin).status_code == 204
    assert_error(client.get(url, headers=admin), 404, "not_found")


def test_people_are_searched_by_part_of_the_name_in_any_case(
    client: TestClient, admin: dict[str, str]
) -> None:
    create(client, admin, name="Ada Lovelace")
    create(client, admin, name="Alan Turing")
    found = client.get("/api/v1/people", params={"q": "LOVE"}, headers=admin).json()
    assert [p["name"] for p in found["items"]] == ["Ada Lovelace"]
    assert found["total"] == 1


def test_a_list_is_paginated(client: TestClient, admin: dict[str, str]) -> None:
    for i in range(3):
        create(client, admin, name=f"page person {i}")
    page = client.get(
        "/api/v1/people", params={"q": "page person", "limit": 2, "offset": 1}, headers=admin
    ).json()
    assert page["total"] == 3
    assert [p["name"] for p in page["items"]] == ["page person 1", "page person 2"]


def test_a_taken_name_is_a_conflict(client: TestClient, admin: dict[str, str]) -> None:
    create(client, admin, name="Duplicate Dan")
    again = client.post("/api/v1/people", json={"name": "Duplicate Dan"}, headers=admin)
    assert_error(again, 409, "conflict")


@pytest.mark.parametrize(
    "name",
    ["'; DROP TABLE people; --", "../../etc/passwd", 'O\'Brien "the" <b>bold</b>', "名前 %s %%"],
)
def test_names_with_sql_or_path_characters_are_kept_as_plain_text(
    client: TestClient, admin: dict[str, str], name: str
) -> None:
    person = create(client, admin, name=name)
    assert client.get(f"/api/v1/people/{person['id']}", headers=admin).json()["name"] == name


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"name": ""},
        {"name": "   "},
        {"name": "line\nbreak"},
        {"name": "x" * 201},
        {"name": "ok", "category": "Not A Category!"},
        {"name": "ok", "unexpected": 1},
        {"name": 42},
    ],
)
def test_bad_person_bodies_are_refused_with_422(
    client: TestClient, admin: dict[str, str], body: dict[str, object]
) -> None:
    assert_error(client.post("/api/v1/people", json=body, headers=admin), 422, "validation_error")


def test_a_body_that_is_not_json_is_refused(client: TestClient, admin: dict[str, str]) -> None:
    response = client.post(
        "/api/v1/people",
        content=b"\xff\xfe not json",
        headers={**admin, "content-type": "application/json"},
    )
    assert_error(response, 400, "bad_request")


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/api/v1/people/999999"),
        ("PATCH", "/api/v1/people/999999"),
        ("DELETE", "/api/v1/people/999999"),
        ("GET", "/api/v1/people/999999/last-seen"),
    ],
)
def test_unknown_people_are_404(
    client: TestClient, admin: dict[str, str], method: str, path: str
) -> None:
    body = {"notes": "x"} if method == "PATCH" else None
    assert_error(client.request(method, path, json=body, headers=admin), 404, "not_found")


def test_a_non_numeric_id_is_422(client: TestClient, admin: dict[str, str]) -> None:
    assert_error(client.get("/api/v1/people/abc", headers=admin), 422)


def test_deleting_a_person_removes_templates_photos_detections_and_blobs(
    client: TestClient, admin: dict[str, str], testdata: Path, settings: Settings
) -> None:
    before = blob_files(settings)
    photos = testdata / "face_recognition_examples/examples"
    person = create(client, admin, name="Erased Person")
    url = f"/api/v1/people/{person['id']}"
    files = [("images", (n, (photos / n).read_bytes())) for n in ("biden.jpg",)]
    assert client.post(f"{url}/faces", files=files, headers=admin).status_code == 201
    seen = client.post(
        "/api/v1/detections",
        files={"image": ("b.jpg", (photos / "biden.jpg").read_bytes())},
        data={"camera_id": "erasure-cam"},
        headers=admin,
    ).json()["detections"]
    assert [d["person_id"] for d in seen] == [person["id"]]
    assert len(blob_files(settings)) > len(before)

    assert client.delete(url, headers=admin).status_code == 204
    assert blob_files(settings) == before
    after = client.get(
        "/api/v1/detections", params={"camera_id": "erasure-cam"}, headers=admin
    ).json()
    assert after["total"] == 0
    recognized = client.post(
        "/api/v1/recognize",
        files={"image": ("b.jpg", (photos / "biden.jpg").read_bytes())},
        headers=admin,
    ).json()["faces"]
    assert all(f["person_id"] != person["id"] for f in recognized)
