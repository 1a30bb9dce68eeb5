"""Rate limits through the real app: 429 with Retry-After per key and per address, before
the upload is read; the login throttle maps to 429 on the API too; slow bodies get 408."""

from __future__ import annotations

from collections.abc import Callable

import anyio
import pytest
from fastapi.testclient import TestClient
from starlette.exceptions import HTTPException

from facewatch.server.errors import status_for
from facewatch.server.middleware.timeouts import BodyTimeout
from facewatch.server.services.sessions import LoginThrottled
from support_security import make_key, runtime_of

NOT_AN_IMAGE = {"image": ("x.jpg", b"no image at all")}
PASSED = 415  # let through: then refused as not an image


@pytest.fixture(scope="module")
def client(app_factory: Callable[..., TestClient]) -> TestClient:
    # 6 per minute with a 10 s burst: one request at once, then one every 10 s.
    return app_factory(
        rate_limit_recognize_per_minute=6,
        rate_limit_address_multiplier=2,
        rate_limit_burst_seconds=10,
    )


def _recognise(client: TestClient, headers: dict[str, str], address: str) -> int:
    other = TestClient(client.app, raise_server_exceptions=False, client=(address, 1234))
    return other.post("/api/v1/recognize", files=NOT_AN_IMAGE, headers=headers).status_code


def test_a_key_over_its_rate_gets_429_with_retry_after(client: TestClient) -> None:
    key = make_key(runtime_of(client), "read")
    assert _recognise(client, key, "10.0.0.1") == PASSED
    other = TestClient(client.app, raise_server_exceptions=False, client=("10.0.0.2", 1))
    answer = other.post("/api/v1/recognize", files=NOT_AN_IMAGE, headers=key)
    assert answer.status_code == 429
    assert 1 <= int(answer.headers["Retry-After"]) <= 10
    assert answer.json()["code"] == "too_many_requests"


def test_an_address_is_held_whatever_the_keys_it_uses(client: TestClient) -> None:
    statuses = [
        _recognise(client, make_key(runtime_of(client), "read"), "10.0.0.9") for _ in range(3)
    ]
    assert statuses == [PASSED, PASSED, 429]


def test_an_unauthenticated_flood_is_held_by_address(client: TestClient) -> None:
    statuses = [_recognise(client, {}, "10.0.0.50") for _ in range(3)]
    assert statuses == [401, 401, 429]


def test_other_routes_are_not_limited(client: TestClient) -> None:
    key = make_key(runtime_of(client), "read")
    assert [
        TestClient(client.app, client=("10.0.0.70", 1))
        .get("/api/v1/cameras", headers=key)
        .status_code
        for _ in range(10)
    ] == [200] * 10


def test_the_login_throttle_is_a_429_everywhere() -> None:
    assert status_for(LoginThrottled(30)) == 429


def test_a_body_that_does_not_arrive_in_time_gets_408() -> None:
    sent: list[dict[str, object]] = []

    async def app(scope: dict[str, object], receive: Callable[..., object], send: object) -> None:
        await receive()  # type: ignore[misc]

    async def trickle() -> dict[str, object]:
        await anyio.sleep(5)
        return {"type": "http.request", "body": b"x", "more_body": True}

    async def send(message: dict[str, object]) -> None:
        sent.append(message)

    middleware = BodyTimeout(app, seconds=0.2)  # type: ignore[arg-type]

    async def run() -> None:
        await middleware({"type": "http"}, trickle, send)  # type: ignore[arg-type]

    with pytest.raises(HTTPException) as refused:
        anyio.run(run)
    assert refused.value.status_code == 408
