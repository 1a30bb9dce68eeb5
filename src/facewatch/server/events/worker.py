"""A background thread fed by a bounded queue: offering never blocks; a full queue drops.

Every stage of the event path (the dispatcher, the webhook and MQTT sinks) runs on one of
these, so that a slow database, receiver or broker never holds up the ingest path.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Generic, TypeVar

logger = logging.getLogger(__name__)

T = TypeVar("T")
_STOP = object()


@dataclass(frozen=True, slots=True)
class WorkerStats:
    """Counters of one worker since it was made."""

    name: str
    accepted: int
    dropped: int
    handled: int
    failed: int
    queued: int


class Worker(Generic[T]):
    """Runs ``handle(item)`` on a daemon thread for each item offered, in order."""

    def __init__(self, name: str, handle: Callable[[T], None], maxsize: int) -> None:
        self.name = name
        self._handle = handle
        self._queue: queue.Queue[object] = queue.Queue(maxsize=maxsize)
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self._accepted = self._dropped = self._handled = self._failed = 0

    def start(self) -> None:
        """Start the thread (once)."""
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name=self.name, daemon=True)
            self._thread.start()

    def offer(self, item: T) -> bool:
        """Queue ``item`` without waiting; False (and counted) if the queue is full."""
        try:
            self._queue.put_nowait(item)
        except queue.Full:
            with self._lock:
                self._dropped += 1
                dropped = self._dropped
            if _worth_logging(dropped):
                logger.warning("%s: queue full, %s items dropped so far", self.name, dropped)
            return False
        with self._lock:
            self._accepted += 1
        return True

    def stop(self, timeout: float) -> None:
        """Handle what is queued, then end the thread (waiting at most ``timeout`` s)."""
        thread, self._thread = self._thread, None
        if thread is None:
            return
        try:
            self._queue.put(_STOP, timeout=timeout)
        except queue.Full:
            logger.warning("%s: still busy at stop; %s items left", self.name, self._queue.qsize())
            return
        thread.join(timeout)
        if thread.is_alive():
            logger.warning("%s: did not stop within %.1f s", self.name, timeout)

    def stats(self) -> WorkerStats:
        """The counters now."""
        with self._lock:
            return WorkerStats(
                self.name,
                self._accepted,
                self._dropped,
                self._handled,
                self._failed,
                self._queue.qsize(),
            )

    def _run(self) -> None:
        while True:
            item = self._queue.get()
            if item is _STOP:
                return
            self._handle_one(item)  # type: ignore[arg-type]

    def _handle_one(self, item: T) -> None:
        try:
            self._handle(item)
        except Exception:
            # The thread boundary: one bad item must not end the worker.
            logger.exception("%s: failed to handle an item", self.name)
            with self._lock:
                self._failed += 1
            return
        with self._lock:
            self._handled += 1


def _worth_logging(count: int) -> bool:
    """Log the first drop and then every power of ten, not every drop of a flood."""
    return count == 1 or (count % 10 == 0 and str(count).strip("0") == "1")
