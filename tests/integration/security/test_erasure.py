"""Erasing a person leaves no trace: every table, every text and binary column, the blob
store, every file of the data directory and, on PostgreSQL, the raw table and index files
are scanned for their name, their embeddings, their photos' hashes and their key, after
enrolment, sightings, an uncertain look-alike and an event.

What identifies a person is sealed under their own key (crypto-shredding), so the scans
also open the sealed values with the person's key, captured before the erasure: that shows
the scans reach the sealed values (a scan that finds nothing because it looks nowhere
would prove nothing), and that what is left once the key is gone cannot be opened."""

from __future__ import annotations

import hashlib
import os
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import LargeBinary, select, text, type_coerce

from facewatch.errors import EncryptionKeyError
from facewatch.security.crypto import PERSON_MAGIC, PersonKey, person_key_id
from facewatch.server.infra.runtime import Runtime
from facewatch.store.models import AuditEntry, Camera, Detection, Image, PersonKeyRecord, Template
from support import upload
from support_security import blob_files, make_key, runtime_of, stored_values

NAME = "Zebulon Quixote-Erasable"


SEALED_PURPOSES = (
    "people.name",
    "people.notes",
    "templates.embedding",
    "detections.embedding",
    "events.person_name",
)


@dataclass(frozen=True, slots=True)
class Traces:
    """What would give the person away: their name and raw embeddings, their blobs."""

    name: str
    embeddings: list[bytes]
    blobs: set[str]
    photo_hashes: tuple[bytes, ...] = ()
    """SHA-256 of their photos, hex (as a blob name would be) and raw."""


@dataclass(frozen=True, slots=True)
class CapturedKey:
    """The person's key as the database held it (wrapped) and opened: an erasure must
    leave neither anywhere."""

    key: PersonKey
    wrapped: bytes


def _enrol_and_see(client: TestClient, knn: Path, headers: dict[str, str]) -> tuple[int, Traces]:
    created = client.post("/api/v1/people", json={"name": NAME}, headers=headers)
    person_id = created.json()["id"]
    photos = sorted((knn / "train" / "biden").iterdir())
    files = [("images", (p.name, p.read_bytes())) for p in photos]
    digests = [hashlib.sha256(p.read_bytes()) for p in photos]
    hashes = tuple(h.hexdigest().encode() for h in digests) + tuple(h.digest() for h in digests)
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
    return person_id, Traces(NAME, embeddings, blobs, hashes)


def _captured_key(runtime: Runtime, person_id: int) -> CapturedKey:
    with runtime.uow() as uow:
        key_id, wrapped, secret = uow.session.execute(
            select(
                PersonKeyRecord.id,
                type_coerce(PersonKeyRecord.key, LargeBinary),  # as stored: wrapped
                PersonKeyRecord.key,
            ).where(PersonKeyRecord.person_id == person_id)
        ).one()
    return CapturedKey(PersonKey.from_parts(key_id, secret), bytes(wrapped))


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
        row.candidates = [{"person_id": person_id, "distance": 0.55}]
        uow.commit()


def _opened(value: bytes, key: PersonKey | None) -> Iterator[bytes]:
    """``value``, and what it opens to under ``key`` if it is one of its envelopes."""
    yield value
    if key is None or person_key_id(value) != key.key_id:
        return
    for purpose in SEALED_PURPOSES:
        try:
            yield key.open(value, purpose)
        except EncryptionKeyError:
            continue


def _scan(runtime: Runtime, traces: Traces, key: PersonKey | None = None) -> list[str]:
    """Every stored value that holds the name, an embedding or a photo's hash, as stored or
    opened with ``key``; and the person's blobs left in the store."""
    found = []
    for value in stored_values(runtime.db):
        raw = value.value.encode() if isinstance(value.value, str) else value.value
        for data in _opened(raw, key):
            found += [f"{what} in {value.table}.{value.column}" for what in _hits(data, traces)]
    left = {p.name for p in blob_files(runtime.settings)}
    found += [f"blob {name}" for name in traces.blobs & left]
    return found


def _hits(data: bytes, traces: Traces) -> list[str]:
    hits = []
    if traces.name.encode() in data or traces.name.split()[0].encode() in data:
        hits.append("name")
    if any(e[:64] in data for e in traces.embeddings):
        hits.append("embedding")
    if any(h in data for h in traces.photo_hashes):
        hits.append("photo hash")
    return hits


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
    captured = _captured_key(runtime, person_id)
    clear = [hit for hit in _scan(runtime, traces) if not hit.startswith("blob ")]
    assert clear == []  # no value in clear, even while they are enrolled
    live = _scan(runtime, traces, captured.key)  # but their key opens it all
    assert {"name in people.name", "embedding in templates.embedding"} <= set(live)
    assert "name in events.person_name" in live

    assert client.delete(f"/api/v1/people/{person_id}", headers=admin).status_code == 204

    assert _scan(runtime, traces) == []
    assert _scan(runtime, traces, captured.key) == []
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


