"""The webhook sink: each event is POSTed, signed, to every webhook that wants its type.

Every delivery is logged in ``webhook_deliveries`` before its first attempt and after each
one. Failed attempts (network errors, timeouts, 408, 429 and 5xx answers) are retried with
exponential backoff; other answers (3xx: redirects are not followed; 4xx) are final.
Attempts run on a small thread pool so that one slow receiver does not hold up the rest.
"""

from __future__ import annotations

import heapq
import itertools
import json
import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from datetime import timedelta

import httpx
from sqlalchemy.exc import SQLAlchemyError

from facewatch import __version__
from facewatch.config import Settings
from facewatch.errors import FacewatchError, NotFound
from facewatch.server.events.signing import SIGNATURE_HEADER, TIMESTAMP_HEADER, sign
from facewatch.server.events.sinks.base import QueuedSink
from facewatch.server.events.types import Event
from facewatch.store.models import utcnow
from facewatch.store.repositories import DeliveryStatus
from facewatch.store.unit_of_work import UnitOfWork

logger = logging.getLogger(__name__)

_WORKERS = 4
_MAX_SCHEDULED = 10_000
_RETRIED_STATUSES = frozenset({408, 429})


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """How many attempts, and how long to wait before each retry."""

    max_attempts: int
    backoff: float
    """Seconds before the first retry; doubled for each later one."""
    backoff_max: float

    @classmethod
    def from_settings(cls, settings: Settings) -> RetryPolicy:
        return cls(
            settings.webhook_max_attempts,
            settings.webhook_backoff_seconds,
            settings.webhook_backoff_max_seconds,
        )

    def delay(self, attempts_made: int, retry_after: float | None = None) -> float:
        """Seconds to wait after ``attempts_made`` failed attempts (honouring Retry-After)."""
        delay: float = min(self.backoff * 2.0 ** (attempts_made - 1), self.backoff_max)
        if retry_after is not None:
            delay = min(max(delay, retry_after), self.backoff_max)
        return delay


@dataclass(frozen=True, slots=True)
class Job:
    """One attempt to make: which delivery, where, what, and its number."""

    delivery_id: int
    url: str
    secret: str
    event_id: str
    event_type: str
    body: bytes
    attempt: int = 1


@dataclass(frozen=True, slots=True)
class Outcome:
    """How one attempt went."""

    delivered: bool
    retryable: bool
    status: int | None = None
    error: str | None = None
    retry_after: float | None = None


