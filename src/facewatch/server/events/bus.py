"""The event bus: the seam between the ingest path and the event sinks.

Ingest calls ``publish(detections)`` after its commit; that only queues (bounded: a full
queue drops and counts). The dispatcher thread raises events from the detections (rules,
cooldown) and hands each to every sink in turn: the store first, then live subscribers,
webhooks and MQTT, the last two on threads of their own.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from facewatch.config import Settings
from facewatch.server.events.raiser import EventRaiser
from facewatch.server.events.sinks import Broadcaster, EventSink, create_sinks
from facewatch.server.events.sinks.sse import StreamFilter, Subscription
from facewatch.server.events.types import DetectionFacts, Event
from facewatch.server.events.worker import Worker, WorkerStats
from facewatch.store.unit_of_work import UnitOfWork

logger = logging.getLogger(__name__)

STOP_TIMEOUT_SECONDS = 10.0


@dataclass(frozen=True, slots=True)
class BusStats:
    """Counters of the event path since start-up."""

    dispatcher: WorkerStats | None
    suppressed_by_cooldown: int
    live_subscribers: int
    sinks: tuple[WorkerStats, ...]


class EventBus:
    """Raises events from stored detections and fans them out to the sinks."""

    def __init__(
        self,
        raiser: EventRaiser | None,
        sinks: Sequence[EventSink],
        broadcaster: Broadcaster,
        queue_size: int = 1000,
    ) -> None:
        self._raiser = raiser
        self._sinks = list(sinks)
        self.broadcaster = broadcaster
        self._dispatcher: Worker[Sequence[DetectionFacts] | Event] | None = (
            Worker("events-dispatcher", self._dispatch, queue_size) if raiser else None
        )
        self._running = False
        self._observers: list[Callable[[Event], None]] = []

    @classmethod
    def disabled(cls) -> EventBus:
        """A bus that raises nothing (the CLI, and the server before its lifespan starts)."""
        return cls(None, [], Broadcaster())

    def start(self) -> None:
        """Start the sinks, then the dispatcher."""
        for sink in self._sinks:
            sink.start()
        if self._dispatcher is not None:
            self._dispatcher.start()
        self._running = True

    def stop(self, timeout: float = STOP_TIMEOUT_SECONDS) -> None:
        """Raise the events already queued, then stop every sink."""
        self._running = False
        if self._dispatcher is not None:
            self._dispatcher.stop(timeout)
        for sink in self._sinks:
            try:
                sink.stop(timeout)
            except Exception:
                # Shutting down: one sink failing to stop must not keep the others running.
                logger.exception("event sink %s did not stop cleanly", sink.name)

    def publish(self, detections: Sequence[DetectionFacts]) -> None:
        """Queue stored detections for the rules; never blocks, never raises."""
        if not detections or self._dispatcher is None or not self._running:
            return
        self._dispatcher.offer(tuple(detections))

    def announce(self, event: Event) -> None:
        """Queue an event raised elsewhere than from detections (a camera gone quiet) for
        the sinks; never blocks, never raises."""
        if self._dispatcher is None or not self._running:
            return
        self._dispatcher.offer(event)

    def observe(self, callback: Callable[[Event], None]) -> None:
        """Call ``callback`` with each event raised here, after the sinks took it (on the
        dispatcher thread: it must be quick; metrics count events this way)."""
        self._observers.append(callback)

    def subscribe(self, where: StreamFilter | None = None) -> Subscription:
        """A live subscription to the events raised from now on (call it on the event loop)."""
        return self.broadcaster.subscribe(where)

    def stats(self) -> BusStats:
        """The counters now."""
        sink_stats = tuple(s for s in (sink.stats() for sink in self._sinks) if s is not None)
        return BusStats(
            dispatcher=self._dispatcher.stats() if self._dispatcher is not None else None,
            suppressed_by_cooldown=self._raiser.suppressed if self._raiser is not None else 0,
            live_subscribers=self.broadcaster.subscribers,
            sinks=sink_stats,
        )

    def _dispatch(self, item: Sequence[DetectionFacts] | Event) -> None:
        if isinstance(item, Event):
            self._fan_out(item)
            return
        assert self._raiser is not None
        for event in self._raiser.raise_events(item):
            self._fan_out(event)

    def _fan_out(self, event: Event) -> None:
        logger.info("event %s: %s on camera %s", event.id, event.type.value, event.camera_id)
        for sink in self._sinks:
            try:
                sink.submit(event)
            except Exception:
                # A sink must not raise; if one does, the others still get the event.
                logger.exception("event sink %s failed on event %s", sink.name, event.id)
        for observe in self._observers:
            try:
                observe(event)
            except Exception:
                logger.exception("an event observer failed on event %s", event.id)


def create_event_bus(
    settings: Settings,
    uow_factory: Callable[[], UnitOfWork],
    match_threshold: Callable[[], float],
) -> EventBus:
    """The bus with the sinks ``settings`` ask for (store, live and webhooks always).

    ``match_threshold``: the serving model's (it changes with the model).
    """
    broadcaster = Broadcaster()
    sinks = create_sinks(settings, uow_factory, broadcaster)
    raiser = EventRaiser(uow_factory, settings, match_threshold)
    return EventBus(raiser, sinks, broadcaster, settings.event_queue_size)
