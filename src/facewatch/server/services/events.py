"""Events: list, read, acknowledge, and follow them live (shared by the API and dashboard).

Usage::

    page = list_events(runtime, EventQuery(types=("person.unknown",), acknowledged=False))
    event = acknowledge_event(runtime, event_id, by="user:alice")
    async for frame in sse_frames(runtime, StreamFilter(camera_ids={"gate-1"})): ...
    subscription = subscribe(runtime, StreamFilter())   # Event objects, for own rendering
"""

from __future__ import annotations

import dataclasses
import json
import logging
from collections.abc import AsyncIterator, Collection
from dataclasses import dataclass
from datetime import datetime

import anyio.to_thread

from facewatch.server.events import Event, StreamFilter, Subscription
from facewatch.server.events.schemas import EventStatsOut, QueueStatsOut
from facewatch.server.events.sinks.store import from_record
from facewatch.server.events.worker import WorkerStats
from facewatch.server.infra.runtime import Runtime
from facewatch.server.schemas import Page
from facewatch.store.repositories import EventFilter

logger = logging.getLogger(__name__)

RECONNECT_MILLISECONDS = 3000
REPLAY_LIMIT = 200


@dataclass(frozen=True, slots=True)
class EventQuery:
    """Filters of the events list; an empty collection does not filter."""

    camera_ids: Collection[str] = ()
    zones: Collection[str] = ()
    types: Collection[str] = ()
    person_id: int | None = None
    since: datetime | None = None
    until: datetime | None = None
    acknowledged: bool | None = None
    offset: int = 0
    limit: int = 50


def list_events(runtime: Runtime, query: EventQuery) -> Page[Event]:
    """Stored events matching the filters, newest first."""
    where = EventFilter(
        camera_ids=query.camera_ids,
        zone_ids=query.zones,
        types=query.types,
        person_id=query.person_id,
        since=query.since,
        until=query.until,
        acknowledged=query.acknowledged,
    )
    with runtime.uow() as uow:
        rows, total = uow.events.query(where, query.offset, query.limit)
        items = [from_record(row) for row in rows]
    return Page[Event](items=items, total=total, offset=query.offset, limit=query.limit)


def get_event(runtime: Runtime, event_id: str) -> Event:
    """One stored event; ``NotFound`` if there is none."""
    with runtime.uow() as uow:
        return from_record(uow.events.get(event_id))


def acknowledge_event(runtime: Runtime, event_id: str, by: str) -> Event:
    """Mark an event acknowledged by ``by`` (an API key or a user); idempotent.

    Acknowledging twice keeps the first acknowledgement.
    """
    with runtime.uow() as uow:
        record = uow.events.get(event_id)
        if uow.events.acknowledge(record, by):
            uow.commit()
            logger.info("event %s acknowledged by %s", event_id, by)
        return from_record(record)


def subscribe(runtime: Runtime, where: StreamFilter | None = None) -> Subscription:
    """Live events from now on, as ``Event`` objects; call ``close()`` when done."""
    return runtime.events.subscribe(where)


async def sse_frames(
    runtime: Runtime, where: StreamFilter, last_event_id: str | None = None
) -> AsyncIterator[str]:
    """The text of a Server-Sent Events stream: missed events first, then live ones.

    ``last_event_id`` (the browser's ``Last-Event-ID`` on reconnect) replays what was
    stored after that event (at most ``REPLAY_LIMIT``). A comment line every
    ``sse_heartbeat_seconds`` keeps an idle connection open.
    """
    subscription = subscribe(runtime, where)  # before the replay: nothing falls in between
    heartbeat = runtime.settings.sse_heartbeat_seconds
    try:
        yield f"retry: {RECONNECT_MILLISECONDS}\n\n"
        replayed: set[str] = set()
        if last_event_id:
            for missed in await anyio.to_thread.run_sync(_missed, runtime, last_event_id, where):
                replayed.add(missed.id)
                yield sse_frame(missed)
        while True:
            try:
                event = await subscription.next(heartbeat)
            except StopAsyncIteration:
                return
            if event is None:
                yield ": keep-alive\n\n"
            elif event.id not in replayed:
                yield sse_frame(event)
    finally:
        subscription.close()


def sse_frame(event: Event) -> str:
    """One event as an SSE message: its id (for Last-Event-ID) and its JSON on one line."""
    return f"id: {event.id}\ndata: {json.dumps(event.payload(), separators=(',', ':'))}\n\n"


def _missed(runtime: Runtime, last_event_id: str, where: StreamFilter) -> list[Event]:
    with runtime.uow() as uow:
        rows = uow.events.stored_after(last_event_id, REPLAY_LIMIT)
        events = [from_record(row) for row in rows]
    return [event for event in events if where.matches(event)]


def event_stats(runtime: Runtime) -> EventStatsOut:
    """Counters of the event path: queued, dropped, handled, failed, per stage."""
    stats = runtime.events.stats()
    return EventStatsOut(
        dispatcher=_queue_out(stats.dispatcher) if stats.dispatcher is not None else None,
        suppressed_by_cooldown=stats.suppressed_by_cooldown,
        live_subscribers=stats.live_subscribers,
        sinks=[_queue_out(sink) for sink in stats.sinks],
    )


def _queue_out(stats: WorkerStats) -> QueueStatsOut:
    return QueueStatsOut.model_validate(dataclasses.asdict(stats))
