"""Events: what the event rules raised from detections, and who acknowledged them."""

from __future__ import annotations

import builtins
from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Select, select, tuple_
from sqlalchemy.orm import Session

from facewatch.errors import InvalidInput, NotFound
from facewatch.store.models import EventRecord, utcnow
from facewatch.store.repositories.common import Page, fetch_page


@dataclass(frozen=True, slots=True)
class EventFilter:
    """Which stored events to list; an empty collection does not filter."""

    camera_ids: Collection[str] = ()
    zone_ids: Collection[str] = ()
    types: Collection[str] = ()
    person_id: int | None = None
    since: datetime | None = None
    """Inclusive, on the time the face was captured."""
    until: datetime | None = None
    """Exclusive."""
    acknowledged: bool | None = None


class EventRepository:
    """Reads and writes the ``events`` table."""

    def __init__(self, session: Session) -> None:
        self._session = session

    def add(self, record: EventRecord) -> EventRecord:
        """Store a new event (its id is chosen by the caller, a UUID)."""
        self._session.add(record)
        self._session.flush()
        return record

    def get(self, event_id: str) -> EventRecord:
        """The event with this id; ``NotFound`` if there is none."""
        record = self._session.get(EventRecord, event_id)
        if record is None:
            raise NotFound(f"event {event_id!r} not found")
        return record

    def query(self, where: EventFilter, offset: int = 0, limit: int = 100) -> Page[EventRecord]:
        """Events newest first (by capture time) that match ``where``."""
        statement = _filtered(select(EventRecord), where).order_by(
            EventRecord.occurred_at.desc(), EventRecord.id.desc()
        )
        return fetch_page(self._session, statement, offset, limit)

    def stored_after(self, event_id: str, limit: int) -> builtins.list[EventRecord]:
        """Up to ``limit`` events stored after event ``event_id``, oldest first.

        An unknown ``event_id`` gives nothing: the caller cannot tell where it stopped.
        """
        anchor = self._session.get(EventRecord, event_id)
        if anchor is None:
            return []
        after = tuple_(EventRecord.created_at, EventRecord.id) > tuple_(
            anchor.created_at, anchor.id
        )
        statement = (
            select(EventRecord)
            .where(after)
            .order_by(EventRecord.created_at, EventRecord.id)
            .limit(limit)
        )
        return list(self._session.scalars(statement))

    def acknowledge(self, record: EventRecord, by: str, at: datetime | None = None) -> bool:
        """Mark ``record`` acknowledged; False (and no change) if it already was."""
        if record.acknowledged_at is not None:
            return False
        if not by.strip() or len(by) > 200:
            raise InvalidInput("'acknowledged by' must be 1 to 200 characters")
        record.acknowledged_at = at or utcnow()
        record.acknowledged_by = by
        self._session.flush()
        return True


def _filtered(statement: Select[EventRecord], where: EventFilter) -> Select[EventRecord]:
    if where.camera_ids:
        statement = statement.where(EventRecord.camera_id.in_(where.camera_ids))
    if where.zone_ids:
        statement = statement.where(EventRecord.zone_id.in_(where.zone_ids))
    if where.types:
        statement = statement.where(EventRecord.type.in_(where.types))
    if where.person_id is not None:
        statement = statement.where(EventRecord.person_id == where.person_id)
    if where.since is not None:
        statement = statement.where(EventRecord.occurred_at >= where.since)
    if where.until is not None:
        statement = statement.where(EventRecord.occurred_at < where.until)
    if where.acknowledged is True:
        statement = statement.where(EventRecord.acknowledged_at.is_not(None))
    elif where.acknowledged is False:
        statement = statement.where(EventRecord.acknowledged_at.is_(None))
    return statement
