"""Database: connections configured for each backend, sessions that clean up."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import text

from facewatch.config import Settings
from facewatch.errors import ConfigurationError, DatabaseTooNew
from facewatch.store.db import SQLITE_BUSY_TIMEOUT_MS, Database, open_database
from facewatch.store.models import Person
from facewatch.store.schema import SchemaState


def test_sqlite_creates_the_folder_of_its_file(tmp_path: Path) -> None:
    database = Database(f"sqlite:///{tmp_path / 'a' / 'b' / 'fw.db'}")
    database.migrate()
    database.dispose()
    assert (tmp_path / "a" / "b" / "fw.db").is_file()


@pytest.mark.parametrize(
    ("pragma", "expected"),
    [
        ("foreign_keys", 1),
        ("journal_mode", "wal"),
        ("busy_timeout", SQLITE_BUSY_TIMEOUT_MS),
    ],
)
def test_sqlite_connections_are_configured(tmp_path: Path, pragma: str, expected: object) -> None:
    database = Database(f"sqlite:///{tmp_path / 'fw.db'}")
    try:
        with database.engine.connect() as connection:
            assert connection.exec_driver_sql(f"PRAGMA {pragma}").scalar() == expected
    finally:
        database.dispose()


def test_foreign_keys_are_back_on_after_a_migration(tmp_path: Path) -> None:
    database = Database(f"sqlite:///{tmp_path / 'fw.db'}")
    try:
        database.migrate()
        with database.engine.connect() as connection:
            assert connection.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
    finally:
        database.dispose()


def test_an_in_memory_sqlite_database_is_shared_by_every_session() -> None:
    database = Database("sqlite://")
    try:
        database.migrate()
        with database.session() as session:
            session.add(Person(name="Ada"))
            session.commit()
        with database.session() as session:
            assert session.query(Person).count() == 1
    finally:
        database.dispose()


def test_a_session_left_without_commit_keeps_nothing(database: Database) -> None:
    with database.session() as session:
        session.add(Person(name="Ada"))
        session.flush()
    with database.session() as session:
        assert session.scalar(text("SELECT count(*) FROM people")) == 0


def test_open_database_migrates_when_allowed(tmp_path: Path) -> None:
    database = open_database(Settings(data_dir=tmp_path, auto_migrate=True))
    try:
        assert database.schema_status().state is SchemaState.CURRENT
        assert (tmp_path / "facewatch.db").is_file()
    finally:
        database.dispose()


def test_open_database_refuses_a_newer_schema_even_with_auto_migrate(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, auto_migrate=True)
    first = open_database(settings)
    with first.engine.begin() as connection:
        connection.execute(text("UPDATE alembic_version SET version_num = 'zzzz'"))
    first.dispose()
    with pytest.raises(DatabaseTooNew):
        open_database(settings)


def test_an_unreachable_database_is_a_configuration_error_without_password() -> None:
    database = Database("postgresql://postgres:hunter2@127.0.0.1:1/facewatch")
    try:
        with pytest.raises(ConfigurationError, match="cannot use the database") as raised:
            database.check_schema()
        assert "hunter2" not in raised.value.message
    finally:
        database.dispose()
