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
        return f"PostgreSQL at {_safe(POSTGRES_ADMIN_URL)} is unreachable ({exc})".strip()


def _require_postgres() -> None:
    reason = _postgres_unreachable_reason()
    if reason is None:
        return
    if os.environ.get("CI") == "true":
        pytest.fail(f"{reason}; CI must run the PostgreSQL tests")
    pytest.skip(f"{reason}; set FACEWATCH_TEST_POSTGRES_URL to run these tests")


def _safe(url: str) -> str:
    return make_url(url).render_as_string(hide_password=True)


@pytest.fixture
def postgres_database_url() -> Iterator[str]:
    """The URL of a new, empty PostgreSQL database, dropped after the test."""
    import psycopg

    _require_postgres()
    name = f"facewatch_test_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(POSTGRES_ADMIN_URL, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield (
            make_url(POSTGRES_ADMIN_URL)
            .set(drivername="postgresql+psycopg", database=name)
            .render_as_string(hide_password=False)
        )
    finally:
        with psycopg.connect(POSTGRES_ADMIN_URL, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def sqlite_database_url(tmp_path: Path) -> str:
    """The URL of a SQLite file that does not exist yet (in a folder that does not either)."""
    return f"sqlite:///{tmp_path / 'db' / 'facewatch.db'}"


@pytest.fixture(params=DATABASE_BACKENDS)
def empty_database_url(request: pytest.FixtureRequest) -> str:
    """An empty database on each backend, not migrated."""
    fixture = "sqlite_database_url" if request.param == "sqlite" else "postgres_database_url"
    url: str = request.getfixturevalue(fixture)
    return url


@pytest.fixture
def empty_database(empty_database_url: str) -> Iterator[Database]:
    """A ``Database`` on an empty schema, on each backend."""
    database = Database(empty_database_url)
    yield database
    database.dispose()


@pytest.fixture
def database(empty_database: Database) -> Database:
    """A migrated, empty ``Database``, on each backend."""
    empty_database.migrate()
    return empty_database


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
