"""Webhooks against a real HTTP receiver on 127.0.0.1: signature, retries, delivery log, API."""

from __future__ import annotations

import hashlib
import hmac
import itertools
import json
import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from facewatch.server.events.signing import verify
from integration.events.live import LiveServer

HOOKS = "/api/v1/webhooks"
T0 = datetime(2026, 11, 24, 11, 0, tzinfo=UTC)

Ingest = Callable[..., dict[str, Any]]


@dataclass(frozen=True)
class Received:
    path: str
    headers: dict[str, str]
    body: bytes
    at: float

    @property
    def event(self) -> dict[str, Any]:
        event: dict[str, Any] = json.loads(self.body)
        return event


class Receiver:
    """An HTTP server that records every POST and answers each path from a script of
    statuses (the last status repeats)."""

    def __init__(self) -> None:
        self.received: list[Received] = []
        self.scripts: dict[str, list[int]] = {}
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def url(self, path: str) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}{path}"

    def script(self, *statuses: int) -> str:
        """A new path answering ``statuses`` in turn; returns its URL."""
        path = f"/hook/{uuid.uuid4().hex[:8]}"
        self.scripts[path] = list(statuses)
        return self.url(path)

    def requests_for(self, event_id: str) -> list[Received]:
        with self._lock:
            return [r for r in self.received if r.headers.get("x-facewatch-event-id") == event_id]

    def wait_for(self, event_id: str, count: int, timeout: float = 10.0) -> list[Received]:
        deadline = time.monotonic() + timeout
        while len(found := self.requests_for(event_id)) < count and time.monotonic() < deadline:
            time.sleep(0.02)
        return found

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def _answer(self, path: str, headers: dict[str, str], body: bytes) -> int:
        with self._lock:
            self.received.append(Received(path, headers, body, time.monotonic()))
            script = self.scripts.get(path, [404])
            return script.pop(0) if len(script) > 1 else script[0]

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                headers = {k.lower(): v for k, v in self.headers.items()}
                status = receiver._answer(self.path, headers, body)
                self.send_response(status)
                if status in (301, 302):
                    self.send_header("Location", receiver.url("/elsewhere"))
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, format: str, *args: Any) -> None:
                pass

        return Handler


@pytest.fixture(scope="module")
def receiver() -> Iterator[Receiver]:
    receiver = Receiver()
    yield receiver
    receiver.close()


@pytest.fixture
def webhook(live: LiveServer) -> Iterator[Callable[..., dict[str, Any]]]:
    """Registers webhooks for the test, and deletes them after it."""
    made: list[int] = []

    def register(url: str, **fields: Any) -> dict[str, Any]:
        created = live.client.post(HOOKS, json={"url": url, **fields}, headers=live.admin)
        assert created.status_code == 201, created.text
        made.append(created.json()["id"])
        body: dict[str, Any] = created.json()
        return body

    yield register
    for hook_id in made:
        live.client.delete(f"{HOOKS}/{hook_id}", headers=live.admin)


