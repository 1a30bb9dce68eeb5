"""DetectionRepository against a real migrated database."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
import pytest
from sqlalchemy import event

from facewatch.errors import Conflict, InvalidInput, NotFound
from facewatch.store.models import Detection
from facewatch.store.repositories.common import flush_or_conflict
from facewatch.store.unit_of_work import UnitOfWork
from facewatch.types import Box, Candidate, Landmarks, MatchStatus

UowFactory = Callable[[], UnitOfWork]
T0 = datetime(2024, 5, 1, 9, 0, tzinfo=UTC)


def _add(uow: UnitOfWork, **fields: Any) -> Detection:
    values: dict[str, Any] = {
        "captured_at": T0,
        "status": MatchStatus.UNKNOWN,
        "confidence": 0.0,
        "box": [0, 0, 10, 10],
        "quality": 0.5,
    }
    return uow.detections.add(**(values | fields))


def test_a_new_detection_holds_its_camera_person_and_crop(uow_factory: UowFactory) -> None:
    with uow_factory() as uow:
        uow.cameras.add("gate", "Gate")
        ada = uow.people.add("Ada")
        crop = uow.images.get_or_add(uow.put_blob(b"crop"), "image/jpeg", 10, 10, 4)
        uow.commit()
    with uow_factory() as uow:
        added = _add(
            uow,
            camera_id="gate",
            person_id=ada.id,
            crop_image_id=crop.id,
            status=MatchStatus.KNOWN,
            latitude=48.85,
            longitude=2.35,
        )
        statements: list[str] = []
        event.listen(uow.session.get_bind(), "before_cursor_execute", _record(statements))
        # Read back as ingest answers, with no further query.
        camera, person, image = added.camera, added.person, added.crop_image
        assert camera is not None
        assert person is not None
        assert image is not None
        assert (camera.name, person.name, image.sha256) == ("Gate", "Ada", crop.sha256)
        assert statements == []
        uow.commit()
    with uow_factory() as uow:
        stored = uow.detections.get(added.id)
        assert (stored.latitude, stored.longitude) == (48.85, 2.35)


def _record(statements: list[str]) -> Callable[..., None]:
    def record(_conn: object, _cursor: object, statement: str, *_args: object) -> None:
        statements.append(statement)

    return record


@pytest.fixture
def scene(uow_factory: UowFactory) -> dict[str, int]:
    """Ada seen on gate at 9:00 and 9:30, Alan on lobby at 9:10, a stranger at 9:20."""
    with uow_factory() as uow:
        uow.cameras.add("gate", "Gate")
        uow.cameras.add("lobby", "Lobby")
        ada, alan = uow.people.add("Ada"), uow.people.add("Alan")
        known = {"status": MatchStatus.KNOWN, "confidence": 0.9}
        ids = {
            "ada-9:00": _add(uow, camera_id="gate", person_id=ada.id, **known).id,
            "alan-9:10": _add(
                uow,
                camera_id="lobby",
                person_id=alan.id,
                captured_at=T0 + timedelta(minutes=10),
                **known,
            ).id,
            "stranger-9:20": _add(uow, camera_id="gate", captured_at=T0 + timedelta(minutes=20)).id,
            "ada-9:30": _add(
                uow,
                camera_id="gate",
                person_id=ada.id,
                captured_at=T0 + timedelta(minutes=30),
                **known,
            ).id,
        }
        uow.commit()
    return ids | {"ada": ada.id, "alan": alan.id}


def test_a_detection_reads_back_with_every_field(uow_factory: UowFactory) -> None:
    embedding = np.arange(128, dtype=np.float32)
    with uow_factory() as uow:
        uow.cameras.add("gate", "Gate")
        ada = uow.people.add("Ada")
        crop = uow.images.get_or_add(uow.put_blob(b"crop"), "image/jpeg", 10, 10, 4)
        added = uow.detections.add(
            captured_at=T0,
            received_at=T0 + timedelta(seconds=2),
            camera_id="gate",
            person_id=ada.id,
            status=MatchStatus.KNOWN,
            distance=0.31,
            confidence=0.93,
            box=Box(1, 2, 3, 4),
            landmarks=Landmarks(((1.0, 2.0), (3.0, 4.0), (5.0, 6.0), (7.0, 8.0), (9.0, 10.0))),
            quality=0.8,
            candidates=[Candidate(ada.id, "Ada", 0.31)],
            embedding=embedding,
            model="dlib",
            crop_image_id=crop.id,
            track_id="t-1",
            edge_id="edge-a",
            idempotency_key="upload-1",
            face_index=2,
        )
        uow.commit()
    with uow_factory() as uow:
        got = uow.detections.get(added.id)
    assert (got.captured_at, got.received_at) == (T0, T0 + timedelta(seconds=2))
    assert (got.camera_id, got.person_id, got.status) == ("gate", ada.id, "known")
    assert (got.distance, got.confidence, got.quality) == (0.31, 0.93, 0.8)
    assert (got.box, got.landmarks) == ([1, 2, 3, 4], [[1, 2], [3, 4], [5, 6], [7, 8], [9, 10]])
    # No name in the candidates: a name is kept sealed under its person's key only.
    assert got.candidates == [{"person_id": ada.id, "distance": 0.31}]
    assert np.frombuffer(got.embedding or b"", "<f4").tolist() == embedding.tolist()
    assert (got.model, got.track_id, got.edge_id) == ("dlib", "t-1", "edge-a")
    assert (got.idempotency_key, got.face_index) == ("upload-1", 2)
    assert got.crop_image is not None
    assert got.camera is not None
    assert got.camera.name == "Gate"


@pytest.mark.parametrize(
    ("reference", "match"),
    [
        ({"camera_id": "nope"}, "camera"),
        ({"person_id": 999}, "person"),
        ({"crop_image_id": 999}, "image"),
    ],
)
def test_a_detection_referring_to_nothing_is_not_found(
    uow_factory: UowFactory, reference: dict[str, Any], match: str
) -> None:
    with uow_factory() as uow, pytest.raises(NotFound, match=match):
        _add(uow, **reference)


@pytest.mark.parametrize(
    "fields",
    [{"captured_at": datetime(2024, 1, 1)}, {"status": "maybe"}, {"box": [1, 2]}],
    ids=["naive-time", "bad-status", "bad-box"],
)
def test_a_malformed_detection_is_invalid_input(
    uow_factory: UowFactory, fields: dict[str, Any]
) -> None:
    with uow_factory() as uow, pytest.raises(InvalidInput):
        _add(uow, **fields)


def test_the_same_idempotency_key_and_face_index_is_a_conflict(uow_factory: UowFactory) -> None:
    with uow_factory() as uow:
        _add(uow, idempotency_key="upload-1", face_index=0)
        uow.commit()
    with uow_factory() as uow, pytest.raises(Conflict, match="upload-1"):
        _add(uow, idempotency_key="upload-1", face_index=0)


def test_the_database_itself_enforces_idempotency(uow_factory: UowFactory) -> None:
    with uow_factory() as uow:
        _add(uow, idempotency_key="upload-1", face_index=0)
        uow.commit()
    duplicate = Detection(
        captured_at=T0,
        status="unknown",
        confidence=0.0,
        box=[0, 0, 1, 1],
        quality=0.5,
        idempotency_key="upload-1",
        face_index=0,
    )
    with uow_factory() as uow:
        uow.session.add(duplicate)  # bypasses the repository's own check
        with pytest.raises(Conflict):
            flush_or_conflict(uow.session, "clash")


def test_detections_without_an_idempotency_key_never_clash(uow_factory: UowFactory) -> None:
    with uow_factory() as uow:
        _add(uow)
        _add(uow)
        uow.commit()
    with uow_factory() as uow:
        assert uow.detections.query()[1] == 2


def test_an_idempotency_key_returns_its_faces_in_order(uow_factory: UowFactory) -> None:
    with uow_factory() as uow:
        for index in (2, 0, 1):
            _add(uow, idempotency_key="upload-1", face_index=index)
        _add(uow, idempotency_key="upload-2")
        uow.commit()
    with uow_factory() as uow:
        faces = uow.detections.by_idempotency_key("upload-1")
        assert [d.face_index for d in faces] == [0, 1, 2]
        assert uow.detections.by_idempotency_key("never") == []


@pytest.mark.parametrize(
    ("filters", "expected"),
    [
        ({}, ["ada-9:30", "stranger-9:20", "alan-9:10", "ada-9:00"]),
        ({"person": "ada"}, ["ada-9:30", "ada-9:00"]),
        ({"camera_id": "lobby"}, ["alan-9:10"]),
        ({"since": T0 + timedelta(minutes=10)}, ["ada-9:30", "stranger-9:20", "alan-9:10"]),
        ({"until": T0 + timedelta(minutes=10)}, ["ada-9:00"]),
        ({"unknown_only": True}, ["stranger-9:20"]),
        ({"status": MatchStatus.KNOWN, "camera_id": "gate"}, ["ada-9:30", "ada-9:00"]),
        (
            {"since": T0.astimezone(ZoneInfo("Asia/Tokyo"))},
            ["ada-9:30", "stranger-9:20", "alan-9:10", "ada-9:00"],
        ),
    ],
    ids=[
        "all",
        "person",
        "camera",
        "since",
        "until",
        "unknown",
        "status-camera",
        "since-other-zone",
    ],
)
def test_querying_detections_filters_and_sorts_newest_first(
    uow_factory: UowFactory, scene: dict[str, int], filters: dict[str, Any], expected: list[str]
) -> None:
    arguments = {k: v for k, v in filters.items() if k != "person"}
    if "person" in filters:
        arguments["person_id"] = scene[filters["person"]]
    with uow_factory() as uow:
        items, total = uow.detections.query(**arguments)
    assert [d.id for d in items] == [scene[name] for name in expected]
    assert total == len(expected)


def test_querying_detections_pages_them(uow_factory: UowFactory, scene: dict[str, int]) -> None:
    with uow_factory() as uow:
        items, total = uow.detections.query(offset=1, limit=2)
    assert ([d.id for d in items], total) == ([scene["stranger-9:20"], scene["alan-9:10"]], 4)


def test_the_last_detection_of_a_person_comes_with_its_camera(
    uow_factory: UowFactory, scene: dict[str, int]
) -> None:
    with uow_factory() as uow:
        last = uow.detections.last_for_person(scene["ada"])
    assert last is not None
    assert last.id == scene["ada-9:30"]
    assert last.camera is not None
    assert last.camera.name == "Gate"


def test_a_person_never_seen_has_no_last_detection(uow_factory: UowFactory) -> None:
    with uow_factory() as uow:
        assert uow.detections.last_for_person(uow.people.add("Nobody").id) is None
