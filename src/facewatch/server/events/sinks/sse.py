"""The broadcast sink: live subscribers (SSE streams, the dashboard) each get their events.

Each subscription belongs to the asyncio loop that made it and holds a bounded queue; the
dispatcher thread hands events over with ``call_soon_threadsafe``. A subscriber that does
not keep up loses events (counted on its subscription), never slows the others.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Collection
from dataclasses import dataclass

from facewatch.server.events.sinks.base import EventSink
from facewatch.server.events.types import Event, EventType

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class StreamFilter:
    """Which live events a subscriber wants; an empty collection lets everything through."""

    camera_ids: Collection[str] = ()
    zones: Collection[str] = ()
    types: Collection[EventType] = ()

    def matches(self, event: Event) -> bool:
        """Whether ``event`` passes every filter given."""
        return (
            (not self.camera_ids or event.camera_id in self.camera_ids)
            and (not self.zones or event.zone in self.zones)
            and (not self.types or event.type in self.types)
        )


class Subscription:
    """One subscriber's live events: ``await subscription.next(timeout)`` or ``async for``."""

    def __init__(self, broadcaster: Broadcaster, where: StreamFilter, maxsize: int) -> None:
        self.where = where
        self.dropped = 0
        self._broadcaster = broadcaster
        self._loop = asyncio.get_running_loop()
        self._queue: asyncio.Queue[Event | None] = asyncio.Queue(maxsize=maxsize)
        self._pending: asyncio.Future[Event | None] | None = None
        self._closed = False

    async def next(self, timeout: float | None = None) -> Event | None:
        """The next event; ``None`` after ``timeout`` seconds without one.

        Raises ``StopAsyncIteration`` once the subscription is closed.
        """
        if self._closed and self._queue.empty():
            raise StopAsyncIteration
        # asyncio.wait (unlike wait_for) never cancels the read on timeout: an event that
        # arrives just as the timeout fires stays in the pending read for the next call.
        if self._pending is None:
            self._pending = asyncio.ensure_future(self._queue.get())
        done, _ = await asyncio.wait({self._pending}, timeout=timeout)
        if not done:
            return None
        event, self._pending = self._pending.result(), None
        if event is None:
            self._closed = True
            raise StopAsyncIteration
        return event

    def __aiter__(self) -> Subscription:
        return self

    async def __anext__(self) -> Event:
        event = None
        while event is None:
            event = await self.next()
        return event

    def close(self) -> None:
        """Stop receiving events (call it on the subscription's loop, when done)."""
        self._broadcaster.unsubscribe(self)
        if self._pending is not None:
            self._pending.cancel()
            self._pending = None

    def _offer(self, event: Event | None) -> None:
        """Runs on the subscription's loop."""
        if event is None:
            self._closed = True
            self._drain_for_sentinel()
            return
        try:
            self._queue.put_nowait(event)
        except asyncio.QueueFull:
            self.dropped += 1
            if self.dropped == 1:
                logger.warning("a live subscriber is too slow; dropping its events")

    def _drain_for_sentinel(self) -> None:
        if self._queue.full():
            self._queue.get_nowait()
        self._queue.put_nowait(None)

    def deliver(self, event: Event | None) -> bool:
        """Hand ``event`` (``None``: the end) to the subscription's loop; False if it is gone."""
        try:
            self._loop.call_soon_threadsafe(self._offer, event)
        except RuntimeError:  # the loop is closed: the subscriber is gone
            return False
        return True


class Broadcaster(EventSink):
    """Fans events out to live subscriptions."""

    name = "live"

    def __init__(self, subscriber_queue_size: int = 100) -> None:
        self._queue_size = subscriber_queue_size
        self._subscriptions: set[Subscription] = set()
        self._lock = threading.Lock()

    @property
    def subscribers(self) -> int:
        """How many subscriptions are open."""
        with self._lock:
            return len(self._subscriptions)

    def subscribe(self, where: StreamFilter | None = None) -> Subscription:
        """A new subscription (call from the asyncio loop that will read it)."""
        subscription = Subscription(self, where or StreamFilter(), self._queue_size)
        with self._lock:
            self._subscriptions.add(subscription)
        return subscription

    def unsubscribe(self, subscription: Subscription) -> None:
        """Forget ``subscription`` (no error if it is already gone)."""
        with self._lock:
            self._subscriptions.discard(subscription)

    def submit(self, event: Event) -> None:
        with self._lock:
            subscriptions = list(self._subscriptions)
        for subscription in subscriptions:
            if subscription.where.matches(event) and not subscription.deliver(event):
                self.unsubscribe(subscription)

    def stop(self, timeout: float) -> None:
        """End every subscription: their streams finish."""
        with self._lock:
            subscriptions, self._subscriptions = list(self._subscriptions), set()
        for subscription in subscriptions:
            subscription.deliver(None)
