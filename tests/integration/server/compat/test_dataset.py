"""/dataset, /model and /database: people by their old IDs, photos, training, listings."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from facewatch.config import Settings
from facewatch.server.infra.runtime import Runtime
from facewatch.server.schemas import PersonCreate, PersonUpdate
from facewatch.server.services.enrollment import Upload, add_faces
from facewatch.server.services.people import (
    create_person,
    delete_person,
    find_person,
    update_person,
)

Headers = dict[str, str]
PAYLOAD_INVALID = "Input payload validation failed"
MISSING_IMAGE = "Image to add. Missing required parameter in an uploaded file"


def dataset(client: TestClient, headers: Headers) -> dict[str, str]:
    response = client.get("/dataset", headers=headers)
    assert response.status_code == 200, response.text
    return {f["id_name"]: f["number_of_images"] for f in response.json()["face_ids"]}


def person_named(client: TestClient, headers: Headers, name: str) -> dict[str, object] | None:
    response = client.get("/api/v1/people", params={"q": name}, headers=headers)
    return next((p for p in response.json()["items"] if p["name"] == name), None)


@pytest.mark.parametrize(
    ("sent", "stored"),
    [
        ("Bill Gates", "bill_gates"),
        ("ADA", "ada"),
        ("Grace Brewster Hopper", "grace_brewster_hopper"),
        ("already_lower", "already_lower"),
    ],
)
def test_a_new_id_is_stored_lower_cased_with_underscores(
    client: TestClient, admin: Headers, sent: str, stored: str
) -> None:
    response = client.post(f"/dataset/{sent}", headers=admin)
    assert response.status_code == 200, response.text
    assert response.json() is None
    assert dataset(client, admin)[stored] == "0"
    assert person_named(client, admin, stored) is not None


@pytest.mark.parametrize("again", ["Linus Torvalds", "linus_torvalds", "LINUS TORVALDS"])
def test_an_id_that_exists_is_refused_with_the_old_message(
    client: TestClient, admin: Headers, again: str
) -> None:
    client.post("/dataset/Linus Torvalds", headers=admin)
    response = client.post(f"/dataset/{again}", headers=admin)
    assert response.status_code == 400
    assert response.json() == {"message": "ID linus_torvalds already exists."}


def test_the_id_unknown_is_reserved_for_strangers(client: TestClient, admin: Headers) -> None:
    response = client.post("/dataset/Unknown", headers=admin)
    assert response.status_code == 400
    assert "reserved" in response.json()["message"]
    assert "unknown" not in dataset(client, admin)


def test_the_dataset_lists_each_person_with_their_number_of_photos(
    client: TestClient, admin: Headers, compat_enrolled: dict[str, int]
) -> None:
    listed = dataset(client, admin)
    assert {name: listed[name] for name in compat_enrolled} == {
        name: str(count) for name, count in compat_enrolled.items()
    }


@pytest.mark.parametrize(
    ("photo", "reason"),
    [
        ("dlib_faces/dogs.jpg", "no face found"),
        ("face_recognition_examples/examples/two_people.jpg", "several faces"),
    ],
)
def test_a_photo_without_one_usable_face_is_refused_with_a_message(
    client: TestClient, admin: Headers, testdata: Path, photo: str, reason: str
) -> None:
    client.post("/dataset/Photo Check", headers=admin)
    path = testdata / photo
    response = client.post(
        "/dataset/Photo Check/image", files={"image": (path.name, path.read_bytes())}, headers=admin
    )
    assert response.status_code == 400, response.text
    message = response.json()["message"]
    assert message.startswith("Error while adding or training image: ")
    assert reason in message
    assert dataset(client, admin)["photo_check"] == "0"


@pytest.mark.parametrize(
    ("data", "says"),
    [(b"not an image at all", "not an accepted image format"), (b"\xff\xd8\xff\xe0", "")],
)
def test_bytes_that_are_not_a_photo_are_refused_with_a_message(
    client: TestClient, admin: Headers, data: bytes, says: str
) -> None:
    client.post("/dataset/Bytes Check", headers=admin)
    response = client.post(
        "/dataset/Bytes Check/image", files={"image": ("x.jpg", data)}, headers=admin
    )
    assert response.status_code in (400, 415), response.text
    assert says in response.json()["message"]


def test_a_photo_sent_twice_is_accepted_and_counted_once(
    client: TestClient, admin: Headers, johns: Path
) -> None:
    photo = sorted((johns / "John_Savage").iterdir())[0]
    client.post("/dataset/John Savage", headers=admin)
    for _ in range(2):
        response = client.post(
            "/dataset/John Savage/image",
            files={"image": (photo.name, photo.read_bytes())},
            headers=admin,
        )
        assert response.status_code == 200, response.text
    assert dataset(client, admin)["john_savage"] == "1"


def test_a_photo_for_an_id_that_does_not_exist_is_refused(
    client: TestClient, admin: Headers, johns: Path
) -> None:
    photo = sorted((johns / "John_Simm").iterdir())[0]
    image = {"image": (photo.name, photo.read_bytes())}
    response = client.post("/dataset/Nobody Here/image", files=image, headers=admin)
    assert response.status_code == 400
    assert response.json() == {"message": "ID nobody_here does not exist."}


@pytest.mark.parametrize(
    "request_kwargs",
    [{}, {"data": {"image": "a text field"}}, {"files": {"picture": ("a.jpg", b"abc")}}],
    ids=["no body", "a text field", "another field name"],
)
def test_a_request_without_the_image_file_is_refused_as_the_old_parser_did(
    client: TestClient, admin: Headers, request_kwargs: dict[str, object]
) -> None:
    client.post("/dataset/Field Check", headers=admin)
    response = client.post("/dataset/Field Check/image", headers=admin, **request_kwargs)  # type: ignore[arg-type]
    assert response.status_code == 400
    assert response.json() == {"errors": {"image": MISSING_IMAGE}, "message": PAYLOAD_INVALID}


def test_deleting_an_id_removes_the_person_with_photos_and_detections(
    client: TestClient, admin: Headers, johns: Path
) -> None:
    photos = sorted((johns / "John_Shimkus").iterdir())
    client.post("/dataset/John Shimkus", headers=admin)
    image = {"image": (photos[0].name, photos[0].read_bytes())}
    assert client.post("/dataset/John Shimkus/image", files=image, headers=admin).status_code == 200
    probe = {"image": (photos[1].name, photos[1].read_bytes())}
    stored = client.post(
        "/face-recognition/store-results",
        files=probe,
        data={"camera_id": "del-cam", "location_id": "hall"},
        headers=admin,
    )
    assert stored.status_code == 200, stored.text
    person = person_named(client, admin, "john_shimkus")
    assert person is not None

    response = client.delete("/dataset/John Shimkus", headers=admin)

    assert response.status_code == 200, response.text
    assert response.json() is None
    assert client.get(f"/api/v1/people/{person['id']}", headers=admin).status_code == 404
    detections = client.get("/api/v1/detections", params={"camera_id": "del-cam"}, headers=admin)
    assert [d["person_id"] for d in detections.json()["items"]] == []
    assert "john_shimkus" not in dataset(client, admin)


def test_deleting_an_id_that_does_not_exist_is_refused(client: TestClient, admin: Headers) -> None:
    response = client.delete("/dataset/Never Added", headers=admin)
    assert response.status_code == 400
    assert response.json() == {"message": "ID never_added does not exist."}


@pytest.mark.parametrize("path", ["/model/train", "/model/optimized-train", "/model/generate-emb"])
def test_training_routes_answer_200_with_no_body(
    client: TestClient, admin: Headers, path: str
) -> None:
    response = client.post(path, headers=admin)
    assert response.status_code == 200, response.text
    assert response.json() is None


@pytest.fixture(scope="module")
def lfw(testdata: Path) -> Path:
    return testdata / "lfw_devtrain/lfw"


@pytest.fixture(scope="module")
def no_background_sync(client: TestClient) -> None:
    """Stop this server's own gallery sync (for the rest of the module): what another
    replica changes then reaches this one only through the training routes."""
    app = client.app
    assert isinstance(app, FastAPI)
    app.state.replicas.gallery_sync.stop()


@pytest.fixture
def other_replica(settings: Settings) -> Iterator[Runtime]:
    """A second server process on the same database and blobs (its own gallery)."""
    runtime = Runtime.open(settings)
    yield runtime
    runtime.close()


def enrol_on(runtime: Runtime, name: str, photos: list[Path]) -> int:
    person = create_person(runtime, PersonCreate(name=name))
    uploads = [Upload(p.name, p.read_bytes()) for p in photos]
    assert add_faces(runtime, person.id, uploads).accepted
    return person.id


def top_label(client: TestClient, headers: Headers, photo: Path) -> str:
    probe = {"image": (photo.name, photo.read_bytes())}
    response = client.post("/face-recognition/get-results", files=probe, headers=headers)
    (face,) = response.json()["faces"]
    return str(face["top_prediction"]["label"])


@pytest.mark.usefixtures("no_background_sync")
@pytest.mark.parametrize(
    ("path", "folder"),
    [
        ("/model/train", "John_Salley"),
        ("/model/optimized-train", "John_Schneider"),
        ("/model/generate-emb", "John_Simm"),
    ],
)
def test_a_person_enrolled_through_another_replica_is_recognised_after_training(
    client: TestClient,
    admin: Headers,
    johns: Path,
    other_replica: Runtime,
    path: str,
    folder: str,
) -> None:
    photos = sorted((johns / folder).iterdir())
    enrol_on(other_replica, folder.lower(), photos[:3])

    before = top_label(client, admin, photos[5])
    trained = client.post(path, headers=admin)
    after = top_label(client, admin, photos[5])

    assert trained.status_code == 200
    assert (before, after) == ("unknown", folder.lower())


@pytest.mark.usefixtures("no_background_sync")
def test_a_person_deleted_through_another_replica_is_forgotten_after_training(
    client: TestClient, admin: Headers, lfw: Path, other_replica: Runtime
) -> None:
    photos = sorted((lfw / "Andy_Roddick").iterdir())
    client.post("/dataset/Roddick Deleted", headers=admin)
    for photo in photos[:3]:
        image = {"image": (photo.name, photo.read_bytes())}
        assert client.post("/dataset/Roddick Deleted/image", files=image, headers=admin).is_success
    person = find_person(other_replica, "roddick_deleted")
    assert person is not None
    delete_person(other_replica, person.id)

    before = top_label(client, admin, photos[6])
    client.post("/model/train", headers=admin)
    after = top_label(client, admin, photos[6])

    assert (before, after) == ("roddick_deleted", "unknown")


@pytest.mark.usefixtures("no_background_sync")
def test_a_person_renamed_through_another_replica_has_the_new_id_after_training(
    client: TestClient, admin: Headers, lfw: Path, other_replica: Runtime
) -> None:
    photos = sorted((lfw / "Bill_Simon").iterdir())
    client.post("/dataset/Simon Before", headers=admin)
    image = {"image": (photos[2].name, photos[2].read_bytes())}
    assert client.post("/dataset/Simon Before/image", files=image, headers=admin).is_success
    person = find_person(other_replica, "simon_before")
    assert person is not None
    update_person(other_replica, person.id, PersonUpdate(name="Simon After"))

    before = top_label(client, admin, photos[7])
    client.post("/model/optimized-train", headers=admin)
    after = top_label(client, admin, photos[7])

    assert (before, after) == ("simon_before", "simon_after")


def test_a_person_enrolled_through_facewatch_answers_to_their_old_id(
    client: TestClient, admin: Headers, johns: Path
) -> None:
    created = client.post("/api/v1/people", json={"name": "Marie Curie"}, headers=admin)
    assert created.status_code == 201, created.text
    photo = sorted((johns / "John_Schneider").iterdir())[8]

    image = {"image": (photo.name, photo.read_bytes())}
    added = client.post("/dataset/marie_curie/image", files=image, headers=admin)

    assert added.status_code == 200, added.text
    assert dataset(client, admin)["marie_curie"] == "1"
    assert client.post("/dataset/Marie Curie", headers=admin).status_code == 400


def test_the_people_table_lists_every_id_of_the_dataset(
    client: TestClient, admin: Headers, compat_enrolled: dict[str, int]
) -> None:
    response = client.get("/database/people", headers=admin)
    assert response.status_code == 200
    people = response.json()["people"]
    assert all(set(entry) == {"face_id"} for entry in people)
    assert {entry["face_id"] for entry in people} == set(dataset(client, admin))
    assert set(compat_enrolled) <= {entry["face_id"] for entry in people}
