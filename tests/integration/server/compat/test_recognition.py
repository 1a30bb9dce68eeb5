"""/face-recognition and last known locations: labels, confidences, boxes, stored detections."""

from __future__ import annotations

import os
import re
import socket
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Protocol

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from facewatch.server.compat.forward import Forwarder
from facewatch.server.compat.routers.face_recognition import get_forwarder

Headers = dict[str, str]
Files = Callable[[str], dict[str, tuple[str, bytes]]]
PAYLOAD_INVALID = "Input payload validation failed"
VALUES = "the JSON body or the post body or the query string"
IMAGE_HELP = "Image with which the face recognition will be performed."
PREDICTIONS_HELP = (
    "Whether to include all possible predictions and their probability for each face in "
    "the response."
)
OLD_TIMESTAMP = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d$")


class Received(Protocol):
    """The receiving server of conftest.py."""

    url: str
    queries: list[dict[str, str]]


@pytest.fixture(autouse=True)
def _people(compat_enrolled: dict[str, int]) -> None:
    """Every test here runs with the five knn_examples people enrolled."""


def get_results(client: TestClient, headers: Headers, **kwargs: object) -> list[dict[str, object]]:
    response = client.post("/face-recognition/get-results", headers=headers, **kwargs)  # type: ignore[arg-type]
    assert response.status_code == 200, response.text
    faces: list[dict[str, object]] = response.json()["faces"]
    return faces


def labels(faces: list[dict[str, object]]) -> list[str]:
    return sorted(str(f["top_prediction"]["label"]) for f in faces)  # type: ignore[index]


def detections(client: TestClient, headers: Headers, camera_id: str) -> list[dict[str, object]]:
    response = client.get("/api/v1/detections", params={"camera_id": camera_id}, headers=headers)
    items: list[dict[str, object]] = response.json()["items"]
    return items


@pytest.mark.parametrize(
    ("photo", "expected"),
    [
        ("alex_lacamoire1.jpg", ["alex_lacamoire"]),
        ("johnsnow_test1.jpg", ["kit_harington"]),
        ("kit_with_rose.jpg", ["kit_harington", "rose_leslie"]),
        ("obama_and_biden.jpg", ["biden", "obama", "unknown"]),
        ("lin-manuel-miranda.png", ["unknown"]),
    ],
)
def test_each_face_is_labelled_with_an_id_or_unknown(
    client: TestClient, admin: Headers, image_of: Files, photo: str, expected: list[str]
) -> None:
    assert labels(get_results(client, admin, files=image_of(photo))) == expected


def test_each_face_has_the_old_shape_with_a_box_and_a_confidence_in_0_1(
    client: TestClient, admin: Headers, image_of: Files
) -> None:
    faces = get_results(client, admin, files=image_of("obama_and_biden.jpg"))
    assert len(faces) == 3
    for face in faces:
        assert set(face) == {"top_prediction", "bounding_box", "all_predictions"}
        top, box = face["top_prediction"], face["bounding_box"]
        assert isinstance(top, dict)
        assert isinstance(box, dict)
        assert set(top) == {"label", "confidence"}
        assert 0.5 < top["confidence"] <= 1
        assert set(box) == {"left", "top", "right", "bottom"}
        assert all(isinstance(v, float) for v in box.values())
        assert box["left"] < box["right"]
        assert box["top"] < box["bottom"]
        assert face["all_predictions"] is None


@pytest.mark.parametrize(
    "how",
    [
        {"data": {"include_predictions": "true"}},
        {"data": {"include_predictions": "1"}},
        {"params": {"include_predictions": "True"}},
    ],
    ids=["form true", "form 1", "query string True"],
)
def test_the_nearest_people_are_included_when_asked(
    client: TestClient, admin: Headers, image_of: Files, how: dict[str, object]
) -> None:
    faces = get_results(client, admin, files=image_of("kit_with_rose.jpg"), **how)
    for face in faces:
        predictions = face["all_predictions"]
        assert isinstance(predictions, list)
        assert 1 <= len(predictions) <= 3
        confidences = [p["confidence"] for p in predictions]
        assert confidences == sorted(confidences, reverse=True)
        assert predictions[0]["label"] == face["top_prediction"]["label"]  # type: ignore[index]
        assert all(0 <= c <= 1 for c in confidences)


@pytest.mark.parametrize("value", ["false", "0", "FALSE", None])
def test_the_nearest_people_are_left_out_unless_asked(
    client: TestClient, admin: Headers, image_of: Files, value: str | None
) -> None:
    data = {} if value is None else {"include_predictions": value}
    faces = get_results(client, admin, files=image_of("obama1.jpg"), data=data)
    assert [f["all_predictions"] for f in faces] == [None]


