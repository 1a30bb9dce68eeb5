"""Start-up: a fresh database is migrated; a database from newer code is refused."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, text

from facewatch.config import Settings
from facewatch.errors import DatabaseTooNew
from facewatch.server.app import create_app


def test_the_first_start_creates_the_database(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "new")
    with TestClient(create_app(settings, warm_up=False)) as client:
        assert client.get("/healthz").status_code == 200
        assert client.get("/readyz").status_code == 503
    assert (tmp_path / "new" / "facewatch.db").is_file()


def test_a_database_migrated_by_newer_code_is_refused(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path)
    with TestClient(create_app(settings, warm_up=False)):
        pass
    engine = create_engine(settings.resolved_database_url)
    with engine.begin() as connection:
        connection.execute(text("UPDATE alembic_version SET version_num = 'f00dfeed9999'"))
    engine.dispose()
    with pytest.raises(DatabaseTooNew, match="newer"), TestClient(create_app(settings)):
        pass
