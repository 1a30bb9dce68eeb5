"""One enrolment photo at a time: list a person's templates, delete one photo, keep the person."""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from facewatch.config import Settings
from facewatch.server.infra.runtime import Runtime
from facewatch.server.infra.sync import GALLERY_CHANNEL
from facewatch.store.embeddings import embedding_from_bytes
from support import assert_error, blob_files

EXAMPLES = "face_recognition_examples/examples"
TRAIN = "knn_examples/train"


@pytest.fixture
def enrol(
    client: TestClient, admin: dict[str, str], testdata: Path, request: pytest.FixtureRequest
) -> Callable[..., tuple[str, list[int]]]:
    """Creates a person with the given example photos; their URL and template ids."""

    def make(label: str, *photos: str) -> tuple[str, list[int]]:
        name = f"{label} {request.node.name}"[:200]
        created = client.post("/api/v1/people", json={"name": name}, headers=admin)
        url = f"/api/v1/people/{created.json()['id']}"
        files = [("images", (p, (testdata / EXAMPLES / p).read_bytes())) for p in photos]
        # Each test has its own photos; allowed twice all the same, so no test hangs on another.
        added = client.post(
            f"{url}/faces", files=files, data={"allow_duplicate": "true"}, headers=admin
        ).json()
        assert not added["rejected"], added
        return url, [t["id"] for t in added["accepted"]]

    return make


def recognized_ids(client: TestClient, admin: dict[str, str], photo: Path) -> list[int | None]:
    faces = client.post(
        "/api/v1/recognize", files={"image": ("x.jpg", photo.read_bytes())}, headers=admin
    ).json()["faces"]
    return [face["person_id"] for face in faces]


def test_a_persons_photos_are_listed_with_their_template_ids(
    client: TestClient, admin: dict[str, str], enrol: Callable[..., tuple[str, list[int]]]
) -> None:
    url, ids = enrol(
        "listed", f"{TRAIN}/kit_harington/john1.jpeg", f"{TRAIN}/kit_harington/john2.jpeg"
    )
    listed = client.get(f"{url}/faces", headers=admin)
    assert listed.status_code == 200, listed.text
    assert [t["id"] for t in listed.json()] == ids
    assert all(t["image_sha256"] and t["model"] for t in listed.json())


def test_deleting_one_photo_keeps_the_person_and_the_other_photo(
    client: TestClient,
    admin: dict[str, str],
    enrol: Callable[..., tuple[str, list[int]]],
    settings: Settings,
    testdata: Path,
) -> None:
    url, (first, second) = enrol("kept", "obama.jpg", "obama2.jpg")
    before = blob_files(settings)

    assert client.delete(f"{url}/faces/{first}", headers=admin).status_code == 204

    assert [t["id"] for t in client.get(f"{url}/faces", headers=admin).json()] == [second]
    assert client.get(url, headers=admin).json()["templates"] == 1
    assert len(blob_files(settings)) == len(before) - 1  # the photo's blob went with it
    person_id = int(url.rsplit("/", 1)[1])
    assert person_id in recognized_ids(client, admin, testdata / EXAMPLES / "obama.jpg")


def test_deleting_the_last_photo_takes_the_person_out_of_the_gallery_at_once(
    client: TestClient,
    admin: dict[str, str],
    enrol: Callable[..., tuple[str, list[int]]],
    runtime: Runtime,
    testdata: Path,
) -> None:
    url, [only] = enrol("last", "biden.jpg")
    person_id = int(url.rsplit("/", 1)[1])
    photo = testdata / EXAMPLES / "biden.jpg"
    assert person_id in recognized_ids(client, admin, photo)
    told = threading.Event()
    runtime.changes.subscribe(GALLERY_CHANNEL, lambda _payload: told.set())

    assert client.delete(f"{url}/faces/{only}", headers=admin).status_code == 204

    assert person_id not in recognized_ids(client, admin, photo)
    assert told.wait(5)  # the other replicas are told to catch up with the database
    assert client.get(url, headers=admin).json()["templates"] == 0  # the person stays


def test_every_models_template_of_the_photo_goes(
    client: TestClient,
    admin: dict[str, str],
    enrol: Callable[..., tuple[str, list[int]]],
    runtime: Runtime,
) -> None:
    url, [serving] = enrol("models", "alex-lacamoire.png")
    with runtime.uow() as uow:  # as a re-embed with another model leaves it
        template = uow.templates.get(serving)
        other = uow.templates.add(
            person_id=template.person_id,
            embedding=embedding_from_bytes(template.embedding)[:128],
            model="dlib_resnet_v1",  # not serving: in no gallery
            quality=template.quality,
            box=template.box,
            image_id=template.image_id,
        )
        uow.commit()
        other_id = other.id
    assert len(client.get(f"{url}/faces", headers=admin).json()) == 2

    assert client.delete(f"{url}/faces/{serving}", headers=admin).status_code == 204
    assert client.get(f"{url}/faces", headers=admin).json() == []
    with runtime.uow() as uow:
        assert all(t.id != other_id for t in uow.templates.list_for_person(template.person_id))


def test_a_template_of_another_person_is_404_and_stays(
    client: TestClient, admin: dict[str, str], enrol: Callable[..., tuple[str, list[int]]]
) -> None:
    mine, _ = enrol("mine", "lin-manuel-miranda.png")
    theirs, [their_template] = enrol("theirs", f"{TRAIN}/rose_leslie/img1.jpg")
    assert_error(client.delete(f"{mine}/faces/{their_template}", headers=admin), 404)
    assert [t["id"] for t in client.get(f"{theirs}/faces", headers=admin).json()] == [
        their_template
    ]


@pytest.mark.parametrize(
    ("path", "status"),
    [
        ("/api/v1/people/999999/faces/1", 404),
        ("/api/v1/people/999999/faces", 404),
        ("/api/v1/people/1/faces/not-a-number", 422),
    ],
)
def test_unknown_people_and_templates_are_refused(
    client: TestClient, admin: dict[str, str], path: str, status: int
) -> None:
    method = client.get if path.endswith("/faces") else client.delete
    assert_error(method(path, headers=admin), status)


def test_deleting_a_photo_needs_scope_enroll(
    client: TestClient,
    make_key: Callable[..., dict[str, str]],
    enrol: Callable[..., tuple[str, list[int]]],
) -> None:
    url, [template] = enrol("scoped", f"{TRAIN}/rose_leslie/img2.jpg")
    reader = make_key("read")
    assert_error(client.delete(f"{url}/faces/{template}", headers=reader), 403)
    assert client.get(f"{url}/faces", headers=reader).status_code == 200
    assert client.delete(f"{url}/faces/{template}", headers=make_key("enroll")).status_code == 204
