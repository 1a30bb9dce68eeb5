"""Migrations: an empty database upgrades to exactly the models, and newer ones are refused."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect, text

from facewatch.errors import ConfigurationError, DatabaseTooNew
from facewatch.store.db import Database
from facewatch.store.models import Base
from facewatch.store.schema import SchemaState, downgrade_to

# Every model has its table; a model without a migration (or the reverse) fails here.
TABLES = set(Base.metadata.tables)


@pytest.fixture
def own_database(empty_database: Database) -> Database:
    """A migrated database of the test's own, whose schema the test may change."""
    empty_database.migrate()
    return empty_database


def _stamp(database: Database, revision: str) -> None:
    with database.engine.begin() as connection:
        connection.execute(text("UPDATE alembic_version SET version_num = :r"), {"r": revision})


def test_an_empty_database_upgrades_to_every_table(empty_database: Database) -> None:
    empty_database.migrate()
    tables = set(inspect(empty_database.engine).get_table_names())
    assert tables == TABLES | {"alembic_version"}


def test_the_migrated_schema_matches_the_models_exactly(database: Database) -> None:
    with database.engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        assert compare_metadata(context, Base.metadata) == []


def test_an_empty_database_reports_empty_then_current(empty_database: Database) -> None:
    assert empty_database.schema_status().state is SchemaState.EMPTY
    assert empty_database.migrate().state is SchemaState.CURRENT
    assert empty_database.schema_status().state is SchemaState.CURRENT


def test_migrating_a_current_database_changes_nothing(database: Database) -> None:
    before = database.schema_status()
    assert database.migrate() == before


def test_the_migrations_downgrade_to_nothing(own_database: Database) -> None:
    with own_database.engine.begin() as connection:
        downgrade_to(connection, "base")
    assert set(inspect(own_database.engine).get_table_names()) <= {"alembic_version"}


REFUSING_OPERATIONS = {
    "migrate": lambda db: db.migrate(),
    "check": lambda db: db.check_schema(),
    "check-with-auto-migrate": lambda db: db.check_schema(auto_migrate=True),
}


@pytest.mark.parametrize("operation", REFUSING_OPERATIONS.values(), ids=REFUSING_OPERATIONS)
def test_a_database_stamped_by_newer_code_is_refused(
    own_database: Database, operation: Callable[[Database], object]
) -> None:
    _stamp(own_database, "9999_from_the_future")
    with pytest.raises(DatabaseTooNew, match="newer Facewatch") as raised:
        operation(own_database)
    assert "9999_from_the_future" in raised.value.message


def test_a_database_stamped_by_newer_code_reports_too_new(own_database: Database) -> None:
    _stamp(own_database, "9999_from_the_future")
    status = own_database.schema_status()
    assert status.state is SchemaState.TOO_NEW
    assert status.current == ("9999_from_the_future",)


def test_an_outdated_schema_is_refused_when_auto_migrate_is_off(
    empty_database: Database,
) -> None:
    with pytest.raises(ConfigurationError, match="FACEWATCH_AUTO_MIGRATE") as raised:
        empty_database.check_schema(auto_migrate=False)
    assert not isinstance(raised.value, DatabaseTooNew)


def test_an_outdated_schema_is_upgraded_when_auto_migrate_is_on(
    empty_database: Database,
) -> None:
    assert empty_database.check_schema(auto_migrate=True).state is SchemaState.CURRENT


def test_a_current_schema_passes_the_check(database: Database) -> None:
    assert database.check_schema().state is SchemaState.CURRENT
