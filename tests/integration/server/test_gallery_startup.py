"""The server's gallery at start: the configured index, a snapshot loaded and caught up with
the database, a damaged snapshot replaced by a rebuild, no snapshot with an encryption key.

Each test starts the real app (real faces, real models) more than once on its own database,
SQLite and PostgreSQL, the way an operator restarts a server.
"""

from __future__ import annotations

import base64
import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr
from sqlalchemy import select

from facewatch.config import Settings
from facewatch.gallery.gallery import SyncReport
from facewatch.server.app import create_app
from facewatch.server.infra.runtime import Runtime
from facewatch.server.services import people as people_service
from facewatch.store.models import Template
from support import upload

KNN = "face_recognition_examples/examples/knn_examples"
JOHNS = "dlib_faces/johns"
JOHNS_ENROLLED = 3
RECOGNIZE = "/api/v1/recognize"


@pytest.fixture
def base_settings(tmp_path: Path, empty_database_url: str) -> Settings:
    """A data dir and an empty database of the test's own (models load in-process)."""
    return Settings(data_dir=tmp_path / "data", database_url=empty_database_url, analysis_workers=0)


@contextmanager
def serve(settings: Settings) -> Iterator[tuple[TestClient, Runtime, dict[str, str]]]:
    """The app started (models and gallery loaded), its runtime and an admin key header."""
    with TestClient(create_app(settings), raise_server_exceptions=False) as client:
        app: Any = client.app
        runtime: Runtime = app.state.runtime
        with runtime.uow() as uow:
            _, secret = uow.api_keys.create("test", ["admin"])
            uow.commit()
        yield client, runtime, {"Authorization": f"Bearer {secret}"}


def enrol(client: TestClient, admin: dict[str, str], person: str, photos: list[Path]) -> int:
    created = client.post("/api/v1/people", json={"name": person}, headers=admin)
    assert created.status_code == 201, created.text
    person_id: int = created.json()["id"]
    files = [("images", (p.name, p.read_bytes())) for p in photos]
    added = client.post(f"/api/v1/people/{person_id}/faces", files=files, headers=admin)
    assert added.status_code == 201, added.text
    return person_id


def enrol_knn(client: TestClient, admin: dict[str, str], testdata: Path) -> dict[str, int]:
    """The five knn_examples people: name -> person id (9 templates)."""
    folders = sorted((testdata / KNN / "train").iterdir())
    return {f.name: enrol(client, admin, f.name, sorted(f.iterdir())) for f in folders}


def recognise(client: TestClient, admin: dict[str, str], photo: Path) -> list[tuple[Any, ...]]:
    """Every face of ``photo`` as (status, name, person id, distance, candidates)."""
    response = client.post(
        RECOGNIZE, files=upload(photo), data={"candidates": "true"}, headers=admin
    )
    assert response.status_code == 200, response.text
    return sorted(
        (
            face["status"],
            face["name"],
            face["person_id"],
            round(face["distance"], 4) if face["distance"] is not None else None,
            tuple((c["person_id"], round(c["distance"], 4)) for c in face["candidates"]),
        )
        for face in response.json()["faces"]
    )


def names_in(client: TestClient, admin: dict[str, str], photo: Path) -> list[str]:
    return sorted(str(face[1] or face[0]) for face in recognise(client, admin, photo))


def age_every_template(settings: Settings, days: int = 1) -> None:
    """Pretend the templates were enrolled long before the snapshot was saved."""
    runtime = Runtime.open(settings)
    try:
        with runtime.uow() as uow:
            for template in uow.session.scalars(select(Template)):
                template.created_at -= timedelta(days=days)
            uow.commit()
    finally:
        runtime.close()


