"""Live subscribers: filters, delivery from another thread, slow subscribers, shutdown."""

from __future__ import annotations

import asyncio
import threading
import time
from datetime import UTC, datetime
from typing import Any

import pytest

from facewatch.server.events.sinks.sse import Broadcaster, StreamFilter
from facewatch.server.events.types import Event, EventType, Severity


def event(number: int = 1, **changes: Any) -> Event:
    fields: dict[str, Any] = {
        "id": f"e{number}",
        "type": EventType.PERSON_UNKNOWN,
        "severity": Severity.WARNING,
        "time": datetime(2026, 1, 1, tzinfo=UTC),
        "camera_id": "gate",
        "zone": "lobby",
        "person_id": None,
        "person_name": None,
        "category": None,
        "unknown_id": "unknown-1",
        "detection_id": number,
        "distance": 0.8,
        "confidence": 0.0,
        "crop_url": None,
    }
    return Event.model_validate({**fields, **changes})


FILTERS = {
    "no filter": (StreamFilter(), True),
    "its camera": (StreamFilter(camera_ids={"gate"}), True),
    "another camera": (StreamFilter(camera_ids={"dock"}), False),
    "its zone": (StreamFilter(zones={"lobby"}), True),
    "another zone": (StreamFilter(zones={"lab"}), False),
    "its type": (StreamFilter(types={EventType.PERSON_UNKNOWN}), True),
    "another type": (StreamFilter(types={EventType.WATCHLIST_MATCH}), False),
    "all filters met": (
        StreamFilter({"gate", "dock"}, {"lobby"}, {EventType.PERSON_UNKNOWN}),
        True,
    ),
}


@pytest.mark.parametrize(("where", "passes"), FILTERS.values(), ids=FILTERS)
def test_a_filter_lets_through_only_matching_events(where: StreamFilter, passes: bool) -> None:
    assert where.matches(event()) is passes


def publish_from_a_thread(broadcaster: Broadcaster, *events: Event) -> None:
    thread = threading.Thread(target=lambda: [broadcaster.submit(e) for e in events])
    thread.start()
    thread.join()


def test_events_submitted_on_another_thread_reach_the_subscriber_in_order() -> None:
    async def scenario() -> list[str]:
        broadcaster = Broadcaster()
        subscription = broadcaster.subscribe()
        publish_from_a_thread(broadcaster, event(1), event(2), event(3))
        return [(await subscription.next(2)).id for _ in range(3)]  # type: ignore[union-attr]

    assert asyncio.run(scenario()) == ["e1", "e2", "e3"]


def test_a_slow_subscriber_loses_events_without_holding_up_the_others() -> None:
    async def scenario() -> tuple[int, int]:
        broadcaster = Broadcaster(subscriber_queue_size=2)
        slow, fast = broadcaster.subscribe(), broadcaster.subscribe()
        for number in range(5):
            publish_from_a_thread(broadcaster, event(number))
            await fast.next(2)
        await asyncio.sleep(0)
        return slow.dropped, fast.dropped

    assert asyncio.run(scenario()) == (3, 0)


def test_the_timeout_returns_none_and_loses_no_event() -> None:
    async def scenario() -> list[str | None]:
        broadcaster = Broadcaster()
        subscription = broadcaster.subscribe()
        quiet = await subscription.next(0.01)
        publish_from_a_thread(broadcaster, event(1))
        arrived = await subscription.next(2)
        return [None if quiet is None else quiet.id, None if arrived is None else arrived.id]

    assert asyncio.run(scenario()) == [None, "e1"]


def test_stopping_the_broadcaster_ends_every_subscription() -> None:
    async def scenario() -> int:
        broadcaster = Broadcaster()
        subscription = broadcaster.subscribe()
        threading.Thread(target=broadcaster.stop, args=(1.0,)).start()
        received = [e async for e in subscription]
        return len(received) + broadcaster.subscribers

    assert asyncio.run(scenario()) == 0


def test_no_event_is_lost_when_timeouts_race_with_arrivals() -> None:
    async def scenario() -> list[str]:
        broadcaster = Broadcaster(subscriber_queue_size=1000)
        subscription = broadcaster.subscribe()

        def publish() -> None:
            for number in range(300):
                broadcaster.submit(event(number))
                if number % 10 == 0:
                    time.sleep(0.001)

        thread = threading.Thread(target=publish)
        thread.start()
        received: list[str] = []
        while len(received) < 300:
            arrived = await subscription.next(0.0005)  # times out constantly
            if arrived is not None:
                received.append(arrived.id)
            elif not thread.is_alive() and len(received) < 300:
                arrived = await subscription.next(1.0)
                if arrived is None:
                    break
                received.append(arrived.id)
        thread.join()
        return received

    assert asyncio.run(scenario()) == [f"e{n}" for n in range(300)]
