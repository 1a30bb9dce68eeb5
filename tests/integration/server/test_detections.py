"""Ingest from cameras: stored, queryable, idempotent; last seen."""

from __future__ import annotations

import io
import logging
import threading
from collections.abc import Callable
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from PIL import Image
from sqlalchemy import event
from sqlalchemy.exc import IntegrityError

from facewatch.config import Settings
from facewatch.server.infra.runtime import Runtime
from facewatch.server.schemas import IngestOut
from facewatch.server.services import ingest as ingest_service
from facewatch.server.services.ingest import IngestRequest, ingest_many
from facewatch.server.services.unknown_ingest import assign_unknowns
from support import assert_error, blob_files, upload

DETECTIONS = "/api/v1/detections"


def crop_of(path: Path, box: tuple[int, int, int, int]) -> bytes:
    buffer = io.BytesIO()
    Image.open(path).convert("RGB").crop(box).save(buffer, "JPEG", quality=90)
    return buffer.getvalue()


def ingest(
    client: TestClient, headers: dict[str, str], image: bytes, **form: str
) -> dict[str, object]:
    response = client.post(
        DETECTIONS, files={"image": ("f.jpg", image)}, data=form, headers=headers
    )
    assert response.status_code == 201, response.text
    body: dict[str, object] = response.json()
    return body


@pytest.fixture(scope="module")
def ingest_key(make_key):  # type: ignore[no-untyped-def]
    return make_key("ingest")


def test_a_frame_is_stored_face_by_face_and_found_again(
    client: TestClient,
    admin: dict[str, str],
    ingest_key: dict[str, str],
    enrolled: dict[str, int],
    knn: Path,
) -> None:
    frame = (knn / "test" / "obama_and_biden.jpg").read_bytes()
    body = ingest(
        client, ingest_key, frame, camera_id="lobby-1", captured_at="2026-11-20T09:15:00Z"
    )
    detections = body["detections"]
    assert isinstance(detections, list)
    assert sorted(d["status"] for d in detections) == ["known", "known", "unknown"]
    assert all(d["crop_sha256"] for d in detections)
    assert all(d["captured_at"].startswith("2026-11-20T09:15:00") for d in detections)

    obama = client.get(
        DETECTIONS, params={"person_id": enrolled["obama"], "camera_id": "lobby-1"}, headers=admin
    ).json()
    assert [d["name"] for d in obama["items"]] == ["obama"]
    unknown = client.get(
        DETECTIONS, params={"unknown_only": True, "camera_id": "lobby-1"}, headers=admin
    ).json()
    assert [d["status"] for d in unknown["items"]] == ["unknown"]
    camera = client.get("/api/v1/cameras/lobby-1", headers=admin)
    assert camera.status_code == 200


def test_a_replayed_idempotency_key_returns_the_first_result_and_stores_nothing(
    client: TestClient,
    admin: dict[str, str],
    ingest_key: dict[str, str],
    enrolled: dict[str, int],
    knn: Path,
    settings: Settings,
) -> None:
    crop = crop_of(knn / "test" / "obama1.jpg", (400, 100, 1100, 800))
    first = ingest(client, ingest_key, crop, camera_id="gate", idempotency_key="gate-0001")
    total = client.get(DETECTIONS, headers=admin).json()["total"]
    blobs = blob_files(settings)

    again = ingest(client, ingest_key, crop, camera_id="gate", idempotency_key="gate-0001")
    assert again["replayed"] is True
    assert first["replayed"] is False
    assert again["detections"] == first["detections"]
    assert client.get(DETECTIONS, headers=admin).json()["total"] == total
    assert blob_files(settings) == blobs


def test_detections_are_filtered_by_time_range(
    client: TestClient,
    admin: dict[str, str],
    ingest_key: dict[str, str],
    enrolled: dict[str, int],
    knn: Path,
) -> None:
    photo = (knn / "test" / "alex_lacamoire1.jpg").read_bytes()
    for hour in ("08", "10", "12"):
        ingest(client, ingest_key, photo, camera_id="hall", captured_at=f"2026-01-01T{hour}:00Z")
    window = client.get(
        DETECTIONS,
        params={"camera_id": "hall", "since": "2026-01-01T09:00Z", "until": "2026-01-01T12:00Z"},
        headers=admin,
    ).json()
    assert [d["captured_at"][:13] for d in window["items"]] == ["2026-01-01T10"]