class WebhookSink(QueuedSink):
    """Fans each event out to its webhooks and runs the attempts."""

    name = "webhooks"

    def __init__(
        self,
        uow_factory: Callable[[], UnitOfWork],
        settings: Settings,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        super().__init__(settings.event_queue_size)
        self._uow = uow_factory
        self._policy = RetryPolicy.from_settings(settings)
        self._timeout = settings.webhook_timeout_seconds
        self._transport = transport
        self._client: httpx.Client | None = None
        self._scheduler = Scheduler(self._attempt, _WORKERS, _MAX_SCHEDULED)

    def start(self) -> None:
        self._client = httpx.Client(
            timeout=self._timeout, follow_redirects=False, transport=self._transport
        )
        self._scheduler.start()
        super().start()

    def stop(self, timeout: float) -> None:
        super().stop(timeout)
        left = self._scheduler.stop(timeout)
        self._give_up(left, "the server stopped before this delivery was attempted again")
        if self._client is not None:
            self._client.close()

    def handle(self, event: Event) -> None:
        """Open a delivery per webhook that wants this event, then attempt each at once."""
        body = json.dumps(event.payload(), separators=(",", ":")).encode("utf-8")
        with self._uow() as uow:
            hooks = uow.webhooks.active_for(event.type.value)
            jobs = [
                Job(
                    uow.webhook_deliveries.add(hook.id, event.id, event.type.value).id,
                    hook.url,
                    hook.secret,
                    event.id,
                    event.type.value,
                    body,
                )
                for hook in hooks
            ]
            uow.commit()
        for job in jobs:
            if not self._scheduler.schedule(job, 0.0):
                self._give_up([job], "too many deliveries waiting; this one was dropped")

    def _attempt(self, job: Job) -> None:
        if not self._still_wanted(job):
            return
        outcome = self._post(job)
        retry = (
            not outcome.delivered and outcome.retryable and job.attempt < self._policy.max_attempts
        )
        delay = self._policy.delay(job.attempt, outcome.retry_after) if retry else None
        self._record(job, outcome, delay)
        if delay is not None and not self._scheduler.schedule(
            replace(job, attempt=job.attempt + 1), delay
        ):
            self._give_up([job], "the server stopped before this delivery was attempted again")

    def _still_wanted(self, job: Job) -> bool:
        """False once the webhook is deleted or paused: no more attempts then."""
        try:
            with self._uow() as uow:
                delivery = uow.webhook_deliveries.get(job.delivery_id)
                active = uow.webhooks.get(delivery.webhook_id).active
        except NotFound:
            logger.info("delivery %s: its webhook was deleted; dropped", job.delivery_id)
            return False
        except SQLAlchemyError:
            logger.warning("delivery %s: database unreachable; attempting anyway", job.delivery_id)
            return True
        if not active:
            self._give_up([job], "the webhook was paused before this attempt")
        return active

    def _post(self, job: Job) -> Outcome:
        assert self._client is not None, "the webhook sink is not started"
        timestamp = int(time.time())
        headers = {
            "Content-Type": "application/json",
            "User-Agent": f"Facewatch-Webhook/{__version__}",
            "X-Facewatch-Event": job.event_type,
            "X-Facewatch-Event-Id": job.event_id,
            "X-Facewatch-Delivery": str(job.delivery_id),
            TIMESTAMP_HEADER: str(timestamp),
            SIGNATURE_HEADER: sign(job.secret, timestamp, job.body),
        }
        try:
            response = self._client.post(job.url, content=job.body, headers=headers)
        except httpx.HTTPError as exc:
            return Outcome(False, True, error=f"{type(exc).__name__}: {exc}"[:500])
        return classify_response(response)

    def _record(self, job: Job, outcome: Outcome, retry_in: float | None) -> None:
        if outcome.delivered:
            status = DeliveryStatus.DELIVERED
        else:
            status = DeliveryStatus.PENDING if retry_in is not None else DeliveryStatus.FAILED
        next_at = None if retry_in is None else utcnow() + timedelta(seconds=retry_in)
        try:
            with self._uow() as uow:
                delivery = uow.webhook_deliveries.get(job.delivery_id)
                uow.webhook_deliveries.record_attempt(
                    delivery,
                    status,
                    response_status=outcome.status,
                    error=outcome.error,
                    next_attempt_at=next_at,
                )
                uow.commit()
        except (SQLAlchemyError, FacewatchError):
            logger.exception("delivery %s: attempt %s not logged", job.delivery_id, job.attempt)
        logger.info(
            "webhook delivery %s of event %s, attempt %s: %s (%s)",
            job.delivery_id,
            job.event_id,
            job.attempt,
            status.value,
            outcome.status or outcome.error,
        )

    def _give_up(self, jobs: list[Job], reason: str) -> None:
        if not jobs:
            return
        try:
            with self._uow() as uow:
                uow.webhook_deliveries.give_up([job.delivery_id for job in jobs], reason)
                uow.commit()
        except (SQLAlchemyError, FacewatchError):
            logger.exception("could not mark %s webhook deliveries failed", len(jobs))


def classify_response(response: httpx.Response) -> Outcome:
    """Delivered (2xx), worth retrying (408, 429, 5xx), or refused for good (the rest)."""
    status = response.status_code
    if 200 <= status < 300:
        return Outcome(True, False, status)
    retryable = status in _RETRIED_STATUSES or status >= 500
    retry_after = _retry_after(response.headers.get("Retry-After")) if retryable else None
    return Outcome(False, retryable, status, f"HTTP {status}", retry_after)


def _retry_after(value: str | None) -> float | None:
    """Retry-After in seconds (its HTTP-date form is ignored)."""
    if value is None or not value.strip().isdigit():
        return None
    return float(value.strip())


class Scheduler:
    """Runs jobs when they are due, on a small thread pool; bounded in jobs waiting."""

    def __init__(self, run: Callable[[Job], None], workers: int, max_waiting: int) -> None:
        self._run = run
        self._workers = workers
        self._max_waiting = max_waiting
        self._heap: list[tuple[float, int, Job]] = []
        self._order = itertools.count()
        self._condition = threading.Condition()
        self._stopping = False
        self._thread: threading.Thread | None = None
        self._pool: ThreadPoolExecutor | None = None

    def start(self) -> None:
        """Start the timer thread and the pool."""
        self._pool = ThreadPoolExecutor(self._workers, thread_name_prefix="webhook")
        self._thread = threading.Thread(target=self._loop, name="webhook-timer", daemon=True)
        self._thread.start()

    def schedule(self, job: Job, delay: float) -> bool:
        """Run ``job`` in ``delay`` seconds; False if stopping or too many are waiting."""
        with self._condition:
            if self._stopping or len(self._heap) >= self._max_waiting:
                return False
            heapq.heappush(self._heap, (time.monotonic() + delay, next(self._order), job))
            self._condition.notify()
        return True

    def stop(self, timeout: float) -> list[Job]:
        """Stop; wait for running attempts; return the jobs that never ran."""
        with self._condition:
            self._stopping = True
            self._condition.notify()
        if self._thread is not None:
            self._thread.join(timeout)
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=False)
        with self._condition:
            left, self._heap = [job for _, _, job in self._heap], []
        return left

    def _loop(self) -> None:
        while True:
            with self._condition:
                job = self._next_due()
                if job is None:
                    return
            assert self._pool is not None
            self._pool.submit(self._run_safely, job)

    def _next_due(self) -> Job | None:
        """Wait (holding the condition) for the next due job; ``None`` when stopping."""
        while not self._stopping:
            if not self._heap:
                self._condition.wait()
                continue
            wait = self._heap[0][0] - time.monotonic()
            if wait > 0:
                self._condition.wait(wait)
                continue
            return heapq.heappop(self._heap)[2]
        return None

    def _run_safely(self, job: Job) -> None:
        try:
            self._run(job)
        except Exception:
            # The thread boundary: log, and keep the pool serving the other deliveries.
            logger.exception("webhook delivery %s: attempt failed", job.delivery_id)