def test_no_page_of_any_file_keeps_an_erased_person(
    app_factory: Callable[..., TestClient], knn: Path, app_database_url: str | None
) -> None:
    """The data directory (SQLite file and journal, blobs, everything) and, on PostgreSQL,
    every table and index file of the database: no name, embedding, photo hash or key."""
    client = app_factory(encryption_key=None, database_url=app_database_url)
    runtime = runtime_of(client)
    admin = make_key(runtime, "admin")
    person_id, traces = _enrol_and_see(client, knn, admin)
    captured = _captured_key(runtime, person_id)
    planted = f"planted-{uuid.uuid4().hex}"  # a value kept in clear: the scan must find it
    with runtime.uow() as uow:
        uow.session.add(Camera(id="planted", name="planted", location=planted))
        uow.commit()
    files = _database_files(runtime)

    before = _file_hits(files(), traces, captured)
    assert planted in before, before
    assert "wrapped key" in before, before
    assert "name (opened with the key)" in before, before  # the sealed name is in the files

    assert client.delete(f"/api/v1/people/{person_id}", headers=admin).status_code == 204

    after = _file_hits(files(), traces, captured)
    assert after.pop(planted, None)  # the scan still reads the files
    # PostgreSQL may keep the dead row with the sealed name until VACUUM reuses its space:
    # only the key captured above (gone from every file, as the next line shows) opens it.
    after.pop("name (opened with the key)", None)
    assert after == {}  # no name, embedding, photo hash, wrapped key or key


def _database_files(runtime: Runtime) -> Callable[[], dict[str, bytes]]:
    """Reads every file the database and the data directory keep, checkpointed first."""
    data_dir = runtime.settings.data_dir
    if runtime.db.dialect == "sqlite":

        def read_sqlite() -> dict[str, bytes]:
            with runtime.db.engine.connect() as connection:
                connection.execute(text("PRAGMA wal_checkpoint(PASSIVE)"))
            return _read_folder(data_dir)

        return read_sqlite
    with runtime.db.engine.connect() as connection:
        folder = Path(
            connection.scalar(
                text(
                    "SELECT current_setting('data_directory') || '/' || "
                    "pg_relation_filepath('pg_class'::regclass)"
                )
            )
        ).parent  # base/<the database's oid>: its tables, indexes, TOAST, maps
    if not os.access(folder, os.R_OK):
        pytest.skip(f"the PostgreSQL files ({folder}) are not readable by this test")

    def read_postgres() -> dict[str, bytes]:
        with runtime.db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as c:
            c.execute(text("CHECKPOINT"))  # every change written to the table files
        files = _read_folder(data_dir)
        files.update({f"pg:{k}": v for k, v in _read_folder(folder).items()})
        return files

    return read_postgres


def _read_folder(folder: Path) -> dict[str, bytes]:
    files = {}
    for path in folder.rglob("*"):
        try:
            files[str(path.relative_to(folder))] = path.read_bytes()
        except (FileNotFoundError, IsADirectoryError):  # a file unlinked meanwhile
            continue
    return files


def _file_hits(
    files: dict[str, bytes], traces: Traces, captured: CapturedKey
) -> dict[str, list[str]]:
    """What of the person each file holds, by what: in clear, their key, or (opened with the
    captured key) their sealed name; and the planted control value."""
    found: dict[str, list[str]] = {}
    for path, data in files.items():
        hits = _hits(data, traces)
        if captured.wrapped in data:
            hits.append("wrapped key")
        if captured.key.secret in data:
            hits.append("key")
        if _opens_name(data, captured.key, traces.name):
            hits.append("name (opened with the key)")
        for what in hits:
            found.setdefault(what, []).append(path)
        for word in (w for w in data.split(b"planted-")[1:] if len(w) >= 32):
            found.setdefault(f"planted-{word[:32].decode(errors='replace')}", []).append(path)
    return found


def _opens_name(data: bytes, key: PersonKey, name: str) -> bool:
    """Whether a person envelope of ``key`` in ``data`` opens to ``name``."""
    header = PERSON_MAGIC + key.key_id
    length = len(header) + 12 + len(name.encode()) + 16
    start = data.find(header)
    while start >= 0:
        try:
            if key.open(data[start : start + length], "people.name") == name.encode():
                return True
        except EncryptionKeyError:
            pass
        start = data.find(header, start + 1)
    return False


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
