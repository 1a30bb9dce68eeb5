"""A person's corrections ("not this person" rules): listed with their face, and undone."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from facewatch.errors import NotFound
from facewatch.server.infra.runtime import Runtime
from facewatch.server.services import unknowns
from integration.unknowns.faces import Ingest, jpeg

pytestmark = pytest.mark.testdata


@pytest.fixture(scope="module")
def obama_id(client: TestClient, admin: dict[str, str], knn: Path) -> int:
    created = client.post("/api/v1/people", json={"name": "obama"}, headers=admin).json()
    files = [("images", (p.name, p.read_bytes())) for p in sorted((knn / "train/obama").iterdir())]
    added = client.post(f"/api/v1/people/{created['id']}/faces", files=files, headers=admin)
    assert added.status_code == 201, added.text
    person_id: int = created["id"]
    return person_id


def test_an_undone_correction_lets_the_face_be_named_again(
    client: TestClient,
    admin: dict[str, str],
    ingest: Ingest,
    knn: Path,
    obama_id: int,
    runtime: Runtime,
) -> None:
    photo = jpeg(knn / "test/obama1.jpg")
    [named] = ingest(photo, camera_id="door")
    marked = client.post(
        f"/api/v1/unknowns/detections/{named['id']}/not",
        json={"person_id": obama_id},
        headers=admin,
    )
    assert marked.status_code == 200, marked.text

    [correction] = unknowns.person_corrections(runtime, obama_id)
    assert correction.detection_id == named["id"]
    assert correction.face is not None
    assert correction.face.unknown_id == marked.json()["moved_to"]
    [refused] = ingest(photo, camera_id="door")
    assert refused["person_id"] is None

    unknowns.undo_correction(runtime, obama_id, correction.id)
    assert unknowns.person_corrections(runtime, obama_id) == []
    [again] = ingest(photo, camera_id="door")
    assert again["person_id"] == obama_id


def test_marking_a_face_not_a_person_twice_keeps_one_rule_and_says_it_was_there(
    client: TestClient,
    admin: dict[str, str],
    ingest: Ingest,
    knn: Path,
    obama_id: int,
    runtime: Runtime,
) -> None:
    [named] = ingest(jpeg(knn / "test/obama1.jpg"), camera_id="door-twice")
    url = f"/api/v1/unknowns/detections/{named['id']}/not"
    first = client.post(url, json={"person_id": obama_id}, headers=admin).json()
    second = client.post(url, json={"person_id": obama_id}, headers=admin).json()

    assert (first["already"], second["already"]) == (False, True)
    assert second["moved_to"] is None
    rules = unknowns.person_corrections(runtime, obama_id)
    assert [rule.detection_id for rule in rules].count(named["id"]) == 1
    [fixed] = unknowns.face_corrections(runtime, [named["id"]]).values()
    assert fixed.not_people == {obama_id: "obama"}
    assert (fixed.person_id, fixed.unknown_id) == (None, first["moved_to"])
    for rule in rules:
        unknowns.undo_correction(runtime, obama_id, rule.id)


def test_a_stranger_marked_not_a_person_is_listed_with_their_best_face(
    client: TestClient,
    admin: dict[str, str],
    ingest: Ingest,
    knn: Path,
    obama_id: int,
    runtime: Runtime,
) -> None:
    [face] = ingest(jpeg(knn / "train/rose_leslie/img1.jpg"))
    url = f"/api/v1/unknowns/{face['unknown_id']}/not"
    assert client.post(url, json={"person_id": obama_id}, headers=admin).status_code == 200
    [rule] = [c for c in unknowns.person_corrections(runtime, obama_id) if c.unknown_id]
    assert rule.unknown_id == face["unknown_id"]
    assert rule.face is not None
    assert rule.face.id == face["id"]


def test_undoing_a_correction_the_person_does_not_have_is_not_found(
    runtime: Runtime, obama_id: int
) -> None:
    with pytest.raises(NotFound):
        unknowns.undo_correction(runtime, obama_id, 10**9)