def delivery_of(
    live: LiveServer, hook_id: int, event_id: str, timeout: float = 10.0
) -> dict[str, Any] | None:
    """The logged delivery of ``event_id`` once it is settled (delivered or failed)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        log = live.client.get(f"{HOOKS}/{hook_id}/deliveries", headers=live.admin).json()
        mine = [d for d in log["items"] if d["event_id"] == event_id]
        if mine and mine[0]["status"] != "pending":
            return mine[0]
        time.sleep(0.05)
    return None


def raise_event(
    who: str,
    ingest: Ingest,
    camera: Callable[[], str],
    wait_for_events: Callable[..., list[dict[str, Any]]],
) -> dict[str, Any]:
    cam = camera()
    ingest(who, cam, T0)
    [event] = wait_for_events(1, camera_id=cam)
    return event


def test_a_webhook_gets_the_event_signed_with_its_secret(
    live: LiveServer,
    receiver: Receiver,
    webhook: Callable[..., dict[str, Any]],
    ingest: Ingest,
    camera: Callable[[], str],
    wait_for_events: Callable[..., list[dict[str, Any]]],
) -> None:
    secret = "test-secret-0123456789"
    hook = webhook(receiver.script(200), event_types=["person.unknown"], secret=secret)
    event = raise_event("stranger_kit", ingest, camera, wait_for_events)

    [request] = receiver.wait_for(event["id"], 1)
    timestamp = request.headers["x-facewatch-timestamp"]
    expected = hmac.new(
        secret.encode(), timestamp.encode() + b"." + request.body, hashlib.sha256
    ).hexdigest()
    assert request.headers["x-facewatch-signature"] == f"sha256={expected}"
    assert abs(time.time() - int(timestamp)) < 60
    assert request.headers["content-type"] == "application/json"
    assert request.headers["x-facewatch-event"] == "person.unknown"
    assert request.event == event
    assert verify(
        secret, timestamp, request.body, f"sha256={expected}", now=time.time(), tolerance=300
    )
    assert not verify(
        secret, timestamp, request.body + b" ", f"sha256={expected}", now=time.time(), tolerance=300
    )

    delivery = delivery_of(live, hook["id"], event["id"])
    assert delivery is not None
    assert (delivery["status"], delivery["attempts"], delivery["response_status"]) == (
        "delivered",
        1,
        200,
    )
    assert delivery["delivered_at"] is not None


def test_failed_attempts_are_retried_with_growing_waits_until_delivered(
    live: LiveServer,
    receiver: Receiver,
    webhook: Callable[..., dict[str, Any]],
    ingest: Ingest,
    camera: Callable[[], str],
    wait_for_events: Callable[..., list[dict[str, Any]]],
) -> None:
    hook = webhook(receiver.script(500, 503, 200), event_types=["watchlist.match"])
    event = raise_event("biden", ingest, camera, wait_for_events)

    requests = receiver.wait_for(event["id"], 3)
    assert len(requests) == 3
    assert len({r.headers["x-facewatch-delivery"] for r in requests}) == 1
    assert len({r.body for r in requests}) == 1
    first_wait, second_wait = (b.at - a.at for a, b in itertools.pairwise(requests))
    backoff = live.settings.webhook_backoff_seconds
    assert first_wait >= backoff * 0.9
    assert second_wait >= 2 * backoff * 0.9
    delivery = delivery_of(live, hook["id"], event["id"])
    assert delivery is not None
    assert (delivery["status"], delivery["attempts"], delivery["response_status"]) == (
        "delivered",
        3,
        200,
    )


def _closed_port_url() -> str:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"http://127.0.0.1:{port}/nobody-listens"


# answers of the receiver (None: nobody listens) -> final status, attempts, last HTTP status
OUTCOMES = {
    "a refusal is final": ((410,), "failed", 1, 410),
    "a redirect is not followed": ((302,), "failed", 1, 302),
    "too many requests is retried": ((429, 200), "delivered", 2, 200),
    "retries stop after the last attempt": ((500,), "failed", 3, 500),
    "an unreachable receiver is retried then given up": (None, "failed", 3, None),
}


@pytest.mark.parametrize(("answers", "status", "attempts", "http"), OUTCOMES.values(), ids=OUTCOMES)
def test_the_delivery_log_tells_how_each_delivery_ended(
    live: LiveServer,
    receiver: Receiver,
    webhook: Callable[..., dict[str, Any]],
    ingest: Ingest,
    camera: Callable[[], str],
    wait_for_events: Callable[..., list[dict[str, Any]]],
    answers: tuple[int, ...] | None,
    status: str,
    attempts: int,
    http: int | None,
) -> None:
    url = _closed_port_url() if answers is None else receiver.script(*answers)
    hook = webhook(url, event_types=["person.recognized"])
    event = raise_event("alex_lacamoire", ingest, camera, wait_for_events)

    delivery = delivery_of(live, hook["id"], event["id"])
    assert delivery is not None
    assert (delivery["status"], delivery["attempts"], delivery["response_status"]) == (
        status,
        attempts,
        http,
    )
    if status == "failed":
        assert delivery["error"]
    if answers is not None:
        assert len(receiver.requests_for(event["id"])) == attempts


def test_a_webhook_gets_only_the_event_types_it_asked_for(
    live: LiveServer,
    receiver: Receiver,
    webhook: Callable[..., dict[str, Any]],
    ingest: Ingest,
    camera: Callable[[], str],
    wait_for_events: Callable[..., list[dict[str, Any]]],
) -> None:
    watchlist_only = webhook(receiver.script(200), event_types=["watchlist.match"])
    everything = webhook(receiver.script(200))
    stranger = raise_event("stranger_rose", ingest, camera, wait_for_events)
    wanted = raise_event("biden", ingest, camera, wait_for_events)

    assert delivery_of(live, everything["id"], stranger["id"]) is not None
    assert delivery_of(live, watchlist_only["id"], wanted["id"]) is not None
    log = live.client.get(f"{HOOKS}/{watchlist_only['id']}/deliveries", headers=live.admin)
    assert stranger["id"] not in {d["event_id"] for d in log.json()["items"]}


def test_a_paused_webhook_gets_nothing(
    live: LiveServer,
    receiver: Receiver,
    webhook: Callable[..., dict[str, Any]],
    ingest: Ingest,
    camera: Callable[[], str],
    wait_for_events: Callable[..., list[dict[str, Any]]],
    settle: Callable[[], None],
) -> None:
    url = receiver.script(200)
    hook = webhook(url, event_types=["person.unknown"])
    paused = live.client.patch(f"{HOOKS}/{hook['id']}", json={"active": False}, headers=live.admin)
    assert paused.json()["active"] is False
    event = raise_event("stranger_kit", ingest, camera, wait_for_events)
    settle()
    log = live.client.get(f"{HOOKS}/{hook['id']}/deliveries", headers=live.admin).json()
    assert log["total"] == 0
    assert receiver.requests_for(event["id"]) == []


def test_the_secret_is_shown_once_and_never_listed(
    live: LiveServer, receiver: Receiver, webhook: Callable[..., dict[str, Any]]
) -> None:
    created = webhook(receiver.script(200), description="alarm panel")
    listed = live.client.get(HOOKS, headers=live.admin).json()["items"]
    read = live.client.get(f"{HOOKS}/{created['id']}", headers=live.admin).json()

    assert created["secret"].startswith("whsec_")
    assert len(created["secret"]) > 40
    assert set(created["event_types"]) == {
        "person.recognized",
        "watchlist.match",
        "person.unknown",
        "zone.unauthorized",
        "camera.stale",
        "camera.recovered",
    }
    assert all("secret" not in hook for hook in listed)
    assert "secret" not in read
    assert read["description"] == "alarm panel"


def test_a_deleted_webhook_and_its_log_are_gone(live: LiveServer, receiver: Receiver) -> None:
    created = live.client.post(HOOKS, json={"url": receiver.script(200)}, headers=live.admin)
    hook_id = created.json()["id"]
    assert live.client.delete(f"{HOOKS}/{hook_id}", headers=live.admin).status_code == 204
    assert live.client.get(f"{HOOKS}/{hook_id}", headers=live.admin).status_code == 404
    log = live.client.get(f"{HOOKS}/{hook_id}/deliveries", headers=live.admin)
    assert log.status_code == 404


BAD_WEBHOOKS = {
    "not http": {"url": "ftp://127.0.0.1/x"},
    "no event type": {"url": "http://127.0.0.1/x", "event_types": []},
    "unknown event type": {"url": "http://127.0.0.1/x", "event_types": ["person.left"]},
    "short secret": {"url": "http://127.0.0.1/x", "secret": "short"},
    "unknown field": {"url": "http://127.0.0.1/x", "retries": 9},
}


@pytest.mark.parametrize("body", BAD_WEBHOOKS.values(), ids=BAD_WEBHOOKS)
def test_a_bad_webhook_is_refused_with_422(live: LiveServer, body: dict[str, Any]) -> None:
    response = live.client.post(HOOKS, json=body, headers=live.admin)
    assert response.status_code == 422, response.text


@pytest.mark.parametrize("scope", ["read", "enroll", "ingest"])
def test_only_an_admin_key_manages_webhooks(live: LiveServer, scope: str) -> None:
    headers = live.key(scope)
    assert live.client.get(HOOKS, headers=headers).status_code == 403
    created = live.client.post(HOOKS, json={"url": "http://127.0.0.1/x"}, headers=headers)
    assert created.status_code == 403
