"""Strangers keep one identity across cameras; different people get different ones."""

from __future__ import annotations

import time
from pathlib import Path

from fastapi.testclient import TestClient

from facewatch.server.infra.runtime import Runtime
from integration.unknowns.faces import Ingest, jpeg
from support import assert_error


def test_the_same_stranger_seen_by_two_cameras_keeps_one_unknown_id(
    ingest: Ingest, knn: Path
) -> None:
    [first] = ingest(jpeg(knn / "train/biden/biden.jpg"), camera_id="gate")
    [second] = ingest(jpeg(knn / "train/biden/biden2.jpg"), camera_id="lobby")
    assert first["status"] == second["status"] == "unknown"
    assert first["unknown_id"] is not None
    assert second["unknown_id"] == first["unknown_id"]


def test_a_different_stranger_gets_a_different_unknown_id(ingest: Ingest, knn: Path) -> None:
    [biden] = ingest(jpeg(knn / "train/biden/biden.jpg"), camera_id="gate")
    [obama] = ingest(jpeg(knn / "train/obama/obama.jpg"), camera_id="gate")
    assert obama["unknown_id"] not in (None, biden["unknown_id"])


def test_faces_of_one_frame_never_share_an_identity(ingest: Ingest, knn: Path) -> None:
    faces = ingest(jpeg(knn / "test/obama_and_biden.jpg"), camera_id="hall")
    ids = [face["unknown_id"] for face in faces]
    assert len(faces) == 3
    assert None not in ids
    assert len(set(ids)) == 3


def test_the_list_shows_each_stranger_with_counts_dates_and_cameras(
    client: TestClient, admin: dict[str, str], ingest: Ingest, knn: Path
) -> None:
    [face] = ingest(
        jpeg(knn / "train/rose_leslie/img1.jpg"),
        camera_id="yard",
        captured_at="2026-11-20T08:00:00Z",
    )
    ingest(
        jpeg(knn / "train/rose_leslie/img2.jpg"),
        camera_id="roof",
        captured_at="2026-11-20T09:30:00Z",
    )
    listed = client.get("/api/v1/unknowns", params={"camera_id": "roof"}, headers=admin)
    assert listed.status_code == 200, listed.text
    [rose] = [u for u in listed.json()["items"] if u["id"] == face["unknown_id"]]
    assert rose["detections"] == 2
    assert rose["cameras"] == ["roof", "yard"]
    assert rose["first_seen"].startswith("2026-11-20T08:00:00")
    assert rose["last_seen"].startswith("2026-11-20T09:30:00")
    detail = client.get(f"/api/v1/unknowns/{face['unknown_id']}", headers=admin).json()
    assert len(detail["recent"]) == 2
    assert detail["cover_detection_id"] in {d["id"] for d in detail["recent"]}


def test_a_missing_identity_is_a_404(client: TestClient, admin: dict[str, str]) -> None:
    assert_error(client.get("/api/v1/unknowns/unknown-000000000000", headers=admin), 404)


def test_reading_strangers_needs_a_key(client: TestClient) -> None:
    assert_error(client.get("/api/v1/unknowns"), 401)


def test_an_edge_embedding_of_a_stranger_joins_the_identity_of_their_crop(
    client: TestClient, admin: dict[str, str], ingest: Ingest, knn: Path, runtime: Runtime
) -> None:
    [crop] = ingest(jpeg(knn / "train/kit_harington/john1.jpeg"), camera_id="gate")
    with runtime.uow() as uow:
        embedding = uow.detections.get(crop["id"]).embedding
    assert embedding is not None
    response = client.post(
        "/api/v1/edge/embeddings",
        files={"embedding": ("e.bin", embedding)},
        data={"camera_id": "edge-1", "model": runtime.model_id, "box": "0,0,80,80"},
        headers=admin,
    )
    assert response.status_code == 201, response.text
    [edge] = response.json()["detections"]
    assert edge["unknown_id"] == crop["unknown_id"]


def test_the_unknown_event_carries_the_stored_unknown_id(
    client: TestClient, admin: dict[str, str], ingest: Ingest, knn: Path
) -> None:
    [face] = ingest(jpeg(knn / "test/alex_lacamoire1.jpg"), camera_id="events-cam")
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:  # events are raised on the dispatcher thread
        listed = client.get(
            "/api/v1/events",
            params={"type": "person.unknown", "camera_id": "events-cam"},
            headers=admin,
        ).json()["items"]
        if listed:
            break
        time.sleep(0.2)
    assert [event["unknown_id"] for event in listed] == [face["unknown_id"]]
