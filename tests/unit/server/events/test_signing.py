"""Webhook signatures: HMAC-SHA256 over "<timestamp>." and the body."""

from __future__ import annotations

import hashlib
import hmac

import pytest

from facewatch.server.events.signing import new_secret, sign, verify

SECRET, BODY, TS = "whsec_test", b'{"id":"e1"}', 1_800_000_000


def test_the_signature_is_the_hmac_of_timestamp_dot_body() -> None:
    digest = hmac.new(SECRET.encode(), b"1800000000." + BODY, hashlib.sha256).hexdigest()
    assert sign(SECRET, TS, BODY) == f"sha256={digest}"


# secret, timestamp, body, now -> valid
CHECKS = {
    "the genuine request": (SECRET, str(TS), BODY, TS + 10, True),
    "another secret": ("whsec_other", str(TS), BODY, TS, False),
    "a changed body": (SECRET, str(TS), BODY + b" ", TS, False),
    "a replay after the tolerance": (SECRET, str(TS), BODY, TS + 301, False),
    "a timestamp that is not a number": (SECRET, "soon", BODY, TS, False),
}


@pytest.mark.parametrize(
    ("secret", "timestamp", "body", "now", "valid"), CHECKS.values(), ids=CHECKS
)
def test_verify_accepts_only_the_genuine_request_in_time(
    secret: str, timestamp: str, body: bytes, now: int, valid: bool
) -> None:
    signature = sign(SECRET, TS, BODY)
    assert verify(secret, timestamp, body, signature, now=now, tolerance=300) is valid


def test_new_secrets_are_long_and_distinct() -> None:
    secrets = {new_secret() for _ in range(20)}
    assert len(secrets) == 20
    assert all(s.startswith("whsec_") and len(s) >= 48 for s in secrets)
