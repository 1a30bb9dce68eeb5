"""Recognition through the API: every face, open-set, nothing stored; bad images refused."""

from __future__ import annotations

import io
import struct
import zlib
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from PIL import Image

from facewatch.server.infra.runtime import Runtime
from facewatch.server.routers.recognize import get_recognizer
from facewatch.server.services.recognition import Recognizer
from support import assert_error, upload

RECOGNIZE = "/api/v1/recognize"


def png_claiming(width: int, height: int) -> bytes:
    """A tiny PNG whose header claims a huge size (a decompression bomb's first bytes)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(b"\0" * 64))
        + chunk(b"IEND", b"")
    )


@pytest.mark.parametrize(
    ("photo", "expected"),
    [
        ("alex_lacamoire1.jpg", ["alex_lacamoire"]),
        ("johnsnow_test1.jpg", ["kit_harington"]),
        ("kit_with_rose.jpg", ["kit_harington", "rose_leslie"]),
        ("obama1.jpg", ["obama"]),
        ("obama_and_biden.jpg", ["biden", "obama", "unknown"]),
    ],
)
def test_enrolled_people_are_named_and_strangers_are_unknown(
    client: TestClient,
    runtime: Runtime,
    admin: dict[str, str],
    enrolled: dict[str, int],
    knn: Path,
    photo: str,
    expected: list[str],
) -> None:
    response = client.post(RECOGNIZE, files=upload(knn / "test" / photo), headers=admin)
    assert response.status_code == 200, response.text
    faces = response.json()["faces"]
    names = sorted(f["name"] if f["status"] == "known" else f["status"] for f in faces)
    assert names == expected
    for face in faces:
        if face["status"] == "known":
            assert face["person_id"] == enrolled[face["name"]]
            assert face["distance"] <= runtime.recognition.match_threshold
        else:
            assert face["person_id"] is None


def test_a_face_carries_box_landmarks_confidence_and_candidates(
    client: TestClient, admin: dict[str, str], enrolled: dict[str, int], knn: Path
) -> None:
    response = client.post(
        RECOGNIZE,
        files=upload(knn / "test" / "obama1.jpg"),
        data={"candidates": "true"},
        headers=admin,
    )
    [face] = response.json()["faces"]
    left, top, right, bottom = face["box"]
    assert 0 <= left < right
    assert 0 <= top < bottom
    assert len(face["landmarks"]) == 5
    assert 0.5 < face["confidence"] <= 1
    distances = [c["distance"] for c in face["candidates"]]
    assert face["candidates"][0]["name"] == "obama"
    assert distances == sorted(distances)
    assert len(distances) == 3


def test_recognising_stores_nothing(
    client: TestClient, admin: dict[str, str], enrolled: dict[str, int], knn: Path
) -> None:
    before = client.get("/api/v1/detections", headers=admin).json()["total"]
    client.post(RECOGNIZE, files=upload(knn / "test" / "obama1.jpg"), headers=admin)
    assert client.get("/api/v1/detections", headers=admin).json()["total"] == before


def test_an_image_without_faces_gives_an_empty_list(
    client: TestClient, admin: dict[str, str], testdata: Path
) -> None:
    response = client.post(RECOGNIZE, files=upload(testdata / "dlib_faces/dogs.jpg"), headers=admin)
    assert response.status_code == 200
    assert response.json()["faces"] == []


def test_odd_but_valid_images_are_read(
    client: TestClient, admin: dict[str, str], enrolled: dict[str, int], testdata: Path
) -> None:
    png32 = testdata / "face_recognition_examples/tests/test_images/32bit.png"
    response = client.post(RECOGNIZE, files=upload(png32), headers=admin)
    assert response.status_code == 200, response.text


def _jpeg_bytes() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (64, 64), "grey").save(buffer, "JPEG")
    return buffer.getvalue()


@pytest.mark.parametrize(
    ("content", "status", "code"),
    [
        (b"", 400, "invalid_image"),
        (b"hello, I am a text file\n", 415, "unsupported_media_type"),
        (b"%PDF-1.4 not an image", 415, "unsupported_media_type"),
        (_jpeg_bytes()[:200], 400, "invalid_image"),
        (png_claiming(50_000, 50_000), 413, "payload_too_large"),
    ],
    ids=["empty", "text", "pdf", "truncated-jpeg", "pixel-bomb"],
)
def test_bad_images_get_a_clear_4xx(
    client: TestClient, admin: dict[str, str], content: bytes, status: int, code: str
) -> None:
    response = client.post(RECOGNIZE, files={"image": ("x.jpg", content)}, headers=admin)
    assert_error(response, status, code)


def test_a_form_without_the_image_field_is_422(client: TestClient, admin: dict[str, str]) -> None:
    response = client.post(RECOGNIZE, files={"picture": ("a.jpg", b"x")}, headers=admin)
    assert_error(response, 422, "validation_error")


def test_a_raw_body_instead_of_multipart_is_415(client: TestClient, admin: dict[str, str]) -> None:
    headers = {**admin, "content-type": "image/jpeg"}
    assert_error(client.post(RECOGNIZE, content=_jpeg_bytes(), headers=headers), 415)


def test_a_face_box_sent_with_a_crop_gives_that_face_named(
    client: TestClient, admin: dict[str, str], enrolled: dict[str, int], knn: Path
) -> None:
    path = knn / "test" / "obama_and_biden.jpg"
    photo = Image.open(path).convert("RGB")
    whole = client.post(RECOGNIZE, files=upload(path), headers=admin)
    obama = next(f for f in whole.json()["faces"] if f.get("name") == "obama")
    left, top, right, bottom = obama["box"]
    # A crop that also holds part of a neighbour: the box says which face is meant.
    margin = right - left
    origin = (max(left - margin, 0), max(top - margin, 0))
    crop = photo.crop((*origin, right + margin, bottom + margin))
    buffer = io.BytesIO()
    crop.save(buffer, "JPEG", quality=90)
    inside = [left - origin[0], top - origin[1], right - origin[0], bottom - origin[1]]

    response = client.post(
        RECOGNIZE,
        files={"image": ("crop.jpg", buffer.getvalue())},
        data={"face_box": ",".join(map(str, inside))},
        headers=admin,
    )

    assert response.status_code == 200, response.text
    (face,) = response.json()["faces"]
    assert face["name"] == "obama"
    assert abs(face["box"][0] - inside[0]) < 0.2 * (right - left)


@pytest.mark.parametrize("face_box", ["1,2,3", "a,b,c,d", "10,10,5,20", "0,0,9999999,10"])
def test_a_bad_face_box_is_400(
    client: TestClient, admin: dict[str, str], knn: Path, face_box: str
) -> None:
    response = client.post(
        RECOGNIZE,
        files=upload(knn / "test" / "obama1.jpg"),
        data={"face_box": face_box},
        headers=admin,
    )
    assert_error(response, 400, "invalid_input")


def test_a_full_recognise_queue_answers_503_with_retry_after_and_a_json_body(
    client: TestClient, runtime: Runtime, admin: dict[str, str], knn: Path
) -> None:
    full = Recognizer(runtime)
    full.capacity = 0  # every place taken
    client.app.dependency_overrides[get_recognizer] = lambda: full  # type: ignore[attr-defined]
    try:
        response = client.post(RECOGNIZE, files=upload(knn / "test" / "obama1.jpg"), headers=admin)
    finally:
        client.app.dependency_overrides.clear()  # type: ignore[attr-defined]

    assert_error(response, 503, "overloaded")
    assert int(response.headers["Retry-After"]) >= 1
    assert full.held == 0
    again = client.post(RECOGNIZE, files=upload(knn / "test" / "obama1.jpg"), headers=admin)
    assert again.status_code == 200, again.text
