"""API keys verified recently, so that a stream of requests is not a database read each.

An edge agent or an integration sends the same key with every request. Looking it up costs
a database query, and (the lookup being blocking) a hop to the thread pool and back, which
under load cost the server process more CPU than the rest of a recognition request
together (benchmarks/results.md, "API keys verified once a second"). So a key that passed
the full check is remembered, by a digest of the whole token, for ``api_key_cache_seconds``:

- **Revocation still takes effect at once** wherever it is seen: a commit that revokes,
  expires, re-scopes or deletes a key (``watch_key_changes``) empties this process's
  cache and publishes on ``KEYS_CHANNEL``; on PostgreSQL every replica's change feed
  hears it and empties its own. Only a change the feed does not carry (the CLI against a
  SQLite file another process serves, a lost notification) waits for the entries to age
  out: at most ``api_key_cache_seconds``.
- **Expiry** is checked on every request, cached or not.
- A wrong key is never remembered: every failure is a fresh lookup (and rate limited).
- ``last_used_at`` is written on lookups only, well within its one-minute resolution.
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections import OrderedDict
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from facewatch.store.models import ApiKey
from facewatch.store.repositories.api_keys import is_active

if TYPE_CHECKING:  # the runtime holds this module's cache
    from facewatch.server.infra.runtime import Storage

KEYS_CHANNEL = "facewatch_api_keys"
"""The change-feed channel on which a replica says that some key admits less than before."""

MAX_ENTRIES = 4096
"""Most keys remembered at once (the oldest go first)."""


class VerifiedKeys:
    """Keys that passed a database lookup less than ``ttl`` seconds ago; thread-safe.

    The entries are the detached ``ApiKey`` rows, read-only from then on.
    """

    def __init__(self, ttl: float, *, max_entries: int = MAX_ENTRIES) -> None:
        self.ttl = ttl
        self._max_entries = max_entries
        self._entries: OrderedDict[bytes, tuple[ApiKey, float]] = OrderedDict()
        self._lock = threading.Lock()
        self._cleared_at = float("-inf")

    def get(self, token: str) -> ApiKey | None:
        """The key ``token`` was verified as, if recently and the key has not expired since."""
        if self.ttl <= 0:
            return None
        digest = _digest(token)
        with self._lock:
            entry = self._entries.get(digest)
            if entry is None:
                return None
            key, verified_at = entry
            if time.monotonic() - verified_at >= self.ttl or not is_active(key):
                del self._entries[digest]
                return None
        return key

    def put(self, token: str, key: ApiKey, verified_at: float) -> None:
        """Remember that ``token`` is ``key``, as looked up at ``verified_at`` (monotonic,
        taken before the lookup, so that an entry never outlives a revocation that cleared
        the cache while the lookup ran)."""
        if self.ttl <= 0:
            return
        digest = _digest(token)
        with self._lock:
            if verified_at < self._cleared_at:
                return
            self._entries[digest] = (key, verified_at)
            self._entries.move_to_end(digest)
            while len(self._entries) > self._max_entries:
                self._entries.popitem(last=False)

    def clear(self) -> None:
        """Forget every key (one was revoked, expired, re-scoped or deleted)."""
        with self._lock:
            self._entries.clear()
            self._cleared_at = time.monotonic()

    def __len__(self) -> int:
        with self._lock:
            return len(self._entries)


def _digest(token: str) -> bytes:
    return hashlib.sha256(token.encode()).digest()


# --- administration (API, dashboard and CLI) ---------------------------------------------
def create_key(
    storage: Storage, name: str, scopes: Sequence[str], expires_at: datetime | None = None
) -> tuple[ApiKey, str]:
    """A new key and its secret (shown once: only its hash is stored)."""
    with storage.uow() as uow:
        key, secret = uow.api_keys.create(name, scopes, expires_at=expires_at)
        uow.commit()
        return key, secret


def list_keys(storage: Storage) -> list[ApiKey]:
    """Every key, revoked ones included, oldest first (never their secrets)."""
    with storage.uow() as uow:
        return uow.api_keys.list()


def revoke_key(storage: Storage, prefix: str) -> ApiKey:
    """Revoke a key at once, on every replica (``NotFound`` if there is none)."""
    with storage.uow() as uow:
        key = uow.api_keys.revoke(prefix)
        uow.commit()
        return key


def rotate_key(storage: Storage, prefix: str, grace: timedelta) -> tuple[ApiKey, str]:
    """A new key with the old one's name and scopes; the old one stops after ``grace``."""
    with storage.uow() as uow:
        key, secret = uow.api_keys.rotate(prefix, grace)
        uow.commit()
        return key, secret
