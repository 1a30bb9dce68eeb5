"""Events raised on one replica reach the live (SSE) subscribers of every replica."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import threading
from collections import OrderedDict
from typing import TYPE_CHECKING

from facewatch.server.events.types import Event
from facewatch.server.infra.sync import ChangeFeed, PostgresChangeFeed

if TYPE_CHECKING:
    from facewatch.server.events.bus import EventBus

logger = logging.getLogger(__name__)

EVENTS_CHANNEL = "facewatch_events"
"""Each event raised on one replica goes to the SSE subscribers of the others on this."""

_NOTIFY_MAX_BYTES = 7900  # PostgreSQL refuses NOTIFY payloads of 8000 bytes or more
_REMEMBERED_EVENTS = 2000


class EventRelay:
    """Hands every event raised on this replica to the live subscribers of the others.

    Webhooks, MQTT and the stored history run once, on the replica that raised the event;
    only the live streams (SSE, the dashboard) need the event on every replica, since a
    client's stream is connected to whichever replica the balancer chose. The event itself
    (well under NOTIFY's 8 kB) travels in the notification.
    """

    def __init__(self, feed: ChangeFeed, bus: EventBus) -> None:
        self._feed = feed
        self._bus = bus
        self._from_elsewhere: OrderedDict[str, None] = OrderedDict()
        self._lock = threading.Lock()
        self.sent = self.received = 0
        feed.subscribe(EVENTS_CHANNEL, self._on_message)

    async def run(self) -> None:
        """Publish this replica's events until cancelled (a task on the server's loop)."""
        import anyio.to_thread

        subscription = self._bus.subscribe()
        try:
            async for event in subscription:
                message = self._message(event)
                if message is not None:
                    await anyio.to_thread.run_sync(self._feed.publish, EVENTS_CHANNEL, message)
                    self.sent += 1
        finally:
            subscription.close()

    def _message(self, event: Event) -> str | None:
        with self._lock:
            if event.id in self._from_elsewhere:
                return None  # it came from another replica: do not send it back
        message = json.dumps({"origin": self._feed.replica_id, "event": event.payload()})
        if len(message.encode()) > _NOTIFY_MAX_BYTES:
            logger.warning("event %s too large to relay to the other replicas", event.id)
            return None
        return message

    def _on_message(self, payload: str) -> None:
        """Runs on the feed's listener thread."""
        if not payload:
            return  # the feed reconnected; missed live events are not replayed
        try:
            message = json.loads(payload)
            if message.get("origin") == self._feed.replica_id:
                return
            event = Event.model_validate(message["event"])
        except (ValueError, KeyError, TypeError):
            logger.warning("ignored a malformed event notification")
            return
        self._remember(event.id)
        self.received += 1
        self._bus.broadcaster.submit(event)

    def _remember(self, event_id: str) -> None:
        with self._lock:
            self._from_elsewhere[event_id] = None
            while len(self._from_elsewhere) > _REMEMBERED_EVENTS:
                self._from_elsewhere.popitem(last=False)


def start_event_relay(feed: ChangeFeed, bus: EventBus) -> asyncio.Task[None] | None:
    """Relay events between replicas (PostgreSQL); None where there are no others to reach."""
    if not isinstance(feed, PostgresChangeFeed):
        return None
    return asyncio.create_task(EventRelay(feed, bus).run(), name="event-relay")


async def stop_event_relay(task: asyncio.Task[None] | None) -> None:
    """Cancel the relay task and wait for it to end."""
    if task is None:
        return
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
