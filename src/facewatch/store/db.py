"""The database: one Engine, a session factory, and the schema checks run at start-up.

SQLite (the default) and PostgreSQL (through psycopg 3) are supported. SQLite connections
get foreign keys on (the schema relies on ON DELETE CASCADE), WAL journaling so readers do
not block the writer, and a busy timeout so concurrent writers wait instead of failing.
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import URL, Connection, Engine, create_engine, event, make_url, text
from sqlalchemy.exc import ArgumentError, NoSuchModuleError, OperationalError
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.pool import ConnectionPoolEntry, StaticPool

from facewatch.config import Settings
from facewatch.errors import ConfigurationError, DatabaseTooNew
from facewatch.store.person_keys import person_keys_of
from facewatch.store.schema import (
    UPGRADE_HINT,
    SchemaState,
    SchemaStatus,
    read_schema_status,
    upgrade_to_head,
)
from facewatch.store.sqlfunctions import register_sqlite_functions

logger = logging.getLogger(__name__)

SQLITE_BUSY_TIMEOUT_MS = 30_000
# Any constant works; it only has to be the same for every replica migrating one database.
MIGRATION_LOCK_KEY = 0x46574D4947  # "FWMIG"


class Database:
    """Owns the Engine and hands out Sessions; also checks and upgrades the schema."""

    def __init__(self, url: str, *, echo: bool = False) -> None:
        self.url = normalise_url(url)
        self.engine = _create_engine(self.url, echo=echo)
        person_keys_of(self.engine)  # person envelopes open with the keys of this database
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)

    def __repr__(self) -> str:
        return f"Database({self.safe_url!r})"

    @property
    def dialect(self) -> str:
        """``"sqlite"`` or ``"postgresql"``."""
        return self.engine.dialect.name

    @property
    def safe_url(self) -> str:
        """The URL with any password masked, for logs and messages."""
        return self.url.render_as_string(hide_password=True)

    def listen(self, identifier: str, listener: Callable[..., None]) -> None:
        """Register a session event (``after_flush``, ``after_commit``...) for the sessions
        of this database only."""
        event.listen(self._sessions, identifier, listener)

    def new_session(self) -> Session:
        """A new Session; the caller closes it (prefer ``session()`` or ``UnitOfWork``)."""
        return self._sessions()

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A Session closed (and rolled back unless committed) when the block ends."""
        with self._sessions() as session:
            yield session

    def schema_status(self) -> SchemaStatus:
        """Where the database schema stands against the packaged migrations."""
        with self._explain_connection_errors(), self.engine.connect() as connection:
            return read_schema_status(connection)

    def check_schema(self, *, auto_migrate: bool = False) -> SchemaStatus:
        """Make sure the schema is current, upgrading it only if ``auto_migrate``.

        Raises ``DatabaseTooNew`` for a database migrated by newer code, and
        ``ConfigurationError`` for an outdated schema when ``auto_migrate`` is off.
        """
        status = self.schema_status()
        if status.state is SchemaState.TOO_NEW:
            raise _too_new(status, self.safe_url)
        if status.state is SchemaState.CURRENT:
            return status
        if not auto_migrate:
            raise ConfigurationError(
                f"the schema of {self.safe_url} is out of date ({status.describe()}): "
                f"{UPGRADE_HINT}"
            )
        return self.migrate()

    def migrate(self) -> SchemaStatus:
        """Upgrade the schema to the newest revision; refuses a database that is too new."""
        with self._explain_connection_errors(), self._migration_connection() as connection:
            status = read_schema_status(connection)
            if status.state is SchemaState.TOO_NEW:
                raise _too_new(status, self.safe_url)
            if status.state is not SchemaState.CURRENT:
                logger.info("upgrading %s: %s", self.safe_url, status.describe())
                upgrade_to_head(connection)
                status = read_schema_status(connection)
        return status

    def dispose(self) -> None:
        """Close every pooled connection."""
        self.engine.dispose()

    @contextmanager
    def _explain_connection_errors(self) -> Iterator[None]:
        """Turn "cannot connect" into a ConfigurationError that names the database."""
        try:
            yield
        except OperationalError as exc:
            detail = " ".join(str(exc.orig).split())
            raise ConfigurationError(f"cannot use the database {self.safe_url}: {detail}") from exc

    @contextmanager
    def _migration_connection(self) -> Iterator[Connection]:
        """A connection in a transaction, safe for schema changes on this dialect."""
        with self.engine.connect() as connection:
            if self.dialect == "sqlite":
                with _sqlite_foreign_keys_off(connection), connection.begin():
                    yield connection
                    _check_sqlite_foreign_keys(connection)
            else:
                with connection.begin():
                    _lock_migrations(connection)
                    yield connection


