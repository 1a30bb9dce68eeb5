"""The uplink: what it sends, how it reads the server's answers, and the worker's retries.

The server is faked at the httpx transport seam (``httpx.MockTransport``).
"""

from __future__ import annotations

import gzip
import json
import re
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest

from facewatch.edge.outbox import ItemKind, Outbox, OutboxItem
from facewatch.edge.uplink import DeliveryStatus, Uplink, UplinkWorker
from facewatch.types import Box

T0 = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
CREATED = {"detections": [{"id": 1}], "replayed": False}


def crop(key: str, face_box: Box | None = Box(3, 4, 50, 60)) -> OutboxItem:
    return OutboxItem(
        key, ItemKind.CROP, "gate-1", T0, b"\xff\xd8\xffjpeg", "image/jpeg", "r-7", face_box
    )


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
    assert form_field(body, "face_box") == "3,4,50,60"
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
        box=Box(1, 2, 30, 40), model="dlib", thumbnail=b"\xff\xd8\xffthumb",
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
        (409, DeliveryStatus.RETRY),  # a camera registered meanwhile, a model switch...
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


def test_only_a_reused_idempotency_key_makes_a_409_final() -> None:
    body = {"detail": "key 'k' was used before for other content", "code": "idempotency_key_reused"}
    delivery = uplink(lambda _: httpx.Response(409, json=body)).deliver(crop("k"))
    assert delivery.status is DeliveryStatus.REJECTED
    assert "other content" in delivery.detail


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


def form_field(body: bytes, name: str) -> str:
    """The value of a text field of a multipart body (a gzip part, inflated)."""
    pattern = (
        rb'name="'
        + name.encode()
        + rb'"(?:; filename="[^"]*")?\r\n(?:Content-Type: [^\r]*\r\n)?\r\n(.*?)\r\n--'
    )
    match = re.search(pattern, body, re.DOTALL)
    assert match is not None, name
    value = match.group(1)
    return (gzip.decompress(value) if value.startswith(b"\x1f\x8b") else value).decode()


class FlakyServer:
    """A fake server that stores by idempotency key (one item, or a batch) and fails the
    first ``failures`` calls."""

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
            body = request.read()
            if request.url.path == "/api/v1/edge/batch":
                keys = [
                    i["idempotency_key"]
                    for i in json.loads(form_field(body, "manifest_gz"))["items"]
                ]
            else:
                keys = [form_field(body, "idempotency_key")]
            for key in keys:
                self.stored[key] = self.stored.get(key, 0) + 1
            if request.url.path == "/api/v1/edge/batch":
                results = [{"idempotency_key": k, "status": 201, "detections": []} for k in keys]
                return httpx.Response(200, json={"results": results})
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
    worker = UplinkWorker(outbox, uplink(handler), batch_size=1)
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


def embedding(key: str, media_type: str = "application/x-float16-le") -> OutboxItem:
    return OutboxItem(
        key, ItemKind.EMBEDDING, "gate-1", T0, b"\x01" * 256, media_type, "r-7",
        box=Box(1, 2, 30, 40), model="dlib_resnet_v1", quality=0.5,
    )  # fmt: skip


def test_a_batch_is_one_request_with_a_manifest_the_crops_and_one_vector_table() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        keys = ["c1", "e1", "e2", "c0"]
        return httpx.Response(200, json={"results": [{"idempotency_key": k, "status": 201}
                                                     for k in keys]})  # fmt: skip

    items = [crop("c1"), embedding("e1"), embedding("e2"), crop("c0", face_box=None)]
    deliveries = uplink(handler).deliver_many(items)
    (request,) = seen
    body = request.read()
    manifest = json.loads(form_field(body, "manifest_gz"))
    assert request.url.path == "/api/v1/edge/batch"
    assert manifest["dtype"] == "float16"
    assert [(i["kind"], i.get("image"), i.get("vector")) for i in manifest["items"]] == [
        ("crop", 0, None), ("embedding", None, 0), ("embedding", None, 1), ("crop", 1, None),
    ]  # fmt: skip
    assert manifest["items"][1]["box"] == [1, 2, 30, 40]
    # A crop's face box (where its face lies) rides along; an item queued without one: none.
    assert manifest["items"][0]["box"] == [3, 4, 50, 60]
    assert "box" not in manifest["items"][3]
    # Both rows in one part, gzipped (int8 and float16 rows shrink by a third or more).
    assert b'name="vectors"; filename="v"\r\nContent-Type: application/gzip' in body
    assert form_field(body, "vectors") == "\x01" * 512
    assert [d.status for d in deliveries] == [DeliveryStatus.DELIVERED] * 4
    assert sum(d.request_bytes for d in deliveries) > len(body)