@pytest.mark.parametrize(
    ("where", "value", "problem"),
    [
        ("data", "maybe", "Invalid literal for boolean(): maybe"),
        ("data", "YES", "Invalid literal for boolean(): yes"),
        ("params", "", "boolean type must be non-null"),
    ],
)
def test_a_malformed_include_predictions_is_refused_as_the_old_parser_did(
    client: TestClient, admin: Headers, image_of: Files, where: str, value: str, problem: str
) -> None:
    response = client.post(
        "/face-recognition/get-results",
        files=image_of("obama1.jpg"),
        headers=admin,
        **{where: {"include_predictions": value}},  # type: ignore[arg-type]
    )
    assert response.status_code == 400
    assert response.json() == {
        "errors": {"include_predictions": f"{PREDICTIONS_HELP} {problem}"},
        "message": PAYLOAD_INVALID,
    }


@pytest.mark.parametrize(
    "path",
    [
        "/face-recognition/get-results",
        "/face-recognition/store-results",
        "/face-recognition/send-results",
        "/face-recognition/dry-run",
    ],
)
def test_a_request_without_an_image_is_refused_as_the_old_parser_did(
    client: TestClient, admin: Headers, path: str
) -> None:
    response = client.post(path, data={"camera_id": "c1", "location_id": "l1"}, headers=admin)
    assert response.status_code == 400
    assert response.json() == {
        "errors": {"image": f"{IMAGE_HELP} Missing required parameter in an uploaded file"},
        "message": PAYLOAD_INVALID,
    }


@pytest.mark.parametrize(
    ("data", "status"),
    [(b"GIF89 not really", 415), (b"\xff\xd8\xff\xe0\x00\x10JFIF", 400), (b"", 400)],
    ids=["not an image", "a truncated JPEG", "an empty file"],
)
def test_bytes_that_are_not_an_image_are_refused_with_a_message(
    client: TestClient, admin: Headers, data: bytes, status: int
) -> None:
    response = client.post(
        "/face-recognition/get-results", files={"image": ("x.jpg", data)}, headers=admin
    )
    assert response.status_code == status, response.text
    assert set(response.json()) == {"message"}
    assert response.json()["message"]


def test_store_results_stores_a_detection_per_face(
    client: TestClient, admin: Headers, image_of: Files
) -> None:
    response = client.post(
        "/face-recognition/store-results",
        files=image_of("obama_and_biden.jpg"),
        data={"camera_id": "lobby-1", "location_id": "Main lobby"},
        headers=admin,
    )
    assert response.status_code == 200, response.text
    assert response.json() is None
    stored = detections(client, admin, "lobby-1")
    assert sorted(str(d["name"]) for d in stored) == ["None", "biden", "obama"]


def test_the_last_known_location_is_where_and_when_the_person_was_last_stored(
    client: TestClient, admin: Headers, image_of: Files
) -> None:
    for camera, location in [("gate-1", "North gate"), ("gate-2", "South gate")]:
        response = client.post(
            "/face-recognition/store-results",
            files=image_of("alex_lacamoire1.jpg"),
            data={"camera_id": camera, "location_id": location},
            headers=admin,
        )
        assert response.status_code == 200, response.text

    response = client.get("/database/Alex Lacamoire/last-known-location", headers=admin)

    assert response.status_code == 200
    (last,) = response.json()["last_known_location"]
    assert last["location"] == "South gate"
    assert last["detected_by_camera_id"] == "gate-2"
    assert OLD_TIMESTAMP.match(last["timestamp"])
    when = datetime.strptime(last["timestamp"], "%Y-%m-%d %H:%M:%S").replace(tzinfo=UTC)
    assert abs(datetime.now(UTC) - when) < timedelta(minutes=2)


@pytest.mark.parametrize("face_id", ["rose_leslie", "Nobody At All"])
def test_someone_never_stored_has_no_last_known_location(
    client: TestClient, admin: Headers, face_id: str
) -> None:
    response = client.get(f"/database/{face_id}/last-known-location", headers=admin)
    assert response.status_code == 200
    assert response.json() == {"last_known_location": []}


@pytest.mark.parametrize(
    ("data", "missing", "help_text"),
    [
        ({"location_id": "hall"}, "camera_id", "Camera identifier."),
        ({"camera_id": "cam-9"}, "location_id", "Location identifier."),
        ({"camera_id": "", "location_id": "hall"}, "camera_id", "Camera identifier."),
    ],
)
@pytest.mark.parametrize(
    "path", ["/face-recognition/store-results", "/face-recognition/send-results"]
)
def test_storing_or_sending_needs_a_camera_and_a_location(
    client: TestClient,
    admin: Headers,
    image_of: Files,
    path: str,
    data: dict[str, str],
    missing: str,
    help_text: str,
) -> None:
    response = client.post(path, files=image_of("obama1.jpg"), data=data, headers=admin)
    assert response.status_code == 400
    assert response.json() == {
        "errors": {missing: f"{help_text} Missing required parameter in {VALUES}"},
        "message": PAYLOAD_INVALID,
    }


