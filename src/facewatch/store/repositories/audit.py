"""The audit log: append entries, read them back by filters, stream them for export.

There is no update and no delete here, and the database refuses both (migration 0005).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from facewatch.security import audit
from facewatch.store.models import AuditEntry
from facewatch.store.repositories.common import Page, fetch_page

EXPORT_BATCH = 500
_OUTCOMES = frozenset({"ok", "denied", "failed"})


@dataclass(frozen=True, slots=True)
class AuditFilter:
    """Which entries to read; every unset field matches all."""

    action: str | None = None
    """An exact action (``person.deleted``) or a kind followed by a dot (``person.``)."""
    actor: str | None = None
    target: str | None = None
    outcome: str | None = None
    since: datetime | None = None
    until: datetime | None = None


def entry_values(
    action: str,
    *,
    target: str = "",
    outcome: str = "ok",
    details: Mapping[str, Any] | None = None,
    actor: str | None = None,
    address: str | None = None,
) -> dict[str, Any]:
    """The column values of one entry, attributed to the current audit context by default."""
    if outcome not in _OUTCOMES:
        raise ValueError(f"unknown audit outcome {outcome!r}")
    context = audit.current()
    return {
        "action": action[:64],
        "target": target[:200],
        "outcome": outcome,
        "details": dict(details or {}),
        "actor": (actor or context.actor)[: audit.MAX_ACTOR],
        "address": (context.address if address is None else address)[: audit.MAX_ADDRESS],
    }


class AuditRepository:
    """Appends to and reads the ``audit_log`` table."""

    def __init__(self, session: Session) -> None:
        self._session = session

    def add(
        self,
        action: str,
        *,
        target: str = "",
        outcome: str = "ok",
        details: Mapping[str, Any] | None = None,
        actor: str | None = None,
        address: str | None = None,
    ) -> AuditEntry:
        """Append one entry (written with the unit of work's commit)."""
        values = entry_values(
            action, target=target, outcome=outcome, details=details, actor=actor, address=address
        )
        entry = AuditEntry(**values)
        self._session.add(entry)
        return entry

    def list(self, where: AuditFilter, offset: int = 0, limit: int = 100) -> Page[AuditEntry]:
        """Entries matching ``where``, newest first."""
        statement = _filtered(where).order_by(AuditEntry.occurred_at.desc(), AuditEntry.id.desc())
        return fetch_page(self._session, statement, offset, limit)

    def stream(self, where: AuditFilter) -> Iterator[AuditEntry]:
        """Every entry matching ``where``, oldest first, read in batches (for exports)."""
        statement = (
            _filtered(where)
            .order_by(AuditEntry.occurred_at, AuditEntry.id)
            .execution_options(yield_per=EXPORT_BATCH)
        )
        yield from self._session.scalars(statement)

    def latest(self, action: str) -> AuditEntry | None:
        """The newest entry of ``action``, if any."""
        statement = (
            select(AuditEntry)
            .where(AuditEntry.action == action)
            .order_by(AuditEntry.occurred_at.desc(), AuditEntry.id.desc())
            .limit(1)
        )
        return self._session.scalar(statement)


def _filtered(where: AuditFilter) -> Select[AuditEntry]:
    statement = select(AuditEntry)
    if where.action:
        if where.action.endswith("."):
            statement = statement.where(AuditEntry.action.startswith(where.action))
        else:
            statement = statement.where(AuditEntry.action == where.action)
    if where.actor:
        statement = statement.where(AuditEntry.actor == where.actor)
    if where.target:
        statement = statement.where(AuditEntry.target == where.target)
    if where.outcome:
        statement = statement.where(AuditEntry.outcome == where.outcome)
    if where.since is not None:
        statement = statement.where(AuditEntry.occurred_at >= where.since)
    if where.until is not None:
        statement = statement.where(AuditEntry.occurred_at < where.until)
    return statement
