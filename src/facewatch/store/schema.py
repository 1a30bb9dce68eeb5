"""Alembic glue: where the migrations live, what revision a database is at, upgrading it.

No ``alembic.ini`` is needed: the Alembic ``Config`` is built here, and ``env.py`` runs the
migrations on the connection handed over in ``Config.attributes["connection"]``.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
UPGRADE_HINT = (
    "back up the database, then run `facewatch admin migrate` (or start Facewatch once with "
    "FACEWATCH_AUTO_MIGRATE=true) to upgrade it"
)


class SchemaState(StrEnum):
    """Where a database stands against the migrations this code ships."""

    EMPTY = "empty"
    """No Alembic revision stamped: a new database."""
    BEHIND = "behind"
    """Stamped with an older revision this code can upgrade."""
    CURRENT = "current"
    """At the newest revision this code knows."""
    TOO_NEW = "too_new"
    """Stamped with a revision this code does not know: migrated by newer Facewatch."""


@dataclass(frozen=True, slots=True)
class SchemaStatus:
    """The revisions stamped in a database and those this code expects."""

    state: SchemaState
    current: tuple[str, ...]
    """Revisions stamped in the database (empty for a new database)."""
    heads: tuple[str, ...]
    """Newest revisions this code ships."""

    def describe(self) -> str:
        """A one-line summary for logs and error messages."""
        current = ", ".join(self.current) or "none"
        return f"database revision {current}; this Facewatch expects {', '.join(self.heads)}"


def alembic_config(connection: Connection | None = None) -> Config:
    """An Alembic ``Config`` for the packaged migrations, bound to ``connection`` if given."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    if connection is not None:
        config.attributes["connection"] = connection
    return config


def script_directory() -> ScriptDirectory:
    """The packaged migration scripts."""
    return ScriptDirectory.from_config(alembic_config())


def read_schema_status(connection: Connection) -> SchemaStatus:
    """Compare the revision stamped in the database with the packaged migrations."""
    scripts = script_directory()
    heads = tuple(sorted(scripts.get_heads()))
    current = tuple(sorted(MigrationContext.configure(connection).get_current_heads()))
    known = {script.revision for script in scripts.walk_revisions()}
    return SchemaStatus(_state(current, heads, known), current, heads)


def _state(current: tuple[str, ...], heads: tuple[str, ...], known: set[str]) -> SchemaState:
    if not current:
        return SchemaState.EMPTY
    if any(revision not in known for revision in current):
        return SchemaState.TOO_NEW
    if current == heads:
        return SchemaState.CURRENT
    return SchemaState.BEHIND


def upgrade_to_head(connection: Connection) -> None:
    """Run every pending migration on ``connection`` (inside the caller's transaction)."""
    command.upgrade(alembic_config(connection), "head")


def downgrade_to(connection: Connection, revision: str) -> None:
    """Revert migrations down to ``revision`` (``"base"`` drops every table)."""
    command.downgrade(alembic_config(connection), revision)
