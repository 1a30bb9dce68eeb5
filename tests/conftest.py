"""Fixtures shared by every test folder."""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from functools import cache
from pathlib import Path

import pytest
from sqlalchemy import make_url

from facewatch.store.blobs import FileBlobStore
from facewatch.store.db import Database
from facewatch.store.models import Base
from facewatch.store.unit_of_work import UnitOfWork

REPO_ROOT = Path(__file__).resolve().parent.parent

# --- databases -------------------------------------------------------------------------
# Every `database` test runs twice: on a SQLite file and on a fresh PostgreSQL database.
# PostgreSQL comes from FACEWATCH_TEST_POSTGRES_URL (default: trust auth on localhost).
# Without a reachable server those runs are skipped, except in CI (CI=true), where they fail.

POSTGRES_ADMIN_URL = os.environ.get(
    "FACEWATCH_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
)
DATABASE_BACKENDS = ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]


@cache
def _postgres_unreachable_reason() -> str | None:
    import psycopg

    try:
        with psycopg.connect(POSTGRES_ADMIN_URL, connect_timeout=3):
            return None
    except psycopg.Error as exc:
        detail = " ".join(str(exc).split())
        return f"PostgreSQL at {_safe(POSTGRES_ADMIN_URL)} is unreachable ({detail})"


def _require_postgres() -> None:
    reason = _postgres_unreachable_reason()
    if reason is None:
        return
    if os.environ.get("CI") == "true":
        pytest.fail(f"{reason}; CI must run the PostgreSQL tests")
    pytest.skip(f"{reason}; set FACEWATCH_TEST_POSTGRES_URL to run these tests")


def _safe(url: str) -> str:
    return make_url(url).render_as_string(hide_password=True)


def _create_postgres_database() -> str:
    """Create a uniquely named, empty PostgreSQL database; its SQLAlchemy URL."""
    import psycopg

    _require_postgres()
    name = f"facewatch_test_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(POSTGRES_ADMIN_URL, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    url = make_url(POSTGRES_ADMIN_URL).set(drivername="postgresql+psycopg", database=name)
    return url.render_as_string(hide_password=False)


def _drop_postgres_database(url: str) -> None:
    import psycopg

    name = make_url(url).database
    with psycopg.connect(POSTGRES_ADMIN_URL, autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _empty_every_table(database: Database) -> None:
    tables = ", ".join(f'"{table.name}"' for table in Base.metadata.sorted_tables)
    with database.engine.begin() as connection:
        connection.exec_driver_sql(f"TRUNCATE {tables} RESTART IDENTITY CASCADE")


@pytest.fixture
def postgres_database_url() -> Iterator[str]:
    """The URL of a new, empty PostgreSQL database, dropped after the test."""
    url = _create_postgres_database()
    try:
        yield url
    finally:
        _drop_postgres_database(url)


@pytest.fixture(scope="module", params=DATABASE_BACKENDS)
def app_database_url(request: pytest.FixtureRequest) -> Iterator[str | None]:
    """For tests of the whole app, whose client lives as long as its module: ``None`` (the
    default SQLite file in the data dir) or a new PostgreSQL database, dropped afterwards."""
    if request.param == "sqlite":
        yield None
        return
    url = _create_postgres_database()
    try:
        yield url
    finally:
        _drop_postgres_database(url)


@pytest.fixture(scope="session")
def _migrated_postgres_database_url() -> Iterator[str]:
    """One migrated PostgreSQL database for the session (CREATE DATABASE costs ~0.2 s)."""
    url = _create_postgres_database()
    try:
        database = Database(url)
        database.migrate()
        database.dispose()
        yield url
    finally:
        _drop_postgres_database(url)


@pytest.fixture
def sqlite_database_url(tmp_path: Path) -> str:
    """The URL of a SQLite file that does not exist yet (in a folder that does not either)."""
    return f"sqlite:///{tmp_path / 'db' / 'facewatch.db'}"


@pytest.fixture(params=DATABASE_BACKENDS)
def empty_database_url(request: pytest.FixtureRequest) -> str:
    """An empty database on each backend, not migrated, all the test's own."""
    fixture = "sqlite_database_url" if request.param == "sqlite" else "postgres_database_url"
    url: str = request.getfixturevalue(fixture)
    return url


@pytest.fixture
def empty_database(empty_database_url: str) -> Iterator[Database]:
    """A ``Database`` on an empty schema, on each backend; free to migrate, stamp, downgrade."""
    database = Database(empty_database_url)
    yield database
    database.dispose()


@pytest.fixture(params=DATABASE_BACKENDS)
def database(request: pytest.FixtureRequest) -> Iterator[Database]:
    """A migrated ``Database`` with empty tables, on each backend.

    On PostgreSQL the migrated database is shared by the session and its tables are emptied
    after each test: change rows freely, but use ``empty_database`` to change the schema.
    """
    if request.param == "sqlite":
        database = Database(request.getfixturevalue("sqlite_database_url"))
        database.migrate()
    else:
        database = Database(request.getfixturevalue("_migrated_postgres_database_url"))
    try:
        yield database
    finally:
        if database.dialect == "postgresql":
            _empty_every_table(database)
        database.dispose()


# --- blobs and units of work -----------------------------------------------------------


@pytest.fixture
def blob_store(tmp_path: Path) -> FileBlobStore:
    """An empty blob store in a temporary folder."""
    return FileBlobStore(tmp_path / "blobs")


@pytest.fixture
def uow_factory(database: Database, blob_store: FileBlobStore) -> Callable[[], UnitOfWork]:
    """Makes units of work on the test database and blob store: ``with uow_factory() as uow``."""
    return lambda: UnitOfWork(database, blob_store)


# --- real-face test data and shared model files ----------------------------------------
# Outside the repository (never copied into it). Tests that need them skip with the reason
# when they are missing, except in CI (CI=true), where they fail.


def _shared_folder(env_var: str, default: Path, what: str) -> Path:
    folder = Path(os.environ.get(env_var) or default)
    if not folder.is_dir():
        message = f"{what} not found at {folder}; set {env_var}"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    return folder


@pytest.fixture(scope="session")
def testdata() -> Path:
    """The folder of real-face photos and videos (``FACEWATCH_TESTDATA``, see its README)."""
    return _shared_folder(
        "FACEWATCH_TESTDATA", REPO_ROOT.parent / "shared" / "testdata", "real-face test data"
    )


@pytest.fixture(scope="session")
def shared_models() -> Path:
    """The folder of model files that no package ships (``FACEWATCH_SHARED_MODELS``)."""
    return _shared_folder(
        "FACEWATCH_SHARED_MODELS", REPO_ROOT.parent / "shared" / "models", "shared model files"
    )


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark every test that reads the real-face data, so ``-m "not testdata"`` leaves them out."""
    for item in items:
        if "testdata" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.testdata)
