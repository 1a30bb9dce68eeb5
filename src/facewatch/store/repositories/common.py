"""Helpers every repository uses: paging, counting, text limits, integrity errors."""

from __future__ import annotations

from typing import Any, TypeAlias, TypeVar

from sqlalchemy import Select, String, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import InstrumentedAttribute, Session

from facewatch.errors import Conflict, InvalidInput

T = TypeVar("T")
Page: TypeAlias = tuple[list[T], int]
"""One page of rows and the total number of rows matching the filters."""

MAX_LIMIT = 1000


def check_page(offset: int, limit: int) -> None:
    """Reject a negative offset or a page size outside 1..MAX_LIMIT."""
    if offset < 0:
        raise InvalidInput(f"offset must be 0 or more, not {offset}")
    if not 1 <= limit <= MAX_LIMIT:
        raise InvalidInput(f"limit must be between 1 and {MAX_LIMIT}, not {limit}")


def fetch_page(session: Session, statement: Select[T], offset: int, limit: int) -> Page[T]:
    """The rows of ``statement`` from ``offset`` (at most ``limit``) and the total count."""
    check_page(offset, limit)
    total = session.scalar(select(func.count()).select_from(statement.order_by(None).subquery()))
    items = list(session.scalars(statement.offset(offset).limit(limit)))
    return items, total or 0


def check_text(column: InstrumentedAttribute[Any], value: str) -> str:
    """Return ``value`` if it fits ``column`` (a String column); raise ``InvalidInput`` if not.

    PostgreSQL would refuse an over-long value with an error that is no fault of the
    database; SQLite would silently keep it.
    """
    if not isinstance(value, str):
        raise InvalidInput(f"{column.key} must be text")
    length = getattr(column.expression.type, "length", None)
    if isinstance(column.expression.type, String) and length and len(value) > length:
        raise InvalidInput(f"{column.key} is longer than {length} characters")
    if "\x00" in value:  # PostgreSQL cannot store NUL characters in text
        raise InvalidInput(f"{column.key} must not contain NUL characters")
    return value


def flush_or_conflict(session: Session, message: str) -> None:
    """Flush pending changes; a unique-constraint clash becomes ``Conflict(message)``.

    After a ``Conflict`` the session's transaction is rolled back: the unit of work that
    owns it must end (its ``with`` block re-raises and rolls back).
    """
    try:
        session.flush()
    except IntegrityError as exc:
        raise Conflict(message) from exc
