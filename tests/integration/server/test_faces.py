"""Enrolment photos: one usable face per photo or a per-file reason; nothing half-written."""

from __future__ import annotations

import io
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from fastapi.testclient import TestClient
from PIL import Image, ImageFilter

from facewatch.config import Settings
from facewatch.server.infra.runtime import Runtime
from facewatch.server.services.enrollment import Upload, add_faces
from facewatch.store.embeddings import embedding_from_bytes
from facewatch.vision.augment import enrolment_template
from facewatch.vision.image import decode_image
from facewatch.vision.pipeline import create_analyzer
from support import assert_error, blob_files

EXAMPLES = "face_recognition_examples/examples"


@pytest.fixture
def person(client: TestClient, admin: dict[str, str], request: pytest.FixtureRequest) -> str:
    name = f"enrolee {request.node.name}"[:200]
    created = client.post("/api/v1/people", json={"name": name}, headers=admin)
    return f"/api/v1/people/{created.json()['id']}"


def jpeg(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.convert("RGB").save(buffer, "JPEG")
    return buffer.getvalue()


def test_a_good_photo_becomes_a_template(
    client: TestClient, admin: dict[str, str], person: str, testdata: Path
) -> None:
    photo = testdata / EXAMPLES / "obama.jpg"
    response = client.post(
        f"{person}/faces", files=[("images", ("obama.jpg", photo.read_bytes()))], headers=admin
    )
    assert response.status_code == 201, response.text
    [template] = response.json()["accepted"]
    assert template["model"]
    assert 0 < template["quality"] <= 1
    assert client.get(person, headers=admin).json()["templates"] == 1


def test_each_refused_photo_gets_its_own_reason(
    client: TestClient, admin: dict[str, str], person: str, testdata: Path, settings: Settings
) -> None:
    obama = (testdata / EXAMPLES / "obama.jpg").read_bytes()
    sharp = Image.open(io.BytesIO(obama))
    files = [
        ("images", ("good.jpg", obama)),
        ("images", ("again.jpg", obama)),
        ("images", ("two.jpg", (testdata / EXAMPLES / "two_people.jpg").read_bytes())),
        ("images", ("dogs.jpg", (testdata / "dlib_faces/dogs.jpg").read_bytes())),
        ("images", ("blurred.jpg", jpeg(sharp.filter(ImageFilter.GaussianBlur(10))))),
        ("images", ("tiny.jpg", jpeg(sharp.resize((sharp.width // 8, sharp.height // 8))))),
        ("images", ("notes.txt", b"these are not the pixels you are looking for")),
        ("images", ("empty.jpg", b"")),
        ("images", ("cut.jpg", obama[: len(obama) // 3])),
    ]
    # obama.jpg is enrolled for other people of this module too: allowed here on purpose.
    allowed = {"allow_duplicate": "true"}
    response = client.post(f"{person}/faces", files=files, data=allowed, headers=admin)
    assert response.status_code == 201, response.text
    body = response.json()
    assert len(body["accepted"]) == 1
    reasons = {r["file"]: r["reason"] for r in body["rejected"]}
    assert reasons == {
        "again.jpg": "duplicate",
        "two.jpg": "several_faces",
        "dogs.jpg": "no_face",
        "blurred.jpg": "too_blurry",
        "tiny.jpg": "too_small",
        "notes.txt": "unsupported_media_type",
        "empty.jpg": "invalid_image",
        "cut.jpg": "invalid_image",
    }


def test_when_no_photo_is_usable_nothing_is_stored(
    client: TestClient, admin: dict[str, str], person: str, testdata: Path, settings: Settings
) -> None:
    blobs_before = blob_files(settings)
    files = [
        ("images", ("dogs.jpg", (testdata / "dlib_faces/dogs.jpg").read_bytes())),
        ("images", ("two.jpg", (testdata / EXAMPLES / "two_people.jpg").read_bytes())),
    ]
    response = client.post(f"{person}/faces", files=files, headers=admin)
    assert_error(response, 422, "face_rejected")
    assert len(response.json()["rejected"]) == 2
    assert client.get(person, headers=admin).json()["templates"] == 0
    assert blob_files(settings) == blobs_before


def test_photos_for_an_unknown_person_are_404_and_leave_nothing(
    client: TestClient, admin: dict[str, str], testdata: Path, settings: Settings
) -> None:
    blobs_before = blob_files(settings)
    photo = (testdata / EXAMPLES / "biden.jpg").read_bytes()
    response = client.post(
        "/api/v1/people/987654/faces", files=[("images", ("b.jpg", photo))], headers=admin
    )
    assert_error(response, 404)
    assert blob_files(settings) == blobs_before


def test_a_json_body_instead_of_a_multipart_upload_is_415(
    client: TestClient, admin: dict[str, str], person: str
) -> None:
    response = client.post(f"{person}/faces", json={"images": ["x"]}, headers=admin)
    assert_error(response, 415, "unsupported_media_type")


def test_a_multipart_body_without_images_is_422(
    client: TestClient, admin: dict[str, str], person: str
) -> None:
    response = client.post(f"{person}/faces", files={"photo": ("a.jpg", b"x")}, headers=admin)
    assert_error(response, 422, "validation_error")


def test_a_body_over_the_request_limit_is_413(
    client: TestClient, admin: dict[str, str], person: str, settings: Settings
) -> None:
    big = b"\0" * (settings.max_request_bytes + 1)
    response = client.post(f"{person}/faces", files={"images": ("big.jpg", big)}, headers=admin)
    assert_error(response, 413, "payload_too_large")


def test_a_file_over_the_upload_limit_is_refused_on_its_own(
    client: TestClient, admin: dict[str, str], person: str, testdata: Path, settings: Settings
) -> None:
    big = b"\xff\xd8" + b"\0" * settings.max_upload_bytes
    files = [
        ("images", ("big.jpg", big)),
        ("images", ("ok.jpg", (testdata / EXAMPLES / "obama2.jpg").read_bytes())),
    ]
    response = client.post(f"{person}/faces", files=files, headers=admin)
    assert response.status_code == 201, response.text
    assert response.json()["rejected"][0]["reason"] == "payload_too_large"


def _stored_template(runtime: Runtime, template_id: int) -> np.ndarray:
    with runtime.uow() as uow:
        return embedding_from_bytes(uow.templates.get(template_id).embedding or b"")


@pytest.mark.parametrize(("jitter", "in_workers"), [(True, True), (True, False), (False, True)])
def test_a_template_is_the_mean_of_jittered_copies_unless_turned_off(
    runtime: Runtime, testdata: Path, jitter: bool, in_workers: bool
) -> None:
    photo = (testdata / EXAMPLES / "obama.jpg").read_bytes()
    settings = runtime.settings.model_copy(update={"enrolment_jitter": jitter})
    # The app analyses in worker processes; the CLI in its own process.
    local = replace(runtime, settings=settings, _pool=runtime._pool if in_workers else None)
    assert (local._pool is not None) is in_workers
    with runtime.uow() as uow:
        person = uow.people.add(f"jitter {jitter} {in_workers}")
        uow.commit()
        person_id = person.id
    image = decode_image(photo, max_pixels=runtime.settings.max_image_pixels)
    analyzer = create_analyzer(runtime.settings)
    [face] = analyzer.analyze(image)
    assert face.embedding is not None

    added = add_faces(local, person_id, [Upload("obama.jpg", photo)], allow_duplicate=True)
    [template] = added.accepted

    stored = _stored_template(runtime, template.id)
    expected = enrolment_template(analyzer.embedder, image, face) if jitter else face.embedding
    assert np.allclose(stored, expected, atol=1e-3)
    assert bool(np.linalg.norm(stored - face.embedding) > 0.02) is jitter
