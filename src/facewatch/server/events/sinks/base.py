"""The one interface every event sink implements, and the queued base most of them use."""

from __future__ import annotations

from abc import ABC, abstractmethod

from facewatch.server.events.types import Event
from facewatch.server.events.worker import Worker, WorkerStats


class EventSink(ABC):
    """Somewhere events go: the database, SSE clients, webhooks, an MQTT broker.

    ``submit`` is called from the dispatcher thread, one event at a time; it must not block
    for long and must not raise.
    """

    name: str = "sink"

    def start(self) -> None:  # noqa: B027 (an optional hook: most sinks need no start)
        """Open connections and start threads (called in the app's lifespan)."""

    @abstractmethod
    def submit(self, event: Event) -> None:
        """Take one event."""

    def stop(self, timeout: float) -> None:  # noqa: B027 (an optional hook)
        """Finish or give up what is pending, within about ``timeout`` seconds."""

    def stats(self) -> WorkerStats | None:
        """Queue counters, for sinks that queue."""
        return None


class QueuedSink(EventSink):
    """A sink that handles events on its own thread, behind a bounded dropping queue."""

    def __init__(self, maxsize: int) -> None:
        self._worker: Worker[Event] = Worker(f"events-{self.name}", self.handle, maxsize)

    def start(self) -> None:
        self._worker.start()

    def submit(self, event: Event) -> None:
        self._worker.offer(event)

    def stop(self, timeout: float) -> None:
        self._worker.stop(timeout)

    def stats(self) -> WorkerStats | None:
        return self._worker.stats()

    @abstractmethod
    def handle(self, event: Event) -> None:
        """Deliver one event (on the sink's thread; exceptions are logged and counted)."""
