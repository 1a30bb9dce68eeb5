"""Token buckets: bursts, refill, Retry-After, per credential and per address."""

from __future__ import annotations

import pytest

from facewatch.config import Settings
from facewatch.security.ratelimit import (
    BucketTable,
    Rate,
    RateLimiter,
    Rule,
    credential_of,
)
from facewatch.server.middleware.ratelimit import limiter_for


class FakeClock:
    """A clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_bucket_grants_its_burst_then_says_how_long_to_wait() -> None:
    table, rate = BucketTable(), Rate(per_minute=60, burst_seconds=5)  # 1/s, 5 at once
    granted = [table.take("k", rate, 0.0) for _ in range(5)]
    assert granted == [0.0] * 5
    assert table.take("k", rate, 0.0) == pytest.approx(1.0)
    assert table.take("k", rate, 0.5) == pytest.approx(0.5)
    assert table.take("k", rate, 1.0) == 0.0


def test_a_bucket_refills_no_higher_than_its_burst() -> None:
    table, rate = BucketTable(), Rate(per_minute=60, burst_seconds=3)
    for _ in range(3):
        table.take("k", rate, 0.0)
    granted = sum(table.take("k", rate, 3600.0) == 0.0 for _ in range(10))
    assert granted == 3


def test_the_table_forgets_the_least_recently_used_buckets() -> None:
    table, rate = BucketTable(max_buckets=3), Rate(60)
    for key in "abcd":
        table.take(key, rate, 0.0)
    assert len(table) == 3


def _limiter(clock: FakeClock) -> RateLimiter:
    rules = [Rule.of("recognize", "POST", r"/api/v1/recognize")]
    return RateLimiter({"recognize": Rate(60, burst_seconds=2)}, rules, 2.0, clock)


def test_a_key_is_held_to_its_rate_and_another_key_is_not() -> None:
    limiter = _limiter(FakeClock())
    assert [limiter.check("recognize", "key-a", "10.0.0.1") for _ in range(2)] == [0.0, 0.0]
    assert limiter.check("recognize", "key-a", "10.0.0.1") > 0
    assert limiter.check("recognize", "key-b", "10.0.0.1") == 0.0


def test_an_address_is_held_to_the_multiple_of_the_rate_whatever_its_keys() -> None:
    limiter = _limiter(FakeClock())
    answers = [limiter.check("recognize", f"key-{i}", "10.0.0.9") for i in range(5)]
    assert answers[:4] == [0.0] * 4  # 2 x burst of 2
    assert answers[4] > 0


def test_a_refused_key_does_not_use_up_its_address() -> None:
    limiter = _limiter(FakeClock())
    for _ in range(3):
        limiter.check("recognize", "greedy", "10.0.0.7")
    assert limiter.check("recognize", "polite", "10.0.0.7") == 0.0
    assert limiter.check("recognize", "polite-2", "10.0.0.7") == 0.0


def test_time_refills_the_buckets() -> None:
    clock = FakeClock()
    limiter = _limiter(clock)
    for _ in range(2):
        limiter.check("recognize", "k", "a")
    wait = limiter.check("recognize", "k", "a")
    clock.now += wait
    assert limiter.check("recognize", "k", "a") == 0.0


def test_the_credential_is_a_hash_and_a_wrong_secret_is_another_bucket() -> None:
    right = credential_of({b"authorization": b"Bearer fw_AbCdEfGh_secret"})
    wrong = credential_of({b"authorization": b"Bearer fw_AbCdEfGh_guess"})
    assert right
    assert wrong
    assert right != wrong
    assert "secret" not in right
    cookie = credential_of({b"cookie": b"a=1; __Host-facewatch_session=tok; b=2"})
    assert cookie == credential_of({b"cookie": b"facewatch_session=tok"})
    assert credential_of({}) is None


LIMITED = [
    ("POST", "/api/v1/recognize", "recognize"),
    ("POST", "/api/v1/search", "recognize"),
    ("POST", "/search", "recognize"),
    ("POST", "/api/v1/people/7/faces", "recognize"),
    ("POST", "/api/v1/detections", "ingest"),
    ("POST", "/api/v1/edge/batch", "ingest"),
    ("GET", "/api/v1/detections", "search"),
    ("GET", "/api/v1/reports/detections/export", "search"),
    ("GET", "/detections", "search"),
    ("GET", "/api/v1/recognize", None),
    ("POST", "/api/v1/people", None),
    ("GET", "/healthz", None),
    ("GET", "/api/v1/people/7", None),
]


@pytest.mark.parametrize(("method", "path", "group"), LIMITED)
def test_the_expensive_routes_are_limited_and_the_others_not(
    method: str, path: str, group: str | None
) -> None:
    assert limiter_for(Settings()).group_of(method, path) == group


def test_a_rate_of_zero_turns_a_group_off() -> None:
    limiter = limiter_for(Settings(rate_limit_ingest_per_minute=0))
    assert limiter.group_of("POST", "/api/v1/detections") is None
    assert limiter.group_of("POST", "/api/v1/recognize") == "recognize"