def test_last_seen_gives_the_latest_time_and_place(
    client: TestClient,
    admin: dict[str, str],
    ingest_key: dict[str, str],
    enrolled: dict[str, int],
    knn: Path,
) -> None:
    client.post(
        "/api/v1/cameras",
        json={"id": "dock", "name": "Loading dock", "site": "HQ", "location": "north gate"},
        headers=admin,
    )
    photo = (knn / "test" / "johnsnow_test1.jpg").read_bytes()
    ingest(client, ingest_key, photo, camera_id="hall", captured_at="2026-03-01T10:00:00Z")
    ingest(client, ingest_key, photo, camera_id="dock", captured_at="2026-03-02T10:00:00+02:00")
    seen = client.get(f"/api/v1/people/{enrolled['kit_harington']}/last-seen", headers=admin).json()
    assert seen["camera_id"] == "dock"
    assert seen["location"] == "north gate"
    assert seen["captured_at"].startswith("2026-03-02T08:00:00")


def test_a_person_never_seen_has_no_last_seen(client: TestClient, admin: dict[str, str]) -> None:
    person = client.post("/api/v1/people", json={"name": "Never Seen"}, headers=admin).json()
    assert_error(client.get(f"/api/v1/people/{person['id']}/last-seen", headers=admin), 404)


@pytest.mark.parametrize(
    ("form", "status"),
    [
        ({"camera_id": "bad id with spaces"}, 422),
        ({"camera_id": "../../etc"}, 422),
        ({}, 422),
        ({"camera_id": "ok", "captured_at": "yesterday"}, 422),
        ({"camera_id": "ok", "idempotency_key": "x" * 300}, 422),
    ],
)
def test_bad_ingest_fields_are_refused(
    client: TestClient,
    ingest_key: dict[str, str],
    knn: Path,
    form: dict[str, str],
    status: int,
) -> None:
    response = client.post(
        DETECTIONS, files=upload(knn / "test" / "obama1.jpg"), data=form, headers=ingest_key
    )
    assert_error(response, status)


def test_a_crop_sent_with_its_face_box_is_stored_as_that_face(
    client: TestClient,
    admin: dict[str, str],
    ingest_key: dict[str, str],
    enrolled: dict[str, int],
    knn: Path,
) -> None:
    photo = knn / "test" / "obama1.jpg"
    (face,) = client.post("/api/v1/recognize", files=upload(photo), headers=admin).json()["faces"]
    left, top, right, bottom = face["box"]
    margin = (right - left) // 2
    crop = crop_of(photo, (left - margin, top - margin, right + margin, bottom + margin))
    inside = f"{margin},{margin},{margin + right - left},{margin + bottom - top}"

    body = ingest(client, ingest_key, crop, camera_id="hint-cam", face_box=inside)

    (detection,) = body["detections"]  # type: ignore[misc]
    assert detection["person_id"] == enrolled["obama"]
    assert abs(detection["box"][0] - margin) < 0.2 * (right - left)


def test_a_bad_face_box_is_refused_and_nothing_is_stored(
    client: TestClient, admin: dict[str, str], ingest_key: dict[str, str], knn: Path
) -> None:
    response = client.post(
        DETECTIONS,
        files=upload(knn / "test" / "obama1.jpg"),
        data={"camera_id": "bad-hint-cam", "face_box": "3,3,1,1"},
        headers=ingest_key,
    )
    assert_error(response, 400, "invalid_input")
    listed = client.get(DETECTIONS, params={"camera_id": "bad-hint-cam"}, headers=admin)
    assert listed.json()["total"] == 0


def test_an_ingest_key_cannot_read_detections(
    client: TestClient, ingest_key: dict[str, str]
) -> None:
    assert_error(client.get(DETECTIONS, headers=ingest_key), 403)


