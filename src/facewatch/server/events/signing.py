"""Webhook signatures: HMAC-SHA256 over the timestamp and the exact body bytes.

Facewatch sends ``X-Facewatch-Timestamp: <unix seconds>`` and
``X-Facewatch-Signature: sha256=<hex>``, where the hex digest is
``HMAC-SHA256(secret, "<timestamp>." + body)``. Signing the timestamp lets a receiver refuse
a replayed request (see docs/events.md for a receiver's side).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

SIGNATURE_HEADER = "X-Facewatch-Signature"
TIMESTAMP_HEADER = "X-Facewatch-Timestamp"
SCHEME = "sha256="
SECRET_PREFIX = "whsec_"


def new_secret() -> str:
    """A random webhook secret: ``whsec_`` and 43 URL-safe characters (256 bits)."""
    return SECRET_PREFIX + secrets.token_urlsafe(32)


def sign(secret: str, timestamp: int, body: bytes) -> str:
    """The value of the signature header for ``body`` sent at ``timestamp``."""
    message = str(timestamp).encode("ascii") + b"." + body
    digest = hmac.new(secret.encode("utf-8"), message, hashlib.sha256).hexdigest()
    return SCHEME + digest


def verify(
    secret: str, timestamp: str, body: bytes, signature: str, *, now: float, tolerance: float
) -> bool:
    """Whether ``signature`` is ours for ``body`` and ``timestamp`` is within ``tolerance``."""
    try:
        sent = int(timestamp)
    except ValueError:
        return False
    if abs(now - sent) > tolerance:
        return False
    return hmac.compare_digest(sign(secret, sent, body), signature)
