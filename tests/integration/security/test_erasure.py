"""Erasing a person leaves no trace: every table, every text and binary column, the blob
store and the SQLite file itself are scanned for their name, their embeddings and their
photos and crops, after enrolment, sightings, an uncertain look-alike and an event."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select, text

from facewatch.server.services.runtime import Runtime
from facewatch.store.models import AuditEntry, Detection, Image, Template
from support import upload
from support_security import blob_files, make_key, runtime_of, stored_values

NAME = "Zebulon Quixote-Erasable"


@dataclass(frozen=True, slots=True)
class Traces:
    """What would give the person away: their name and raw embeddings, their blobs."""

    name: str
    embeddings: list[bytes]
    blobs: set[str]


def _enrol_and_see(client: TestClient, knn: Path, headers: dict[str, str]) -> tuple[int, Traces]:
    created = client.post("/api/v1/people", json={"name": NAME}, headers=headers)
    person_id = created.json()["id"]
    photos = sorted((knn / "train" / "biden").iterdir())
    files = [("images", (p.name, p.read_bytes())) for p in photos]
    assert (
        client.post(f"/api/v1/people/{person_id}/faces", files=files, headers=headers).status_code
        == 201
    )
    sightings = [knn / "test" / "obama_and_biden.jpg", photos[-1]]
    for index, photo in enumerate(sightings):
        data = {"camera_id": "gate", "idempotency_key": f"erase-{uuid.uuid4().hex}-{index}"}
        answer = client.post("/api/v1/detections", files=upload(photo), data=data, headers=headers)
        assert answer.status_code == 201, answer.text
    runtime = runtime_of(client)
    _wait_for_events(client, headers)
    with runtime.uow() as uow:
        embeddings = [t.embedding for t in uow.templates.list_for_person(person_id)]
        embeddings += [
            row.embedding
            for row in uow.session.scalars(
                select(Detection).where(Detection.person_id == person_id)
            )
            if row.embedding is not None
        ]
        photos_and_crops = select(Image.sha256).where(
            Image.id.in_(select(Template.image_id).where(Template.person_id == person_id))
            | Image.id.in_(select(Detection.crop_image_id).where(Detection.person_id == person_id))
        )
        blobs = set(uow.session.scalars(photos_and_crops))
    assert len(blobs) >= 3  # two photos and at least one crop of their own
    assert blobs <= {p.name for p in blob_files(runtime.settings)}
    return person_id, Traces(NAME, embeddings, blobs)


def _wait_for_events(client: TestClient, headers: dict[str, str]) -> None:
    """The events of the sightings are stored by a sink thread: wait for them."""
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if client.get("/api/v1/events", headers=headers).json()["total"] > 0:
            return
        time.sleep(0.1)
    raise AssertionError("no event was stored")


def _look_alike_candidates(runtime: Runtime, person_id: int) -> None:
    """An uncertain face elsewhere that lists the person as a candidate."""
    with runtime.uow() as uow:
        row = uow.session.scalars(select(Detection).where(Detection.person_id.is_(None))).first()
        assert row is not None
        row.candidates = [{"person_id": person_id, "name": NAME, "distance": 0.55}]
        uow.commit()


def _scan(runtime: Runtime, traces: Traces) -> list[str]:
    found = []
    for value in stored_values(runtime.db):
        text = value.value if isinstance(value.value, str) else value.value.decode("latin-1")
        if traces.name in text or traces.name.split()[0] in text:
            found.append(f"name in {value.table}.{value.column}")
        if isinstance(value.value, bytes):
            found += [
                f"embedding in {value.table}.{value.column}"
                for e in traces.embeddings
                if e in value.value
            ]
    left = {p.name for p in blob_files(runtime.settings)}
    found += [f"blob {name}" for name in traces.blobs & left]
    return found


@pytest.mark.parametrize("mode", ["delete", "anonymize"])
def test_erasing_a_person_leaves_no_name_embedding_or_file(
    app_factory: Callable[..., TestClient], knn: Path, mode: str, app_database_url: str | None
) -> None:
    # In clear, so that the scan would find the raw embeddings; on SQLite and PostgreSQL.
    client = app_factory(
        erasure_detections=mode, encryption_key=None, database_url=app_database_url
    )
    runtime = runtime_of(client)
    admin = make_key(runtime, "admin")
    person_id, traces = _enrol_and_see(client, knn, admin)
    _look_alike_candidates(runtime, person_id)
    assert len(traces.embeddings) >= 3
    assert _scan(runtime, traces)  # the scan finds them while the person exists

    assert client.delete(f"/api/v1/people/{person_id}", headers=admin).status_code == 204

    assert _scan(runtime, traces) == []
    with runtime.uow() as uow:
        sightings = uow.session.scalars(select(Detection)).all()
        assert not uow.session.scalars(select(Template)).all()
        erased = uow.session.scalars(
            select(AuditEntry).where(
                AuditEntry.action == "person.erased", AuditEntry.target == f"person:{person_id}"
            )
        ).one()
    kept = [
        d
        for d in sightings
        if d.camera_id == "gate" and d.status == "unknown" and d.embedding is None
    ]
    if mode == "anonymize":
        assert erased.details["detections_anonymized"] >= 2
        assert len(kept) >= 2  # bare sightings: time and camera only
    else:
        assert erased.details["detections_deleted"] >= 2
        assert kept == []
    assert erased.target == f"person:{person_id}"
    assert erased.details["candidate_lists"] >= 1


def test_the_sqlite_file_keeps_no_bytes_of_an_erased_person(
    app_factory: Callable[..., TestClient], knn: Path, app_database_url: str | None
) -> None:
    if app_database_url is not None:
        pytest.skip("a SQLite file only")
    client = app_factory(encryption_key=None)
    runtime = runtime_of(client)
    admin = make_key(runtime, "admin")
    person_id, traces = _enrol_and_see(client, knn, admin)
    database = Path(runtime.db.url.database or "")
    with runtime.db.engine.connect() as connection:  # the name is in the file itself now
        connection.execute(text("PRAGMA wal_checkpoint(TRUNCATE)"))
    assert NAME.encode() in database.read_bytes()
    assert client.delete(f"/api/v1/people/{person_id}", headers=admin).status_code == 204
    raw = b"".join(p.read_bytes() for p in database.parent.glob(database.name + "*"))
    assert NAME.encode() not in raw
    assert not [e for e in traces.embeddings if e[:64] in raw]


def _files_holding(folder: Path, traces: Traces) -> list[str]:
    """Every file under ``folder`` that holds the name or a template's bytes."""
    found = []
    for path in (p for p in folder.rglob("*") if p.is_file()):
        data = path.read_bytes()
        if traces.name.encode() in data:
            found.append(f"name in {path.relative_to(folder)}")
        if any(e[:64] in data for e in traces.embeddings):
            found.append(f"embedding in {path.relative_to(folder)}")
    return found


@pytest.mark.parametrize("index", ["exact", "hnsw"])
def test_no_file_of_the_data_directory_keeps_an_erased_person(
    app_factory: Callable[..., TestClient], knn: Path, index: str
) -> None:
    client = app_factory(encryption_key=None, gallery_index=index)
    runtime = runtime_of(client)
    admin = make_key(runtime, "admin")
    person_id, traces = _enrol_and_see(client, knn, admin)
    with runtime.uow() as uow:
        templates = [t.embedding for t in uow.templates.list_for_person(person_id)]
    traces = Traces(traces.name, templates, traces.blobs)  # what the gallery holds
    assert runtime.save_gallery_snapshot()  # as a clean stop (or an earlier run) left it
    data_dir = runtime.settings.data_dir
    assert any("gallery" in hit for hit in _files_holding(data_dir, traces))

    assert client.delete(f"/api/v1/people/{person_id}", headers=admin).status_code == 204

    assert _files_holding(data_dir, traces) == []  # as if the server crashed now
    runtime.save_gallery_snapshot()  # and after the next clean stop too
    assert _files_holding(data_dir, traces) == []
