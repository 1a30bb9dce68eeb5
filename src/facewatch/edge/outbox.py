"""The durable outbox: every item to send waits in a SQLite file until the server has it.

An item leaves the outbox only when the server acknowledged it (or refused it for good), so
a crash, a reboot or a week without a link loses nothing that fits in ``max_bytes``. Past
that bound the drop policy applies: ``oldest`` deletes the oldest queued items to make room
(recent faces matter most for alerts), ``newest`` refuses new ones; either way every dropped
item is counted (kept across restarts) and logged.
"""

from __future__ import annotations

import json
import logging
import sqlite3
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from types import TracebackType

from facewatch.edge.config import DropPolicy
from facewatch.errors import ConfigurationError, InvalidInput
from facewatch.types import Box
from facewatch.wire import ItemKind as ItemKind  # the outbox's kinds are the wire's
from facewatch.wire import decode_box, encode_box
from facewatch.wire import fields as form

logger = logging.getLogger(__name__)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS items (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    idempotency_key TEXT NOT NULL UNIQUE,
    kind TEXT NOT NULL,
    camera_id TEXT NOT NULL,
    track_id TEXT,
    captured_at TEXT NOT NULL,
    fields TEXT NOT NULL,
    payload BLOB NOT NULL,
    media_type TEXT NOT NULL,
    thumbnail BLOB,
    size INTEGER NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    created_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS counters (name TEXT PRIMARY KEY, value INTEGER NOT NULL);
"""
_COLUMNS = (
    "id, idempotency_key, kind, camera_id, track_id, captured_at, fields, payload, media_type,"
    " thumbnail, attempts, created_at"
)


@dataclass(frozen=True, slots=True)
class OutboxItem:
    """One thing to deliver: a crop or an embedding, with what the server must know of it."""

    idempotency_key: str
    kind: ItemKind
    camera_id: str
    captured_at: datetime
    payload: bytes
    media_type: str
    track_id: str | None = None
    box: Box | None = None
    """A crop: where its face lies in it as sent (a hint the server checks; None for items
    queued by older agents). An embedding: the face box in the camera frame."""
    model: str | None = None
    """An embedding: the model that made it."""
    quality: float = 0.0
    """An embedding: the face's quality score, 0..1."""
    thumbnail: bytes | None = None
    """A small JPEG sent beside an embedding (embeddings mode), if any."""

    def form_fields(self) -> dict[str, str]:
        """The item's own form fields on the plain routes (``model``, ``box``...)."""
        if self.kind is ItemKind.CROP:
            return {} if self.box is None else {form.FACE_BOX: encode_box(self.box)}
        return {
            form.MODEL: self.model or "",
            form.QUALITY: f"{self.quality:.4f}",
            **({} if self.box is None else {form.BOX: encode_box(self.box)}),
        }


@dataclass(frozen=True, slots=True)
class QueuedItem:
    """An item waiting in the outbox, with its row id and how often it was tried."""

    id: int
    item: OutboxItem
    attempts: int
    queued_at: float = 0.0
    """When it was put in the outbox (seconds since the epoch)."""


class Outbox:
    """A bounded, durable FIFO queue in one SQLite file; safe to share between threads."""

    def __init__(self, path: Path, *, max_bytes: int, drop: DropPolicy = "oldest") -> None:
        self.path = path
        self.max_bytes = max_bytes
        self.drop = drop
        self._lock = threading.Lock()
        self._db = _connect(path)
        self._bytes = self._scalar("SELECT COALESCE(SUM(size), 0) FROM items")

    # --- writing -----------------------------------------------------------------------
    def put(self, item: OutboxItem) -> bool:
        """Queue ``item``; False if it was dropped (full under ``newest``, or a duplicate)."""
        size = _size(item)
        with self._lock, self._db:
            if not self._make_room(size):
                self._count("dropped")
                logger.warning("outbox full: dropped new item %s", item.idempotency_key)
                return False
            inserted = self._insert(item, size)
            if inserted:
                self._bytes += size
            return inserted

    def ack(self, item_id: int) -> None:
        """The server has the item: forget it."""
        with self._lock, self._db:
            self._delete(item_id)
            self._count("delivered")

    def reject(self, item_id: int, reason: str) -> None:
        """The server refused the item for good (a 4xx): forget it, counted and logged."""
        with self._lock, self._db:
            self._delete(item_id)
            self._count("rejected")
        logger.warning("outbox item %s rejected by the server: %s", item_id, reason)

    def attempted(self, item_id: int) -> None:
        """One more delivery attempt failed for a reason worth retrying."""
        with self._lock, self._db:
            self._db.execute("UPDATE items SET attempts = attempts + 1 WHERE id = ?", (item_id,))

    # --- reading -----------------------------------------------------------------------
    def peek(self, limit: int) -> list[QueuedItem]:
        """Up to ``limit`` items, oldest first, left in the queue."""
        with self._lock:
            rows = self._db.execute(
                f"SELECT {_COLUMNS} FROM items ORDER BY id LIMIT ?", (limit,)
            ).fetchall()
        return [_queued(row) for row in rows]

    @property
    def depth(self) -> int:
        """Items waiting."""
        with self._lock:
            return self._scalar("SELECT COUNT(*) FROM items")

    @property
    def queued_bytes(self) -> int:
        """Payload bytes waiting."""
        with self._lock:
            return self._bytes

    def counter(self, name: str) -> int:
        """A lifetime counter of this outbox file: ``delivered``, ``rejected`` or ``dropped``."""
        with self._lock:
            row = self._db.execute("SELECT value FROM counters WHERE name = ?", (name,)).fetchone()
        return int(row[0]) if row else 0

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def __enter__(self) -> Outbox:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    # --- internals (called with the lock held, inside a transaction) --------------------
    def _make_room(self, size: int) -> bool:
        if size > self.max_bytes:
            return False
        if self._bytes + size <= self.max_bytes:
            return True
        if self.drop == "newest":
            return False
        dropped = 0
        for item_id, item_size in self._db.execute("SELECT id, size FROM items ORDER BY id"):
            if self._bytes + size <= self.max_bytes:
                break
            self._db.execute("DELETE FROM items WHERE id = ?", (item_id,))
            self._bytes -= item_size
            dropped += 1
        self._count("dropped", dropped)
        logger.warning(
            "outbox full (%s bytes): dropped the %s oldest items", self.max_bytes, dropped
        )
        return True

    def _insert(self, item: OutboxItem, size: int) -> bool:
        cursor = self._db.execute(
            "INSERT OR IGNORE INTO items (idempotency_key, kind, camera_id, track_id, captured_at,"
            " fields, payload, media_type, thumbnail, size, created_at)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                item.idempotency_key,
                item.kind.value,
                item.camera_id,
                item.track_id,
                item.captured_at.isoformat(),
                json.dumps(item.form_fields()),
                item.payload,
                item.media_type,
                item.thumbnail,
                size,
                time.time(),
            ),
        )
        return cursor.rowcount == 1

    def _delete(self, item_id: int) -> None:
        row = self._db.execute("DELETE FROM items WHERE id = ? RETURNING size", (item_id,))
        found = row.fetchone()
        if found is not None:
            self._bytes -= int(found[0])

    def _count(self, name: str, amount: int = 1) -> None:
        if amount:
            self._db.execute(
                "INSERT INTO counters (name, value) VALUES (?, ?)"
                " ON CONFLICT(name) DO UPDATE SET value = value + excluded.value",
                (name, amount),
            )

    def _scalar(self, sql: str) -> int:
        return int(self._db.execute(sql).fetchone()[0])