def test_the_camera_and_location_may_come_in_the_query_string(
    client: TestClient, admin: Headers, image_of: Files
) -> None:
    response = client.post(
        "/face-recognition/store-results",
        params={"camera_id": "query-cam", "location_id": "Back door"},
        files=image_of("obama1.jpg"),
        headers=admin,
    )
    assert response.status_code == 200, response.text
    assert [d["name"] for d in detections(client, admin, "query-cam")] == ["obama"]


@pytest.mark.parametrize("camera_id", ["Front door", "cam/1", "-starts-with-a-dash"])
def test_a_camera_id_facewatch_cannot_keep_is_refused_and_nothing_is_stored(
    client: TestClient, admin: Headers, image_of: Files, camera_id: str
) -> None:
    before = client.get("/api/v1/detections", headers=admin).json()["total"]
    response = client.post(
        "/face-recognition/store-results",
        files=image_of("obama1.jpg"),
        data={"camera_id": camera_id, "location_id": "hall"},
        headers=admin,
    )
    assert response.status_code == 400
    assert "invalid camera id" in response.json()["message"]
    assert client.get("/api/v1/detections", headers=admin).json()["total"] == before


def test_send_results_forwards_each_face_and_stores_nothing(
    client: TestClient, admin: Headers, image_of: Files, receiver: Received
) -> None:
    receiver.queries.clear()
    response = client.post(
        "/face-recognition/send-results",
        files=image_of("kit_with_rose.jpg"),
        data={"camera_id": "send-cam", "location_id": "Floor 2"},
        headers=admin,
    )
    assert response.status_code == 200, response.text
    faces = response.json()["faces"]
    assert sorted(f["top_prediction"] for f in faces) == ["kit_harington", "rose_leslie"]
    assert all(f["url"] == receiver.url for f in faces)
    assert all(f["response"] == f"added {f['top_prediction']}" for f in faces)
    assert sorted(receiver.queries, key=lambda q: q["id"]) == [
        {"id": "kit_harington", "camera": "send-cam", "blueprint": "Floor 2"},
        {"id": "rose_leslie", "camera": "send-cam", "blueprint": "Floor 2"},
    ]
    assert detections(client, admin, "send-cam") == []


@pytest.fixture
def forwarder_override(client: TestClient) -> Iterator[Callable[[Forwarder | None], None]]:
    """Swap the forwarder of send-results for one test."""
    app = client.app
    assert isinstance(app, FastAPI)

    def use(forwarder: Forwarder | None) -> None:
        app.dependency_overrides[get_forwarder] = lambda: forwarder

    yield use
    app.dependency_overrides.pop(get_forwarder, None)


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


@pytest.mark.parametrize(
    ("forwarder", "says"),
    [
        (None, "set compat_forward_url"),
        (
            Forwarder(f"http://127.0.0.1:{closed_port()}/addPerson"),
            "Error performing request to external server: ",
        ),
    ],
    ids=["no forward url", "an unreachable server"],
)
def test_send_results_that_cannot_be_sent_is_refused_with_a_message(
    client: TestClient,
    admin: Headers,
    image_of: Files,
    forwarder_override: Callable[[Forwarder | None], None],
    forwarder: Forwarder | None,
    says: str,
) -> None:
    forwarder_override(forwarder)
    response = client.post(
        "/face-recognition/send-results",
        files=image_of("obama1.jpg"),
        data={"camera_id": "send-cam", "location_id": "Floor 2"},
        headers=admin,
    )
    assert response.status_code == 400
    assert says in response.json()["message"]


def test_a_dry_run_takes_any_file_and_does_nothing(client: TestClient, admin: Headers) -> None:
    before = client.get("/api/v1/detections", headers=admin).json()["total"]
    response = client.post(
        "/face-recognition/dry-run",
        files={"image": ("noise.bin", os.urandom(2_000_000))},
        headers=admin,
    )
    assert response.status_code == 200, response.text
    assert response.json() is None
    assert client.get("/api/v1/detections", headers=admin).json()["total"] == before


def test_a_file_over_the_upload_limit_is_refused_with_413_and_a_message(
    client: TestClient, admin: Headers
) -> None:
    response = client.post(
        "/face-recognition/get-results",
        files={"image": ("big.jpg", b"\xff\xd8" + bytes(4_000_000))},
        headers=admin,
    )
    assert response.status_code == 413
    assert "bytes" in response.json()["message"]
