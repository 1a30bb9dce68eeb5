"""SQL functions that must behave the same on SQLite and PostgreSQL.

SQLite's built-in ``lower()`` folds ASCII letters only, so a search for "émile" would miss
"Émile". SQLite connections get a Python ``lower`` registered as ``fw_lower``; PostgreSQL
uses its own Unicode-aware ``lower()``.
"""

from __future__ import annotations

import sqlite3
from typing import Any

from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.functions import FunctionElement
from sqlalchemy.types import String

SQLITE_LOWER = "fw_lower"


class unicode_lower(FunctionElement[str]):  # noqa: N801  (SQL functions read as lower case)
    """``lower(x)`` with Unicode case folding on every supported database."""

    type = String()
    inherit_cache = True
    name = "unicode_lower"


@compiles(unicode_lower)
def _compile_default(element: unicode_lower, compiler: SQLCompiler, **kw: Any) -> str:
    return f"lower({compiler.process(element.clauses, **kw)})"


@compiles(unicode_lower, "sqlite")
def _compile_sqlite(element: unicode_lower, compiler: SQLCompiler, **kw: Any) -> str:
    return f"{SQLITE_LOWER}({compiler.process(element.clauses, **kw)})"


def _python_lower(value: str | None) -> str | None:
    return None if value is None else value.lower()


def register_sqlite_functions(connection: sqlite3.Connection) -> None:
    """Make the functions above callable on one raw SQLite connection."""
    connection.create_function(SQLITE_LOWER, 1, _python_lower, deterministic=True)
