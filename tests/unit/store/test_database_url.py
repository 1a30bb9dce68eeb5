"""Parsing FACEWATCH_DATABASE_URL."""

from __future__ import annotations

import pytest

from facewatch.errors import ConfigurationError
from facewatch.store.db import Database, normalise_url


@pytest.mark.parametrize(
    ("url", "driver"),
    [
        ("postgresql://u@h/db", "postgresql+psycopg"),
        ("postgres://u@h/db", "postgresql+psycopg"),
        ("postgresql+psycopg://u@h/db", "postgresql+psycopg"),
        ("sqlite:///x.db", "sqlite"),
    ],
)
def test_plain_postgresql_urls_use_psycopg_3(url: str, driver: str) -> None:
    assert normalise_url(url).drivername == driver


@pytest.mark.parametrize("url", ["not a url", "mysql://u@h/db"])
def test_unsupported_urls_are_a_configuration_error(url: str) -> None:
    with pytest.raises(ConfigurationError):
        Database(url)


def test_the_password_never_shows_in_the_database_repr() -> None:
    database = Database("postgresql://user:hunter2@127.0.0.1:1/db")
    try:
        assert "hunter2" not in repr(database)
        assert "hunter2" not in database.safe_url
    finally:
        database.dispose()
