"""Rate limits on the expensive routes: token buckets per credential and per address.

Each *group* of routes (recognise, ingest, search) has a rate per minute. A request to a
limited route takes one token from two buckets: its credential's (the API key or session
cookie it carries, hashed, so that a wrong secret never drains the bucket of the key it
imitates) and its client address's, which holds ``address_multiplier`` times as many
(several devices may share an address behind NAT; a client without credentials is held to
it too). An empty bucket answers ``429 Too Many Requests`` with ``Retry-After``, before the
body is read, so a refused upload costs nothing.

The buckets live in this process: with N replicas behind a load balancer a client gets up
to N times the rate. A strict limit across replicas needs a shared counter (Redis, or the
ingress controller's own limit, e.g. nginx ``limit_req`` keyed on the Authorization
header); see docs/security.md.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from starlette.types import ASGIApp, Receive, Scope, Send

from facewatch.config import Settings

MAX_BUCKETS = 100_000
"""Buckets kept per table; the least recently used go first (random tokens cannot grow it)."""


@dataclass(frozen=True, slots=True)
class Rate:
    """``per_minute`` requests on average, with bursts of ``burst_seconds`` worth."""

    per_minute: float
    burst_seconds: float = 10.0

    @property
    def per_second(self) -> float:
        return self.per_minute / 60.0

    @property
    def capacity(self) -> float:
        return max(1.0, self.per_second * self.burst_seconds)

    def scaled(self, factor: float) -> Rate:
        return Rate(self.per_minute * factor, self.burst_seconds)


@dataclass(slots=True)
class _Bucket:
    tokens: float
    updated: float


class BucketTable:
    """Token buckets by key, thread-safe, bounded in size."""

    def __init__(self, max_buckets: int = MAX_BUCKETS) -> None:
        self._buckets: OrderedDict[str, _Bucket] = OrderedDict()
        self._lock = threading.Lock()
        self._max = max_buckets

    def __len__(self) -> int:
        return len(self._buckets)

    def take(self, key: str, rate: Rate, now: float) -> float:
        """Take one token: 0 if granted, else the seconds until one is available."""
        with self._lock:
            bucket = self._buckets.get(key)
            if bucket is None:
                bucket = _Bucket(rate.capacity, now)
                self._buckets[key] = bucket
                if len(self._buckets) > self._max:
                    self._buckets.popitem(last=False)
            else:
                self._buckets.move_to_end(key)
                elapsed = max(0.0, now - bucket.updated)
                bucket.tokens = min(rate.capacity, bucket.tokens + elapsed * rate.per_second)
                bucket.updated = now
            if bucket.tokens >= 1.0:
                bucket.tokens -= 1.0
                return 0.0
            return (1.0 - bucket.tokens) / rate.per_second

    def give_back(self, key: str, rate: Rate) -> None:
        """Return one token (the other bucket refused the request)."""
        with self._lock:
            bucket = self._buckets.get(key)
            if bucket is not None:
                bucket.tokens = min(rate.capacity, bucket.tokens + 1.0)


@dataclass(frozen=True, slots=True)
class Rule:
    """Requests of ``method`` whose path matches ``path`` count against ``group``."""

    group: str
    method: str
    path: re.Pattern[str]

    @classmethod
    def of(cls, group: str, method: str, pattern: str) -> Rule:
        return cls(group, method, re.compile(pattern))

    def matches(self, method: str, path: str) -> bool:
        return method == self.method and self.path.fullmatch(path) is not None


class RateLimiter:
    """Decides whether a request may go on; the seconds to wait if not."""

    def __init__(
        self,
        rates: dict[str, Rate],
        rules: Sequence[Rule],
        address_multiplier: float = 4.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.rates = {group: rate for group, rate in rates.items() if rate.per_minute > 0}
        self.rules = [rule for rule in rules if rule.group in self.rates]
        self.address_multiplier = address_multiplier
        self._clock = clock
        self._credentials = BucketTable()
        self._addresses = BucketTable()

    def group_of(self, method: str, path: str) -> str | None:
        """The limited group of a request, or None if it is not limited."""
        return next((r.group for r in self.rules if r.matches(method, path)), None)

    def check(self, group: str, credential: str | None, address: str) -> float:
        """0 if the request may go on, else the seconds to wait."""
        rate, now = self.rates[group], self._clock()
        address_rate = rate.scaled(self.address_multiplier)
        address_key = f"{group}|{address}"
        wait = self._addresses.take(address_key, address_rate, now)
        if wait or credential is None:
            return wait
        wait = self._credentials.take(f"{group}|{credential}", rate, now)
        if wait:
            self._addresses.give_back(address_key, address_rate)
        return wait


def credential_of(headers: dict[bytes, bytes]) -> str | None:
    """A hash of the request's API key or session cookie (never the secret itself)."""
    value = headers.get(b"authorization")
    if not value:
        cookie = headers.get(b"cookie", b"")
        match = re.search(rb"(?:__Host-)?facewatch_session=([^;\s]+)", cookie)
        value = match.group(1) if match else None
    if not value:
        return None
    return hashlib.sha256(value.strip()).hexdigest()[:32]