def test_a_reversed_time_range_is_400(client: TestClient, admin: dict[str, str]) -> None:
    params = {"since": "2026-01-02T00:00Z", "until": "2026-01-01T00:00Z"}
    assert_error(client.get(DETECTIONS, params=params, headers=admin), 400)


def _batch(knn: Path, keys: list[str]) -> list[IngestRequest]:
    images = [
        crop_of(knn / "test" / "obama1.jpg", (400, 100, 1100, 800)),
        (knn / "test" / "alex_lacamoire1.jpg").read_bytes(),
    ]
    return [
        IngestRequest(
            image=images[n % len(images)],
            camera_id="batch-cam",
            captured_at=None,
            idempotency_key=key,
        )
        for n, key in enumerate(keys)
    ]


def _commits_of_this_thread(runtime: Runtime, action: Callable[[], object]) -> int:
    """DBAPI commits made by the calling thread while ``action`` runs (the app's own
    threads, such as the audit writer, commit on their own)."""
    me, commits = threading.get_ident(), []

    def note(_connection: object) -> None:
        if threading.get_ident() == me:
            commits.append(1)

    event.listen(runtime.db.engine, "commit", note)
    try:
        action()
    finally:
        event.remove(runtime.db.engine, "commit", note)
    return len(commits)


def test_an_edge_batch_is_stored_in_one_transaction(
    runtime: Runtime, admin: dict[str, str], enrolled: dict[str, int], knn: Path
) -> None:
    requests = _batch(knn, [f"one-tx-{n}" for n in range(3)])
    outcomes: list[object] = []

    commits = _commits_of_this_thread(
        runtime, lambda: outcomes.extend(ingest_many(runtime, requests))
    )

    assert commits == 1
    assert all(isinstance(o, IngestOut) and not o.replayed for o in outcomes)
    names = [[d.name for d in o.detections] for o in outcomes if isinstance(o, IngestOut)]
    assert names == [["obama"], ["alex_lacamoire"], ["obama"]]


def test_a_batch_whose_transaction_fails_is_stored_image_by_image(
    client: TestClient, runtime: Runtime, admin: dict[str, str], enrolled: dict[str, int], knn: Path
) -> None:
    # The third item repeats the second (same key, same content): the transaction of the
    # whole batch fails on it, and each image is then stored alone; the third is answered
    # as the second was.
    requests = _batch(knn, ["fail-tx-1", "fail-tx-2"])
    requests.append(requests[1])
    before = client.get(DETECTIONS, params={"camera_id": "batch-cam"}, headers=admin).json()

    first, second, third = ingest_many(runtime, requests)

    assert isinstance(first, IngestOut)
    assert isinstance(second, IngestOut)
    assert isinstance(third, IngestOut)
    assert (first.replayed, second.replayed, third.replayed) == (False, False, True)
    assert third.detections == second.detections
    after = client.get(DETECTIONS, params={"camera_id": "batch-cam"}, headers=admin).json()
    assert after["total"] == before["total"] + 2


def test_a_failed_batch_transaction_is_logged_without_its_statement(
    runtime: Runtime,
    enrolled: dict[str, int],
    knn: Path,
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # A database error's text carries its statement's parameters, embeddings among them.
    calls: list[int] = []

    def fail_once(*args: object) -> None:
        calls.append(1)
        if len(calls) == 1:
            raise IntegrityError("INSERT INTO detections VALUES (?)", (b"embedding",), None)
        assign_unknowns(*args)  # type: ignore[arg-type]

    monkeypatch.setattr(ingest_service, "assign_unknowns", fail_once)
    requests = _batch(knn, ["log-tx-1", "log-tx-2"])
    with caplog.at_level(logging.INFO, logger=ingest_service.__name__):
        outcomes = ingest_many(runtime, requests)

    assert all(isinstance(o, IngestOut) and not o.replayed for o in outcomes)
    (line,) = [r.getMessage() for r in caplog.records if "one by one" in r.getMessage()]
    assert line.endswith("(IntegrityError)")
    assert "embedding" not in line
