"""The outbox keeps items on disk until acknowledged, in order, within its byte bound."""

from __future__ import annotations

import json
import sqlite3
from datetime import UTC, datetime
from pathlib import Path

import pytest

from facewatch.edge.outbox import ItemKind, Outbox, OutboxItem
from facewatch.types import Box

T0 = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)


def item(key: str, size: int = 100, **extra: object) -> OutboxItem:
    return OutboxItem(
        idempotency_key=key,
        kind=ItemKind.CROP,
        camera_id="cam",
        captured_at=T0,
        payload=b"x" * size,
        media_type="image/jpeg",
        track_id="run-1",
        **extra,  # type: ignore[arg-type]
    )


@pytest.fixture
def outbox(tmp_path: Path) -> Outbox:
    return Outbox(tmp_path / "outbox.db", max_bytes=1000)


def test_items_come_out_oldest_first_and_leave_when_acknowledged(outbox: Outbox) -> None:
    for key in ("a", "b", "c"):
        outbox.put(item(key))
    queued = outbox.peek(2)
    assert [q.item.idempotency_key for q in queued] == ["a", "b"]
    outbox.ack(queued[0].id)
    assert [q.item.idempotency_key for q in outbox.peek(10)] == ["b", "c"]
    assert outbox.depth == 2
    assert outbox.counter("delivered") == 1


def test_items_survive_closing_and_reopening_the_file(tmp_path: Path) -> None:
    path = tmp_path / "outbox.db"
    with Outbox(path, max_bytes=1000) as first:
        first.put(item("a", box=Box(3, 4, 50, 60), thumbnail=b"jpeg"))
    with Outbox(path, max_bytes=1000) as second:
        (queued,) = second.peek(10)
        assert queued.item == item("a", box=Box(3, 4, 50, 60), thumbnail=b"jpeg")
        assert second.queued_bytes == 100 + len("face_box") + len("3,4,50,60") + len("jpeg")


def test_a_key_already_queued_is_not_queued_twice(outbox: Outbox) -> None:
    assert outbox.put(item("a"))
    assert not outbox.put(item("a"))
    assert outbox.depth == 1


def test_a_full_outbox_drops_the_oldest_items_and_counts_them(outbox: Outbox) -> None:
    for key in "abcdefghij":
        outbox.put(item(key))
    assert outbox.put(item("k", size=250))
    assert [q.item.idempotency_key for q in outbox.peek(20)][:2] == ["d", "e"]
    assert outbox.counter("dropped") == 3
    assert outbox.queued_bytes <= outbox.max_bytes


def test_under_drop_newest_a_full_outbox_refuses_new_items(tmp_path: Path) -> None:
    outbox = Outbox(tmp_path / "o.db", max_bytes=250, drop="newest")
    assert outbox.put(item("a"))
    assert outbox.put(item("b"))
    assert not outbox.put(item("c"))
    assert [q.item.idempotency_key for q in outbox.peek(5)] == ["a", "b"]
    assert outbox.counter("dropped") == 1


def test_an_item_bigger_than_the_whole_outbox_is_refused(outbox: Outbox) -> None:
    outbox.put(item("a"))
    assert not outbox.put(item("huge", size=5000))
    assert outbox.depth == 1


def test_rejected_and_retried_items_are_counted(outbox: Outbox) -> None:
    outbox.put(item("a"))
    outbox.put(item("b"))
    first, second = outbox.peek(2)
    outbox.attempted(first.id)
    outbox.attempted(first.id)
    outbox.reject(second.id, "HTTP 400: bad image")
    (left,) = outbox.peek(5)
    assert left.attempts == 2
    assert outbox.counter("rejected") == 1


def test_an_item_queued_by_the_previous_agent_version_comes_out_typed(tmp_path: Path) -> None:
    path = tmp_path / "outbox.db"
    Outbox(path, max_bytes=10_000).close()
    fields = {"model": "dlib_resnet_v1", "quality": "0.5123", "box": "1,2,30,40"}
    with sqlite3.connect(path) as db:  # the row as the 0.1 agent wrote it: fields as strings
        db.execute(
            "INSERT INTO items (idempotency_key, kind, camera_id, track_id, captured_at, fields,"
            " payload, media_type, size, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            ("k", "embedding", "cam", None, T0.isoformat(), json.dumps(fields), b"v" * 256,
             "application/x-float16-le", 300, 0.0),
        )  # fmt: skip

    with Outbox(path, max_bytes=10_000) as outbox:
        (queued,) = outbox.peek(1)

    assert (queued.item.box, queued.item.model, queued.item.quality) == (
        Box(1, 2, 30, 40), "dlib_resnet_v1", 0.5123,
    )  # fmt: skip
    assert queued.item.form_fields() == fields