class RateLimitMiddleware:
    """ASGI middleware applying a ``RateLimiter`` before the request body is read."""

    def __init__(self, app: ASGIApp, limiter: RateLimiter) -> None:
        self.app = app
        self.limiter = limiter

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            group = self.limiter.group_of(scope["method"], scope["path"])
            if group is not None:
                headers = dict(scope.get("headers", []))
                client = scope.get("client")
                address = str(client[0]) if client else ""
                wait = self.limiter.check(group, credential_of(headers), address)
                if wait > 0:
                    await _too_many(send, group, wait, scope["path"])
                    return
        await self.app(scope, receive, send)


async def _too_many(send: Send, group: str, wait: float, path: str) -> None:
    retry_after = max(1, math.ceil(wait))
    message = f"too many {group} requests; retry in {retry_after} s"
    if path.startswith("/api/"):
        body = json.dumps({"detail": message, "code": "too_many_requests"}).encode()
        content_type = b"application/json"
    else:
        body = f"<!doctype html><title>Too many requests</title><p>{message}</p>".encode()
        content_type = b"text/html; charset=utf-8"
    await send(
        {
            "type": "http.response.start",
            "status": 429,
            "headers": [
                (b"content-type", content_type),
                (b"content-length", str(len(body)).encode()),
                (b"retry-after", str(retry_after).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


_API = "/api/v1"
RECOGNIZE_PATHS = (
    rf"{_API}/recognize|{_API}/search|/search"
    rf"|{_API}/people/[^/]+/faces|/people/[^/]+/photos|/face-recognition/.+"
)
"""POSTs that run the face pipeline: recognition, search by photo, enrolment, compat."""
INGEST_PATHS = rf"{_API}/detections|{_API}/edge/.+"
SEARCH_PATHS = rf"{_API}/(detections|events|people|unknowns)|{_API}/(search|reports)/.+|/detections"
"""GETs that query the sightings: lists with filters, reports, exports."""


def limiter_for(settings: Settings) -> RateLimiter:
    """The limiter the settings describe (a rate of 0 turns its group off)."""
    burst = settings.rate_limit_burst_seconds
    rates = {
        "recognize": Rate(settings.rate_limit_recognize_per_minute, burst),
        "ingest": Rate(settings.rate_limit_ingest_per_minute, burst),
        "search": Rate(settings.rate_limit_search_per_minute, burst),
    }
    rules = [
        Rule.of("recognize", "POST", RECOGNIZE_PATHS),
        Rule.of("ingest", "POST", INGEST_PATHS),
        Rule.of("search", "GET", SEARCH_PATHS),
    ]
    return RateLimiter(rates, rules, settings.rate_limit_address_multiplier)
