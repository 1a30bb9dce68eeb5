"""The uplink: what it sends, how it reads the server's answers, and the worker's retries.

The server is faked at the httpx transport seam (``httpx.MockTransport``).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest

from facewatch.edge.outbox import ItemKind, Outbox, OutboxItem
from facewatch.edge.uplink import DeliveryStatus, Uplink, UplinkWorker

T0 = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
CREATED = {"detections": [{"id": 1}], "replayed": False}


def crop(key: str) -> OutboxItem:
    return OutboxItem(key, ItemKind.CROP, "gate-1", T0, b"\xff\xd8\xffjpeg", "image/jpeg", "r-7")


def uplink(handler: Callable[[httpx.Request], httpx.Response]) -> Uplink:
    return Uplink(
        "http://server:8000/", "fw_secret", edge_id="site-a", transport=httpx.MockTransport(handler)
    )


def test_a_crop_goes_to_the_detections_route_as_multipart_with_its_fields() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(201, json=CREATED)

    delivery = uplink(handler).deliver(crop("gate-1:r:7:0"))
    (request,) = seen
    body = request.read()
    assert request.url == "http://server:8000/api/v1/detections"
    assert request.headers["authorization"] == "Bearer fw_secret"
    assert request.headers["content-type"].startswith("multipart/form-data")
    for field in (b"gate-1:r:7:0", b"site-a", b"r-7", b"2026-11-23T09:00:00+00:00", b"jpeg"):
        assert field in body
    assert delivery.status is DeliveryStatus.DELIVERED
    assert delivery.faces == 1
    assert len(body) < delivery.request_bytes < delivery.wire_bytes


def test_an_embedding_goes_to_the_edge_route_with_its_thumbnail() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(201, json=CREATED)

    item = OutboxItem(
        "k", ItemKind.EMBEDDING, "gate-1", T0, b"\x00" * 512, "application/x-float32-le",
        fields={"model": "dlib"}, thumbnail=b"\xff\xd8\xffthumb",
    )  # fmt: skip
    uplink(handler).deliver(item)
    body = seen[0].read()
    assert seen[0].url.path == "/api/v1/edge/embeddings"
    assert b'name="embedding"' in body
    assert b'name="thumbnail"' in body
    assert b'name="model"' in body


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        (201, DeliveryStatus.DELIVERED),
        (200, DeliveryStatus.DELIVERED),
        (400, DeliveryStatus.REJECTED),
        (413, DeliveryStatus.REJECTED),
        (415, DeliveryStatus.REJECTED),
        (409, DeliveryStatus.REJECTED),
        (401, DeliveryStatus.RETRY),
        (403, DeliveryStatus.RETRY),
        (404, DeliveryStatus.RETRY),
        (429, DeliveryStatus.RETRY),
        (500, DeliveryStatus.RETRY),
        (503, DeliveryStatus.RETRY),
    ],
)
def test_each_answer_of_the_server_means_delivered_retry_or_rejected(
    status: int, expected: DeliveryStatus
) -> None:
    body = CREATED if status < 300 else {"detail": "no", "code": "x"}
    delivery = uplink(lambda _: httpx.Response(status, json=body)).deliver(crop("k"))
    assert delivery.status is expected


@pytest.mark.parametrize(
    "error",
    [httpx.ConnectError("refused"), httpx.ReadTimeout("slow"), httpx.RemoteProtocolError("x")],
)
def test_a_network_failure_means_retry(error: httpx.TransportError) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raise error

    delivery = uplink(handler).deliver(crop("k"))
    assert delivery.status is DeliveryStatus.RETRY
    assert type(error).__name__ in delivery.detail


def test_a_replayed_answer_is_reported_as_such() -> None:
    delivery = uplink(lambda _: httpx.Response(201, json={**CREATED, "replayed": True})).deliver(
        crop("k")
    )
    assert delivery.replayed


class FlakyServer:
    """A fake server that stores by idempotency key and fails the first ``failures`` calls."""

    def __init__(self, failures: int) -> None:
        self.failures = failures
        self.calls = 0
        self.stored: dict[str, int] = {}
        self.lock = threading.Lock()

    def __call__(self, request: httpx.Request) -> httpx.Response:
        with self.lock:
            self.calls += 1
            if self.calls <= self.failures:
                raise httpx.ConnectError("link down")
            key = next(
                part.split(b"\r\n\r\n", 1)[1].split(b"\r\n", 1)[0].decode()
                for part in request.read().split(b"--")
                if b'name="idempotency_key"' in part
            )
            self.stored[key] = self.stored.get(key, 0) + 1
            return httpx.Response(201, json=CREATED)


def test_the_worker_retries_with_backoff_until_every_item_is_delivered_once(
    tmp_path: Path,
) -> None:
    server = FlakyServer(failures=3)
    outbox = Outbox(tmp_path / "o.db", max_bytes=10**6)
    for n in range(5):
        outbox.put(crop(f"key-{n}"))
    worker = UplinkWorker(
        outbox, uplink(server), backoff_initial=0.01, backoff_max=0.05, batch_size=2
    )
    worker.start()
    try:
        assert worker.drain(timeout=10) == 0
    finally:
        worker.stop()
    assert server.stored == {f"key-{n}": 1 for n in range(5)}
    assert outbox.counter("delivered") == 5


def test_a_rejected_item_leaves_the_outbox_and_the_rest_go_on(tmp_path: Path) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        if b"bad-item" in request.read():
            return httpx.Response(400, json={"detail": "corrupt image", "code": "invalid_image"})
        return httpx.Response(201, json=CREATED)

    outbox = Outbox(tmp_path / "o.db", max_bytes=10**6)
    for key in ("good-1", "bad-item", "good-2"):
        outbox.put(crop(key))
    worker = UplinkWorker(outbox, uplink(handler))
    worker.start()
    try:
        assert worker.drain(timeout=10) == 0
    finally:
        worker.stop()
    assert outbox.counter("rejected") == 1
    assert outbox.counter("delivered") == 2


def test_stopping_the_worker_keeps_undelivered_items_on_disk(tmp_path: Path) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("down")

    outbox = Outbox(tmp_path / "o.db", max_bytes=10**6)
    outbox.put(crop("k"))
    worker = UplinkWorker(outbox, uplink(handler), backoff_initial=0.01)
    worker.start()
    assert worker.drain(timeout=0.3) == 1
    worker.stop()
    assert worker.failing
    assert outbox.depth == 1
