"""Retention: what outlived its limit is purged (rows and blobs), counted and audited;
what is younger stays. Runs from the scheduler of the server and from the CLI."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

from fastapi.testclient import TestClient
from sqlalchemy import select, update
from typer.testing import CliRunner

from facewatch.cli import app as cli_app
from facewatch.server.services.retention import purge
from facewatch.store.models import Detection, EventRecord, UnknownIdentity, utcnow
from support import upload
from support_security import blob_files, make_key, runtime_of


def _ingest(client: TestClient, knn: Path, headers: dict[str, str], key: str) -> None:
    data = {"camera_id": "door", "idempotency_key": key}
    photo = knn / "test" / "obama_and_biden.jpg"
    answer = client.post("/api/v1/detections", files=upload(photo), data=data, headers=headers)
    assert answer.status_code == 201, answer.text


def _age(client: TestClient, days: float) -> None:
    """Make everything stored so far look ``days`` old."""
    then = utcnow() - timedelta(days=days)
    with runtime_of(client).uow() as uow:
        uow.session.execute(update(Detection).values(received_at=then))
        uow.session.execute(update(EventRecord).values(created_at=then))
        uow.session.execute(update(UnknownIdentity).values(last_seen_at=then))
        uow.commit()


def test_a_purge_removes_what_is_due_counts_it_and_keeps_the_rest(
    app_factory: Callable[..., TestClient], knn: Path
) -> None:
    client = app_factory(
        retention_unknown_faces_days=7, retention_detections_days=30, retention_events_days=30
    )
    runtime = runtime_of(client)
    admin = make_key(runtime, "admin")
    for name in ("biden",):
        person = client.post("/api/v1/people", json={"name": name}, headers=admin).json()
        photo = knn / "train" / name / "biden.jpg"
        files = [("images", (photo.name, photo.read_bytes()))]
        client.post(f"/api/v1/people/{person['id']}/faces", files=files, headers=admin)
    _ingest(client, knn, admin, "old")
    _age(client, 10)  # strangers' faces due (7 d), detections and events not yet (30 d)
    blobs_before = len(blob_files(runtime.settings))

    first = purge(runtime)

    assert first.unknown_faces == 2  # the two faces of nobody enrolled
    assert first.unknown_identities >= 1
    assert first.detections == 0
    assert first.images == 2
    assert len(blob_files(runtime.settings)) == blobs_before - 2
    with runtime.uow() as uow:
        rows = uow.session.scalars(select(Detection)).all()
    assert len(rows) == 3
    assert all(r.crop_image_id is None and r.embedding is None for r in rows if r.person_id is None)
    assert [r for r in rows if r.person_id is not None and r.crop_image_id is not None]

    _age(client, 40)
    _ingest(client, knn, admin, "fresh")
    second = purge(runtime)
    assert second.detections == 3
    assert second.events >= 1
    with runtime.uow() as uow:
        assert len(uow.session.scalars(select(Detection)).all()) == 3  # the fresh ones
        logged = uow.audit.latest("retention.purged")
    assert logged is not None
    assert logged.details == second.as_dict()


def test_the_server_schedules_the_purge_and_the_cli_runs_it(
    app_factory: Callable[..., TestClient],
) -> None:
    client = app_factory(retention_interval_seconds=3600)
    jobs = {job.name for job in client.app.state.replicas.scheduler.jobs}  # type: ignore[attr-defined]
    assert "retention.purge" in jobs
    settings = runtime_of(client).settings
    env = {"FACEWATCH_ENCRYPTION_KEY": settings.encryption_key.get_secret_value()}  # type: ignore[union-attr]
    result = CliRunner().invoke(
        cli_app, ["admin", "purge", "--data-dir", str(settings.data_dir)], env=env
    )
    assert result.exit_code == 0, result.output
    assert "detections: 0" in result.output
