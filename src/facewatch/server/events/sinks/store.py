"""The store sink: every event goes into the ``events`` table.

It runs on the dispatcher thread, before the other sinks see the event, so that an event
a client sees (on SSE, a webhook, MQTT) can be listed and acknowledged at once.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from sqlalchemy.exc import SQLAlchemyError

from facewatch.errors import FacewatchError
from facewatch.server.events.sinks.base import EventSink
from facewatch.server.events.types import Event
from facewatch.store.models import EventRecord
from facewatch.store.unit_of_work import UnitOfWork

logger = logging.getLogger(__name__)


class StoreSink(EventSink):
    """Writes each event to the database, at once."""

    name = "store"

    def __init__(self, uow_factory: Callable[[], UnitOfWork]) -> None:
        self._uow = uow_factory

    def submit(self, event: Event) -> None:
        try:
            with self._uow() as uow:
                uow.events.add(to_record(event))
                uow.commit()
        except (SQLAlchemyError, FacewatchError):
            # The other sinks still get the event; only the stored history misses it.
            logger.exception("event %s (%s) could not be stored", event.id, event.type)


def to_record(event: Event) -> EventRecord:
    """The row that stores ``event``."""
    return EventRecord(
        id=event.id,
        type=event.type.value,
        severity=event.severity.value,
        occurred_at=event.time,
        camera_id=event.camera_id,
        zone_id=event.zone,
        person_id=event.person_id,
        person_name=event.person_name,
        category=event.category,
        unknown_id=event.unknown_id,
        detection_id=event.detection_id,
        distance=event.distance,
        confidence=event.confidence,
        crop_url=event.crop_url,
        acknowledged_at=event.acknowledged_at,
        acknowledged_by=event.acknowledged_by,
    )


def from_record(record: EventRecord) -> Event:
    """The event a stored row holds."""
    return Event.model_validate(
        {
            "id": record.id,
            "type": record.type,
            "severity": record.severity,
            "time": record.occurred_at,
            "camera_id": record.camera_id,
            "zone": record.zone_id,
            "person_id": record.person_id,
            "person_name": record.person_name,
            "category": record.category,
            "unknown_id": record.unknown_id,
            "detection_id": record.detection_id,
            "distance": record.distance,
            "confidence": record.confidence,
            "crop_url": record.crop_url,
            "acknowledged_at": record.acknowledged_at,
            "acknowledged_by": record.acknowledged_by,
        }
    )