def test_an_hnsw_gallery_answers_as_exact_search_on_real_faces(
    base_settings: Settings, testdata: Path
) -> None:
    johns = sorted(p for p in (testdata / JOHNS).iterdir() if p.is_dir())
    probes = sorted((testdata / KNN / "test").iterdir())
    probes += [p for folder in johns for p in sorted(folder.glob("*.jpg"))[JOHNS_ENROLLED:]]
    hnsw = base_settings.model_copy(update={"gallery_index": "hnsw", "gallery_snapshot": False})
    with serve(hnsw) as (client, runtime, admin):
        enrol_knn(client, admin, testdata)
        for folder in johns:
            enrol(client, admin, folder.name, sorted(folder.glob("*.jpg"))[:JOHNS_ENROLLED])
        assert runtime.gallery.index.kind == "hnsw"
        assert len(runtime.gallery) == 9 + 5 * JOHNS_ENROLLED
        approximate = {p.name: recognise(client, admin, p) for p in probes}
    exact = base_settings.model_copy(update={"gallery_index": "exact", "gallery_snapshot": False})
    with serve(exact) as (client, runtime, admin):
        assert runtime.gallery.index.kind == "exact"
        assert {p.name: recognise(client, admin, p) for p in probes} == approximate
    assert [f[1] for f in approximate["obama1.jpg"]] == ["obama"]
    named_johns = [
        f[1] for p in probes if p.parent.parent.name == "johns" for f in approximate[p.name]
    ]
    assert len(named_johns) == 5 * 8
    assert sum(name is not None for name in named_johns) >= 35


def test_a_restart_loads_the_snapshot_and_catches_up_with_the_database(
    base_settings: Settings, testdata: Path
) -> None:
    snapshot = base_settings.data_dir / "gallery"
    obama1 = testdata / KNN / "test" / "obama1.jpg"
    with serve(base_settings) as (client, runtime, admin):
        assert runtime.gallery_load is not None
        assert runtime.gallery_load.source == "database"
        ids = enrol_knn(client, admin, testdata)
        assert names_in(client, admin, obama1) == ["obama"]
    assert (snapshot / "gallery.json").is_file()  # saved when the server stopped
    age_every_template(base_settings)

    with serve(base_settings) as (client, runtime, admin):
        assert runtime.gallery_load is not None
        assert runtime.gallery_load.source == "snapshot"
        assert runtime.gallery_load.caught_up == SyncReport(added=0, removed=0, renamed=0)
        ready = client.get("/readyz")
        assert ready.status_code == 200
        assert ready.json()["templates"] == 9
        assert names_in(client, admin, obama1) == ["obama"]

    # While the server is down, another tool (or replica) erases Obama: the snapshot held
    # him, so it is deleted with him (erasure leaves no copy) and the next start reads the
    # database.
    offline = Runtime.open(base_settings)
    try:
        people_service.delete_person(offline, ids["obama"])
    finally:
        offline.close()
    assert not snapshot.exists()

    with serve(base_settings) as (client, runtime, admin):
        assert runtime.gallery_load is not None
        assert runtime.gallery_load.source == "database"
        assert client.get("/readyz").json()["templates"] == 7
        assert names_in(client, admin, obama1) == ["unknown"]
        assert names_in(client, admin, testdata / KNN / "test" / "johnsnow_test1.jpg") == [
            "kit_harington"
        ]


def test_a_damaged_snapshot_is_rebuilt_from_the_database_with_a_warning(
    base_settings: Settings, testdata: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with serve(base_settings) as (client, _runtime, admin):
        enrol_knn(client, admin, testdata)
    vectors = base_settings.data_dir / "gallery" / "index" / "vectors.npy"
    data = bytearray(vectors.read_bytes())
    data[-4:] = b"\x00\x00\x80\x7f"  # the last value of the last embedding becomes +inf
    vectors.write_bytes(bytes(data))

    with caplog.at_level(logging.WARNING), serve(base_settings) as (client, runtime, admin):
        assert runtime.gallery_load is not None
        assert runtime.gallery_load.source == "database"
        assert len(runtime.gallery) == 9
        assert names_in(client, admin, testdata / KNN / "test" / "kit_with_rose.jpg") == [
            "kit_harington",
            "rose_leslie",
        ]
    assert any("snapshot not used" in r.getMessage() for r in caplog.records)


def test_no_snapshot_is_kept_in_clear_beside_encrypted_embeddings(
    base_settings: Settings, testdata: Path
) -> None:
    snapshot = base_settings.data_dir / "gallery"
    with serve(base_settings) as (client, _runtime, admin):
        enrol(client, admin, "obama", [testdata / KNN / "train" / "obama" / "obama.jpg"])
    assert snapshot.is_dir()
    key = base64.b64encode(os.urandom(32)).decode()
    encrypted = base_settings.model_copy(update={"encryption_key": SecretStr(key)})
    with serve(encrypted) as (_client, runtime, _admin):
        assert runtime.gallery_load is not None
        assert runtime.gallery_load.source == "database"
        assert not snapshot.exists()  # the clear copy made before the key is gone
        assert len(runtime.gallery) == 1
    assert not snapshot.exists()