def _connect(path: Path) -> sqlite3.Connection:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        # WAL keeps readers and the writer apart; FULL syncs each commit to disk, so an
        # item acknowledged by put() survives a power cut.
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=FULL")
        db.executescript(_SCHEMA)
    except (OSError, sqlite3.Error) as exc:
        raise ConfigurationError(f"cannot open the outbox {path}: {exc}") from exc
    db.isolation_level = "DEFERRED"
    return db


def _size(item: OutboxItem) -> int:
    """Bytes an item holds: its payload, its thumbnail and its fields."""
    fields = sum(len(k) + len(v) for k, v in item.form_fields().items())
    return len(item.payload) + len(item.thumbnail or b"") + fields


def _queued(row: tuple[object, ...]) -> QueuedItem:
    (item_id, key, kind, camera_id, track_id, captured_at, fields, payload, media, thumb, n, at) = (
        row
    )
    box, model, quality = _typed_fields(json.loads(str(fields)))
    item = OutboxItem(
        idempotency_key=str(key),
        kind=ItemKind(str(kind)),
        camera_id=str(camera_id),
        captured_at=datetime.fromisoformat(str(captured_at)),
        payload=bytes(payload),  # type: ignore[call-overload]
        media_type=str(media),
        track_id=None if track_id is None else str(track_id),
        box=box,
        model=model,
        quality=quality,
        thumbnail=None if thumb is None else bytes(thumb),  # type: ignore[call-overload]
    )
    return QueuedItem(int(item_id), item, int(n), float(at))  # type: ignore[call-overload,arg-type]


def _typed_fields(fields: Mapping[str, str]) -> tuple[Box | None, str | None, float]:
    """Box, model and quality from a row's form fields (as every version wrote them)."""
    box = None
    text = fields.get(form.FACE_BOX) or fields.get(form.BOX)
    if text:
        try:
            box = decode_box(text)
        except InvalidInput:
            logger.warning("outbox item with a malformed box %r: sent without it", text)
    return box, fields.get(form.MODEL), float(fields.get(form.QUALITY, 0.0))