def test_a_server_that_refuses_gzipped_vectors_gets_them_as_they_are() -> None:
    """An older server refuses the manifest's "vectors" key: those items go one by one, and
    later batches carry the table as it is."""
    seen: list[httpx.Request] = []

    def older_server(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        if request.url.path != "/api/v1/edge/batch":
            return httpx.Response(201, json={"detections": [], "replayed": False})
        manifest = json.loads(form_field(request.read(), "manifest_gz"))
        if "vectors" in manifest:
            return httpx.Response(400, json={"detail": "manifest vectors: extra inputs"})
        results = [{"idempotency_key": i["idempotency_key"], "status": 201}
                   for i in manifest["items"]]  # fmt: skip
        return httpx.Response(200, json={"results": results})

    link = uplink(older_server)
    first = link.deliver_many([embedding("g1"), embedding("g2")])
    later = link.deliver_many([embedding("g3"), embedding("g4")])

    paths = [r.url.path for r in seen]
    assert paths == ["/api/v1/edge/batch", *["/api/v1/edge/embeddings"] * 2, "/api/v1/edge/batch"]
    assert [d.status for d in first + later] == [DeliveryStatus.DELIVERED] * 4
    assert b"application/octet-stream" in seen[-1].read()


def test_each_item_of_a_batch_gets_its_own_outcome() -> None:
    results = [
        {"idempotency_key": "ok", "status": 201, "detections": [{"id": 1}], "replayed": True},
        {"idempotency_key": "bad", "status": 400, "detail": "corrupt"},
        {"idempotency_key": "busy", "status": 503, "detail": "later"},
        {"idempotency_key": "race", "status": 409, "detail": "camera exists", "code": "conflict"},
        {"idempotency_key": "reused", "status": 409, "code": "idempotency_key_reused"},
    ]
    handler = lambda _: httpx.Response(200, json={"results": results})  # noqa: E731
    keys = ("ok", "bad", "busy", "lost", "race", "reused")
    outcomes = uplink(handler).deliver_many([crop(k) for k in keys])
    assert [d.status for d in outcomes] == [
        DeliveryStatus.DELIVERED, DeliveryStatus.REJECTED, DeliveryStatus.RETRY,
        DeliveryStatus.RETRY, DeliveryStatus.RETRY, DeliveryStatus.REJECTED,
    ]  # fmt: skip
    assert outcomes[0].replayed
    assert outcomes[0].faces == 1


def test_a_server_without_the_batch_route_gets_the_items_one_by_one() -> None:
    paths: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        paths.append(request.url.path)
        if request.url.path == "/api/v1/edge/batch":
            return httpx.Response(404, json={"detail": "Not Found"})
        return httpx.Response(201, json=CREATED)

    link = uplink(handler)
    first = link.deliver_many([crop("a"), crop("b")])
    link.deliver_many([crop("c"), crop("d")])
    assert [d.status for d in first] == [DeliveryStatus.DELIVERED] * 2
    assert paths == ["/api/v1/edge/batch"] + ["/api/v1/detections"] * 4


def test_a_batch_that_fails_on_the_network_is_retried_whole() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("down")

    outcomes = uplink(handler).deliver_many([crop("a"), crop("b")])
    assert [d.status for d in outcomes] == [DeliveryStatus.RETRY] * 2
