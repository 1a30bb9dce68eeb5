"""Idempotency keys: a retry gets the first answer, a reused key with other content a 409.

Each stored detection keeps the SHA-256 of the request that made it (``request_sha256``):
the image or embedding bytes and every field the client chose (camera, capture time, box,
track...). A key that comes back with the same fingerprint is a retry (the answer is
replayed); with another fingerprint it is refused with ``IdempotencyKeyReused``, as payment
APIs do, so a device whose key counter was reset learns it at once instead of having its
new faces silently answered with old ones. Rows stored before fingerprints were kept
(migration 0007) have none and replay as before.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence

from facewatch.errors import IdempotencyKeyReused
from facewatch.store.models import Detection


def request_fingerprint(kind: str, payload: bytes, **fields: object) -> str:
    """SHA-256 (hex) of a request: its kind, its payload's digest and its fields."""
    described = {
        "kind": kind,
        "payload": hashlib.sha256(payload).hexdigest(),
        "fields": {name: _plain(value) for name, value in sorted(fields.items())},
    }
    canonical = json.dumps(described, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


def check_same_request(key: str, rows: Sequence[Detection], fingerprint: str) -> None:
    """Raise ``IdempotencyKeyReused`` if ``rows`` (stored under ``key``) came from another
    request than the one with ``fingerprint``."""
    stored = {row.request_sha256 for row in rows} - {None}
    if stored and fingerprint not in stored:
        raise IdempotencyKeyReused(
            f"idempotency key {key!r} was used before for other content; a retry must send "
            "the same request again, and new content needs a new key"
        )


def _plain(value: object) -> object:
    """A field as JSON: times in ISO 8601, boxes and tuples as lists, bytes by digest."""
    if value is None or isinstance(value, str | int | float | bool):
        return value
    if isinstance(value, bytes):
        return hashlib.sha256(value).hexdigest()
    if isinstance(value, list | tuple):
        return [_plain(item) for item in value]
    as_list = getattr(value, "as_list", None)
    if callable(as_list):
        return _plain(as_list())
    isoformat = getattr(value, "isoformat", None)
    if callable(isoformat):
        return str(isoformat())
    return str(value)
