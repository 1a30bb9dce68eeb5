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
import re
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass

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
