"""One face, one person: a photo enrolled for someone is refused for anyone else (409,
naming them) unless the caller insists, and recognition never names one of two people
the face fits equally."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from PIL import Image

from support import assert_error

EXAMPLES = "face_recognition_examples/examples"


def _person(client: TestClient, admin: dict[str, str], name: str) -> int:
    created = client.post("/api/v1/people", json={"name": name}, headers=admin)
    assert created.status_code == 201, created.text
    person_id: int = created.json()["id"]
    return person_id


def _enrol(
    client: TestClient, admin: dict[str, str], person_id: int, photo: bytes, **form: str
) -> object:
    return client.post(
        f"/api/v1/people/{person_id}/faces",
        files=[("images", ("photo.jpg", photo))],
        data=form,
        headers=admin,
    )


@pytest.fixture(scope="module")
def photo(testdata: Path) -> bytes:
    return (testdata / EXAMPLES / "obama.jpg").read_bytes()


@pytest.fixture(scope="module")
def first_owner(client: TestClient, admin: dict[str, str], photo: bytes) -> int:
    person_id = _person(client, admin, "First Owner")
    assert _enrol(client, admin, person_id, photo).status_code == 201  # type: ignore[attr-defined]
    return person_id


def _recoded(photo: bytes) -> bytes:
    """The same photo saved again: other bytes, the same face."""
    buffer = io.BytesIO()
    Image.open(io.BytesIO(photo)).convert("RGB").save(buffer, "JPEG", quality=85)
    return buffer.getvalue()


@pytest.mark.parametrize("copy", ["same file", "re-encoded"])
def test_a_face_enrolled_for_someone_is_refused_for_another_naming_them(
    client: TestClient, admin: dict[str, str], photo: bytes, first_owner: int, copy: str
) -> None:
    other = _person(client, admin, f"Second Claimant {copy}")
    sent = photo if copy == "same file" else _recoded(photo)
    answer = _enrol(client, admin, other, sent)
    assert_error(answer, 409, "enrolled_for_another_person")  # type: ignore[arg-type]
    body = answer.json()  # type: ignore[attr-defined]
    assert f"person {first_owner} (First Owner)" in body["detail"]
    assert body["rejected"][0]["reason"] == "enrolled_for_another_person"
    assert client.get(f"/api/v1/people/{other}", headers=admin).json()["templates"] == 0


def test_allow_duplicate_enrols_it_anyway_and_recognition_then_names_neither(
    client: TestClient, admin: dict[str, str], photo: bytes, first_owner: int
) -> None:
    twin = _person(client, admin, "Declared Twin")
    answer = _enrol(client, admin, twin, photo, allow_duplicate="true")
    assert answer.status_code == 201, answer.text  # type: ignore[attr-defined]
    seen = client.post(
        "/api/v1/recognize",
        files={"image": ("p.jpg", photo)},
        data={"candidates": "true"},
        headers=admin,
    )
    assert seen.status_code == 200, seen.text
    (face,) = seen.json()["faces"]
    assert face["status"] == "uncertain"  # tied at distance 0: no ground to pick either
    assert {c["person_id"] for c in face["candidates"][:2]} == {first_owner, twin}
