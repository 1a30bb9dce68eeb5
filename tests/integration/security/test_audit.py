"""The audit log records who enrolled, deleted, searched, exported, logged in and changed
settings, from the API, the dashboard and the CLI; it is append-only, and only admins read
and export it."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Callable
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import event, text
from sqlalchemy.exc import DBAPIError
from typer.testing import CliRunner

from facewatch.cli import app as cli_app
from facewatch.security.audit import Access
from facewatch.server.infra.runtime import Runtime
from facewatch.server.services import users
from facewatch.server.services.audit import AccessRecorder, record_settings
from facewatch.server.services.users import Role
from facewatch.store.db import Database
from facewatch.store.models import AuditEntry
from facewatch.store.repositories.audit import AuditFilter
from support import upload
from support_security import make_key, runtime_of

PASSWORD = "correct horse battery staple"


@pytest.fixture(scope="module")
def client(app_factory: Callable[..., TestClient]) -> TestClient:
    client = app_factory()
    users.create_user(runtime_of(client), "alice", Role.ADMIN, PASSWORD)
    return client


@pytest.fixture(scope="module")
def admin(client: TestClient) -> dict[str, str]:
    return make_key(runtime_of(client), "admin")


def _entries(client: TestClient, admin: dict[str, str], **filters: str) -> list[dict[str, object]]:
    answer = client.get("/api/v1/audit", params={"limit": 500, **filters}, headers=admin)
    assert answer.status_code == 200, answer.text
    items: list[dict[str, object]] = answer.json()["items"]
    return items


def _prefix(headers: dict[str, str]) -> str:
    return "key:" + headers["Authorization"].split("_")[1]


def test_enrolling_searching_and_deleting_through_the_api_are_recorded_with_the_key(
    client: TestClient, admin: dict[str, str], knn: Path
) -> None:
    person = client.post("/api/v1/people", json={"name": "audited"}, headers=admin).json()
    photo = knn / "train" / "biden" / "biden.jpg"
    files = [("images", (photo.name, photo.read_bytes()))]
    assert (
        client.post(f"/api/v1/people/{person['id']}/faces", files=files, headers=admin).status_code
        == 201
    )
    test_photo = knn / "test" / "obama_and_biden.jpg"
    assert (
        client.post("/api/v1/recognize", files=upload(test_photo), headers=admin).status_code == 200
    )
    assert client.delete(f"/api/v1/people/{person['id']}", headers=admin).status_code == 204
    target = f"person:{person['id']}"
    actions = {e["action"] for e in _entries(client, admin, target=target)}
    assert {"person.created", "face.enrolled", "person.deleted", "person.erased"} <= actions
    recognised = _entries(client, admin, action="face.recognized")
    assert recognised[0]["actor"] == _prefix(admin)
    assert recognised[0]["address"] == "testclient"
    every = _entries(client, admin)
    assert not [e for e in every if "audited" in str(e)]  # ids only, never the name


def _recognition(actor: str) -> Access:
    return Access("POST", "/api/v1/recognize", {}, 200, actor, "10.9.8.7")


def _recognitions_by(runtime: Runtime, actor: str) -> int:
    with runtime.uow() as uow:
        _, total = uow.audit.list(AuditFilter(action="face.recognized", actor=actor))
    return total


def test_read_entries_are_written_in_batches_and_a_flush_writes_them_all(
    client: TestClient,
) -> None:
    runtime = runtime_of(client)
    recorder = AccessRecorder(runtime)
    commits: list[object] = []

    def count(connection: object) -> None:
        commits.append(connection)

    event.listen(runtime.db.engine, "commit", count)
    try:
        for _ in range(50):
            recorder(_recognition("key:burst"))
        recorder.flush()
    finally:
        event.remove(runtime.db.engine, "commit", count)
        recorder.close()

    assert _recognitions_by(runtime, "key:burst") == 50
    assert 1 <= len(commits) < 10


def test_closing_the_recorder_writes_what_is_queued(client: TestClient) -> None:
    runtime = runtime_of(client)
    recorder = AccessRecorder(runtime, max_delay=60)
    for _ in range(5):
        recorder(_recognition("key:closing"))

    recorder.close()

    assert _recognitions_by(runtime, "key:closing") == 5
    recorder(_recognition("key:closing"))  # after close: written at once
    assert _recognitions_by(runtime, "key:closing") == 6


def test_logins_and_failed_logins_are_recorded(client: TestClient, admin: dict[str, str]) -> None:
    browser = TestClient(client.app, raise_server_exceptions=False, client=("10.1.2.3", 5000))
    for password in ("wrong password here", PASSWORD):
        form = browser.get("/login")
        token = re.search(r'name="csrf_token" value="([^"]+)"', form.text)
        assert token is not None
        browser.post(
            "/login",
            data={"username": "alice", "password": password, "csrf_token": token.group(1)},
            follow_redirects=False,
        )
    logins = _entries(client, admin, action="user.login", actor="user:alice")
    assert [e["outcome"] for e in logins] == ["ok", "denied"]
    assert {e["address"] for e in logins} == {"10.1.2.3"}
    page = browser.get("/audit")
    assert page.status_code == 200
    assert "user.login" in page.text
    export = browser.get("/audit/export")
    assert export.status_code == 200
    assert export.headers["content-type"].startswith("text/csv")


def test_only_admins_read_the_log(client: TestClient) -> None:
    reader = make_key(runtime_of(client), "read")
    assert client.get("/api/v1/audit", headers=reader).status_code == 403
    assert client.get("/api/v1/audit/export", headers=reader).status_code == 403
    assert client.get("/api/v1/audit").status_code == 401


@pytest.mark.parametrize("fmt", ["csv", "jsonl"])
def test_an_export_holds_every_entry_and_is_itself_recorded(
    client: TestClient, admin: dict[str, str], fmt: str
) -> None:
    total = client.get("/api/v1/audit", headers=admin).json()["total"]
    answer = client.get("/api/v1/audit/export", params={"format": fmt}, headers=admin)
    assert answer.status_code == 200
    if fmt == "csv":
        rows = list(csv.DictReader(io.StringIO(answer.text)))
    else:
        rows = [line for line in answer.text.splitlines() if line]
    assert len(rows) == total + 1  # the export's own entry comes first
    assert _entries(client, admin, action="audit.exported")[0]["details"]["format"] == fmt


def test_the_log_refuses_updates_and_deletes(client: TestClient) -> None:
    database: Database = runtime_of(client).db
    for statement in ("UPDATE audit_log SET actor = 'nobody'", "DELETE FROM audit_log"):
        with (
            database.engine.connect() as connection,
            pytest.raises(DBAPIError, match="append-only"),
        ):
            connection.execute(text(statement))
    with runtime_of(client).uow() as uow:
        assert uow.session.query(AuditEntry).filter(AuditEntry.actor == "nobody").count() == 0


def test_a_changed_setting_is_recorded_at_the_next_start(client: TestClient) -> None:
    runtime = runtime_of(client)
    assert record_settings(runtime) == []  # unchanged since this app started
    changed = runtime.settings.model_copy(update={"match_threshold": 0.45})
    original, runtime.settings = runtime.settings, changed
    try:
        assert record_settings(runtime) == ["match_threshold"]
    finally:
        runtime.settings = original
    with runtime.uow() as uow:
        entry = uow.audit.latest("settings.loaded")
    assert entry is not None
    assert entry.details["changed"] == {"match_threshold": {"from": None, "to": 0.45}}
    assert "encryption_key" not in str(entry.details["changed"])


def test_cli_changes_are_recorded_as_the_os_user(client: TestClient, admin: dict[str, str]) -> None:
    settings = runtime_of(client).settings
    runner = CliRunner()
    env = {"FACEWATCH_ENCRYPTION_KEY": settings.encryption_key.get_secret_value()}  # type: ignore[union-attr]
    result = runner.invoke(
        cli_app,
        ["keys", "create", "--scope", "read", "--data-dir", str(settings.data_dir)],
        env=env,
    )
    assert result.exit_code == 0, result.output
    created = _entries(client, admin, action="key.created")[0]
    assert str(created["actor"]).startswith("cli:")


def test_the_log_is_append_only_on_every_database(database: Database) -> None:
    from facewatch.store.blobs import FileBlobStore
    from facewatch.store.unit_of_work import UnitOfWork

    with UnitOfWork(database, FileBlobStore(Path("/nonexistent"))) as uow:
        uow.audit.add("test.entry", target="person:1", actor="system")
        uow.commit()
    for statement in ("UPDATE audit_log SET actor = 'nobody'", "DELETE FROM audit_log"):
        with (
            database.engine.connect() as connection,
            pytest.raises(DBAPIError, match="append-only"),
        ):
            connection.execute(text(statement))
