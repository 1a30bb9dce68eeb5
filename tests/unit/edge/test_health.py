"""Edge health: every request names the agent and its outbox depth; an idle agent reports
now and then; the gallery copy is fetched with the version held (a 304 when unchanged).

The server is faked at the httpx transport seam (``httpx.MockTransport``).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest

from facewatch.edge.outbox import ItemKind, Outbox, OutboxItem
from facewatch.edge.uplink import GalleryUnavailable, Uplink, UplinkWorker

T0 = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
CREATED = {"detections": [{"id": 1, "status": "known", "name": "Ada"}], "replayed": False}


def crop(key: str) -> OutboxItem:
    return OutboxItem(key, ItemKind.CROP, "gate-1", T0, b"\xff\xd8\xffjpeg", "image/jpeg", "r-7")


def uplink(handler: Callable[[httpx.Request], httpx.Response], depth: int = 7) -> Uplink:
    return Uplink(
        "http://server:8000",
        "fw_secret",
        edge_id="site-a",
        transport=httpx.MockTransport(handler),
        outbox_depth=lambda: depth,
    )


@pytest.mark.parametrize("batch", [False, True])
def test_every_item_request_carries_the_edge_id_and_the_outbox_depth(batch: bool) -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        if request.url.path.endswith("/batch"):
            results = [{"idempotency_key": k, "status": 201, **CREATED} for k in ("a", "b")]
            return httpx.Response(200, json={"results": results})
        return httpx.Response(201, json=CREATED)

    link = uplink(handler)
    if batch:
        link.deliver_many([crop("a"), crop("b")])
    else:
        link.deliver(crop("a"))
    (request,) = seen
    assert request.headers["X-Facewatch-Edge-Id"] == "site-a"
    assert request.headers["X-Facewatch-Outbox-Depth"] == "7"


def test_the_servers_verdicts_come_back_with_the_delivery() -> None:
    delivery = uplink(lambda _: httpx.Response(201, json=CREATED)).deliver(crop("a"))
    assert [(r.status, r.name) for r in delivery.results] == [("known", "Ada")]


def test_an_idle_worker_reports_its_empty_outbox_by_heartbeat(tmp_path: Path) -> None:
    beats: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        beats.append(request)
        return httpx.Response(200, json={"status": "ok"})

    with Outbox(tmp_path / "o.db", max_bytes=10_000) as outbox:
        link = uplink(handler, depth=0)
        worker = UplinkWorker(outbox, link, heartbeat_interval=0.05)
        worker.start()
        deadline = time.monotonic() + 10
        while not beats and time.monotonic() < deadline:
            time.sleep(0.02)
        worker.stop()
    assert beats
    assert beats[0].url.path == "/healthz"
    assert beats[0].headers["X-Facewatch-Outbox-Depth"] == "0"


def test_the_gallery_is_asked_for_with_the_version_held() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        if request.url.params.get("since") == "v1":
            return httpx.Response(304)
        return httpx.Response(200, json={"version": "v1"})

    link = uplink(handler)
    assert link.fetch_gallery(None) == {"version": "v1"}
    assert link.fetch_gallery("v1") is None
    assert "since" not in seen[0].url.params
    assert all(r.headers["X-Facewatch-Edge-Id"] == "site-a" for r in seen)


@pytest.mark.parametrize(
    ("answer", "message"),
    [
        (httpx.Response(403, json={"detail": "this API key lacks the 'gallery' scope"}), "403"),
        (httpx.Response(500, text="oops"), "500"),
        (httpx.Response(200, text="not json"), "not a JSON object"),
    ],
)
def test_a_gallery_that_cannot_be_had_says_why(answer: httpx.Response, message: str) -> None:
    with pytest.raises(GalleryUnavailable, match=message):
        uplink(lambda _: answer).fetch_gallery(None)


def test_an_unreachable_server_makes_the_gallery_unavailable() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused")

    with pytest.raises(GalleryUnavailable, match="ConnectError"):
        uplink(handler).fetch_gallery("v1")
