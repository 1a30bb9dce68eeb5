"""Events raised on one replica reach the live (SSE) subscribers of every replica."""

from __future__ import annotations

import asyncio
import time
import uuid
from datetime import UTC, datetime

import pytest

from facewatch.server.events import EventBus, EventType, Severity
from facewatch.server.events.types import Event
from facewatch.server.infra.sync import PostgresChangeFeed
from facewatch.server.services.event_relay import (
    EVENTS_CHANNEL,
    start_event_relay,
    stop_event_relay,
)
from facewatch.store.db import Database


def an_event() -> Event:
    return Event(
        id=str(uuid.uuid4()),
        type=EventType.PERSON_UNKNOWN,
        severity=Severity.WARNING,
        time=datetime.now(UTC),
        camera_id="gate-1",
        zone=None,
        person_id=None,
        person_name=None,
        category=None,
        unknown_id=None,
        detection_id=7,
        distance=0.71,
        confidence=0.9,
        crop_url=None,
    )


async def listening(feeds: list[PostgresChangeFeed], limit: float = 10.0) -> None:
    started = time.monotonic()
    while not all(feed.listening(EVENTS_CHANNEL) for feed in feeds):
        assert time.monotonic() - started < limit, "the feeds never listened"
        await asyncio.sleep(0.05)


async def two_replicas_exchange_an_event(url: str) -> tuple[list[str | None], Event]:
    feeds = [PostgresChangeFeed(Database(url)) for _ in range(2)]
    buses = [EventBus.disabled() for _ in range(2)]
    tasks = [start_event_relay(feed, bus) for feed, bus in zip(feeds, buses, strict=True)]
    for feed in feeds:
        feed.start()
    streams = [bus.subscribe() for bus in buses]
    try:
        await listening(feeds)
        event = an_event()
        buses[0].broadcaster.submit(event)  # what the dispatcher does with a raised event
        got = [await stream.next(timeout=2.0) for stream in streams]
        echoes = [await stream.next(timeout=0.7) for stream in streams]
        return [e.id if e else None for e in got + echoes], event
    finally:
        for stream in streams:
            stream.close()
        for task in tasks:
            await stop_event_relay(task)
        for feed in feeds:
            await asyncio.to_thread(feed.close)


@pytest.mark.parametrize("database", ["postgresql"], indirect=True)
def test_an_event_reaches_the_live_streams_of_both_replicas_once(database: Database) -> None:
    url = database.url.render_as_string(hide_password=False)
    ids, event = asyncio.run(two_replicas_exchange_an_event(url))
    assert ids == [event.id, event.id, None, None]


def test_the_relay_runs_only_where_there_are_other_replicas() -> None:
    from facewatch.server.infra.sync import LocalChangeFeed

    assert start_event_relay(LocalChangeFeed(), EventBus.disabled()) is None
