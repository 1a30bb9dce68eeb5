"""Helpers of the security tests (importable as ``support_security``): settings for a test
app, API keys, and a scan of everything Facewatch stored (database and blobs)."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from fastapi.testclient import TestClient
from sqlalchemy import inspect, text

from facewatch.config import Settings
from facewatch.security.crypto import new_master_key
from facewatch.server.infra.runtime import Runtime
from facewatch.store.db import Database

KNN = "face_recognition_examples/examples/knn_examples"
NO_LIMITS = {
    "rate_limit_recognize_per_minute": 0,
    "rate_limit_ingest_per_minute": 0,
    "rate_limit_search_per_minute": 0,
}


def security_settings(data_dir: Path, **overrides: object) -> Settings:
    """Small limits, analysis in the request thread, an encryption key, no rate limits."""
    values: dict[str, object] = {
        "data_dir": data_dir,
        "max_upload_bytes": 3_000_000,
        "max_request_bytes": 8_000_000,
        "max_image_pixels": 12_000_000,
        "analysis_workers": 0,
        "encryption_key": new_master_key(),
        "retention_interval_seconds": 0,
        **NO_LIMITS,
    }
    values.update(overrides)
    return Settings(**values)  # type: ignore[arg-type]


def runtime_of(client: TestClient) -> Runtime:
    runtime: Runtime = client.app.state.runtime  # type: ignore[attr-defined]
    return runtime


def make_key(runtime: Runtime, *scopes: str) -> dict[str, str]:
    """The Authorization header of a new API key with ``scopes``."""
    with runtime.uow() as uow:
        _, secret = uow.api_keys.create("test", list(scopes))
        uow.commit()
    return {"Authorization": f"Bearer {secret}"}


@dataclass(frozen=True, slots=True)
class StoredValue:
    """One value of one column of one row, as the database keeps it."""

    table: str
    column: str
    value: bytes | str


def stored_values(db: Database) -> Iterator[StoredValue]:
    """Every text, JSON and binary value of every table, read raw (nothing decrypted)."""
    with db.engine.connect() as connection:
        for table in inspect(db.engine).get_table_names():
            result = connection.execute(text(f'SELECT * FROM "{table}"'))
            columns = list(result.keys())
            for row in result:
                for column, value in zip(columns, row, strict=True):
                    stored = _as_stored(value)
                    if stored is not None:
                        yield StoredValue(table, column, stored)


def _as_stored(value: object) -> bytes | str | None:
    if isinstance(value, memoryview):
        return bytes(value)
    if isinstance(value, bytes | str):
        return value
    if isinstance(value, dict | list):  # JSON columns on PostgreSQL
        return json.dumps(value, ensure_ascii=False)
    return None


def blob_files(settings: Settings) -> list[Path]:
    return [p for p in settings.blob_dir.rglob("*") if p.is_file()]


def log_in(
    client: TestClient, username: str, password: str, address: str
) -> tuple[TestClient, str]:
    """A new client of ``client``'s app, logged in to the dashboard; and its CSRF token."""
    browser = TestClient(client.app, raise_server_exceptions=False, client=(address, 5000))
    form = browser.get("/login")
    token = re.search(r'name="csrf_token" value="([^"]+)"', form.text)
    assert token is not None
    answer = browser.post(
        "/login",
        data={"username": username, "password": password, "csrf_token": token.group(1)},
        follow_redirects=False,
    )
    assert answer.status_code == 303, answer.text
    page = browser.get("/settings")
    csrf = re.search(r'name="csrf-token" content="([^"]+)"', page.text)
    assert csrf is not None
    return browser, csrf.group(1)
