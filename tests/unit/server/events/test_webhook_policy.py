"""Webhook retries: which answers are retried, and how long to wait."""

from __future__ import annotations

import httpx
import pytest

from facewatch.server.events.sinks.webhook import RetryPolicy, classify_response

POLICY = RetryPolicy(max_attempts=5, backoff=2.0, backoff_max=30.0)

# attempts made, Retry-After -> seconds to wait
DELAYS = {
    "first retry": (1, None, 2.0),
    "doubling": (3, None, 8.0),
    "capped": (10, None, 30.0),
    "retry-after longer": (1, 10.0, 10.0),
    "retry-after capped": (1, 3600.0, 30.0),
    "retry-after shorter keeps the backoff": (3, 1.0, 8.0),
}


@pytest.mark.parametrize(("attempts", "retry_after", "expected"), DELAYS.values(), ids=DELAYS)
def test_the_wait_doubles_up_to_the_cap_and_honours_retry_after(
    attempts: int, retry_after: float | None, expected: float
) -> None:
    assert POLICY.delay(attempts, retry_after) == expected


# status, headers -> delivered, retryable, retry_after
ANSWERS = {
    "ok": (200, {}, True, False, None),
    "accepted": (202, {}, True, False, None),
    "server error": (500, {}, False, True, None),
    "unavailable with retry-after": (503, {"Retry-After": "7"}, False, True, 7.0),
    "too many requests": (429, {}, False, True, None),
    "request timeout": (408, {}, False, True, None),
    "gone": (410, {}, False, False, None),
    "unauthorised": (401, {}, False, False, None),
    "redirect": (302, {"Location": "http://elsewhere/"}, False, False, None),
    "retry-after as a date is ignored": (
        503,
        {"Retry-After": "Wed, 21 Oct 2026 07:28:00 GMT"},
        False,
        True,
        None,
    ),
}


@pytest.mark.parametrize(
    ("status", "headers", "delivered", "retryable", "retry_after"), ANSWERS.values(), ids=ANSWERS
)
def test_only_transient_answers_are_retried(
    status: int,
    headers: dict[str, str],
    delivered: bool,
    retryable: bool,
    retry_after: float | None,
) -> None:
    outcome = classify_response(httpx.Response(status, headers=headers))
    assert (outcome.delivered, outcome.retryable, outcome.retry_after) == (
        delivered,
        retryable,
        retry_after,
    )
    assert outcome.status == status