def open_database(settings: Settings) -> Database:
    """The configured database with its schema checked (and upgraded if allowed)."""
    database = Database(settings.resolved_database_url)
    try:
        database.check_schema(auto_migrate=settings.auto_migrate)
    except BaseException:
        database.dispose()
        raise
    return database


def normalise_url(url: str) -> URL:
    """Parse a SQLAlchemy URL; plain ``postgresql://`` means psycopg 3, the driver we ship."""
    try:
        parsed = make_url(url)
    except ArgumentError as exc:
        raise ConfigurationError(f"FACEWATCH_DATABASE_URL is not a valid URL: {exc}") from exc
    if parsed.drivername in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed


def _create_engine(url: URL, *, echo: bool) -> Engine:
    backend = url.get_backend_name()
    if backend not in ("sqlite", "postgresql"):
        raise ConfigurationError(
            f"unsupported database {backend!r}: use a sqlite:// or postgresql:// URL"
        )
    try:
        if backend == "sqlite":
            return _create_sqlite_engine(url, echo=echo)
        return create_engine(url, echo=echo, pool_pre_ping=True)
    except (NoSuchModuleError, ModuleNotFoundError) as exc:
        raise ConfigurationError(f"no database driver for {url.drivername}: {exc}") from exc


def _create_sqlite_engine(url: URL, *, echo: bool) -> Engine:
    options: dict[str, Any] = {"connect_args": {"check_same_thread": False}}
    if _is_sqlite_memory(url):
        # One shared connection, or every session would see its own empty database.
        options["poolclass"] = StaticPool
    elif url.database:
        Path(url.database).expanduser().parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(url, echo=echo, **options)
    event.listen(engine, "connect", _on_sqlite_connect)
    return engine


def _is_sqlite_memory(url: URL) -> bool:
    database = url.database or ""
    return database in ("", ":memory:") or "mode=memory" in database


def _on_sqlite_connect(dbapi_connection: Any, _record: ConnectionPoolEntry) -> None:
    if not isinstance(dbapi_connection, sqlite3.Connection):  # pragma: no cover
        return
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")  # durable enough with WAL, much faster
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        # Deleted rows are overwritten, not left in free pages: an erased person's name and
        # embeddings must not be recoverable from the file (docs/security.md).
        cursor.execute("PRAGMA secure_delete=ON")
    finally:
        cursor.close()
    register_sqlite_functions(dbapi_connection)


@contextmanager
def _sqlite_foreign_keys_off(connection: Connection) -> Iterator[None]:
    """Foreign keys off while batch migrations rebuild tables.

    With them on, dropping the old copy of a table would cascade-delete rows that refer to
    it. The pragma is ignored inside a transaction, hence the commits around it.
    """
    connection.exec_driver_sql("PRAGMA foreign_keys=OFF")
    connection.commit()
    try:
        yield
    finally:
        connection.exec_driver_sql("PRAGMA foreign_keys=ON")
        connection.commit()


def _check_sqlite_foreign_keys(connection: Connection) -> None:
    broken = connection.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
    if broken:
        raise ConfigurationError(f"migration left {len(broken)} rows with broken foreign keys")


def _lock_migrations(connection: Connection) -> None:
    """Serialise replicas that start together: one migrates, the others then find it done."""
    connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK_KEY})


def _too_new(status: SchemaStatus, url: str) -> DatabaseTooNew:
    return DatabaseTooNew(
        f"the database {url} was migrated by a newer Facewatch ({status.describe()}); "
        "upgrade Facewatch, or point it at another database"
    )
