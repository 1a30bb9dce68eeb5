"""The uplink: outbox items to the server over HTTP(S), with retries, backoff and idempotency.

Sending never raises for a network or HTTP failure; each attempt ends in a ``Delivery``:

    DeliveryStatus
    ├── DELIVERED   2xx             the item leaves the outbox
    ├── RETRY       network errors, 408/425/429, 5xx, 401/403/404 (a wrong key or URL
    │               is a configuration problem: the items wait until it is fixed), and
    │               409 (a conflict a retry can clear: a camera registered at the same
    │               moment by another request, a model being switched on the server)
    └── REJECTED    other 4xx       the item itself is bad; retrying cannot help, and the
                    409 ``idempotency_key_reused``: the item's key already belongs to other
                    content, so no retry of this item can ever be stored

Each item carries the idempotency key it was given when queued, so an item sent again after
a lost answer is stored once: the server answers a replay with the first result.
"""

from __future__ import annotations

import gzip
import logging
import random
import ssl
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from enum import StrEnum
from pathlib import Path
from typing import Literal

import httpx

from facewatch import __version__
from facewatch.edge.outbox import ItemKind, Outbox, OutboxItem, QueuedItem
from facewatch.errors import ConfigurationError, IdempotencyKeyReused, ModelMismatch
from facewatch.wire import (
    BATCH_PATH,
    DETECTIONS_PATH,
    EDGE_ID_HEADER,
    EMBEDDINGS_PATH,
    GALLERY_PATH,
    OUTBOX_DEPTH_HEADER,
    BatchItem,
    BatchManifest,
    FaceResult,
    MediaType,
    VectorType,
    dtype_of_media_type,
    face_results,
    image_media_type,
    results_by_key,
)

logger = logging.getLogger(__name__)

__all__ = ["Delivery", "DeliveryStatus", "FaceResult", "Uplink", "UplinkWorker"]

HEARTBEAT_PATH = "/healthz"
_RETRY_STATUSES = frozenset({401, 403, 404, 408, 409, 425, 429})
_FINAL_CODES = frozenset({IdempotencyKeyReused.code, ModelMismatch.code})
"""Error codes that are final even under a status in ``_RETRY_STATUSES``."""
_HEARTBEAT_TIMEOUT = 5.0
"""Seconds a heartbeat may take: it must not hold up a stop for a full request timeout."""
_TCP_SEGMENT = 1448
"""Payload bytes of one TCP segment on a 1500-byte MTU link (with timestamps)."""
_TCP_IP_HEADERS = 52
"""IPv4 + TCP headers (with the timestamp option) per segment."""


class DeliveryStatus(StrEnum):
    """What became of one delivery attempt."""

    DELIVERED = "delivered"
    RETRY = "retry"
    REJECTED = "rejected"


@dataclass(frozen=True, slots=True)
class Delivery:
    """The outcome of sending one item."""

    status: DeliveryStatus
    detail: str = ""
    request_bytes: int = 0
    """HTTP request bytes sent: request line, headers and body."""
    wire_bytes: int = 0
    """``request_bytes`` plus TCP/IP headers (TLS framing, if any, not counted)."""
    replayed: bool = False
    """The server had this idempotency key already."""
    faces: int = 0
    """Faces the server found and stored for the item."""
    results: tuple[FaceResult, ...] = ()
    """The server's verdict for each of those faces (for ``--record`` and ``--show``)."""
    code: str = ""
    """The server's error code, if it refused the item (``model_mismatch``...)."""


class GalleryUnavailable(Exception):
    """The gallery copy could not be fetched (network, HTTP status, or a bad answer)."""


def agent_client(
    server: str,
    api_key: str,
    *,
    edge_id: str,
    timeout: float,
    verify_tls: bool = True,
    ca_file: Path | None = None,
    transport: httpx.BaseTransport | None = None,
) -> httpx.Client:
    """The HTTP client every request of the agent goes through: the server's base URL, the
    agent's key, its id and version on every request, and the TLS checks configured."""
    return httpx.Client(
        base_url=server.rstrip("/"),
        headers={
            "Authorization": f"Bearer {api_key}",
            "User-Agent": f"facewatch-edge/{__version__}",
            EDGE_ID_HEADER: edge_id,
        },
        timeout=timeout,
        verify=tls_verification(verify_tls, ca_file),
        transport=transport,
    )


def tls_verification(verify: bool, ca_file: Path | None) -> ssl.SSLContext | bool:
    """How the uplink checks the server: the system's CAs, a given CA file, or (debug) not."""
    if not verify:
        logger.warning("TLS certificate checks are off: the uplink is open to interception")
        return False
    if ca_file is None:
        return True
    if not ca_file.is_file():
        raise ConfigurationError(f"uplink.ca_file {ca_file} does not exist")
    try:
        return ssl.create_default_context(cafile=str(ca_file))
    except (ssl.SSLError, OSError) as exc:
        raise ConfigurationError(f"uplink.ca_file {ca_file} holds no usable CA: {exc}") from exc


class Uplink:
    """Sends items to the server's ingest API with an ingest-scoped key: several at a time
    to the batch route, or one per request to the plain routes (``deliver``).

    A server without the batch route (404) is remembered, and items then go one by one.
    """

    def __init__(
        self,
        server: str,
        api_key: str,
        *,
        edge_id: str,
        timeout: float = 10.0,
        verify_tls: bool = True,
        ca_file: Path | None = None,
        transport: httpx.BaseTransport | None = None,
        outbox_depth: Callable[[], int] | None = None,
    ) -> None:
        self.edge_id = edge_id
        self.batch_supported = True
        self.gzip_vectors = True
        """Whether batches send their vector table gzipped (off once a server refuses it)."""
        self._outbox_depth = outbox_depth
        self._client = agent_client(
            server,
            api_key,
            edge_id=edge_id,
            timeout=timeout,
            verify_tls=verify_tls,
            ca_file=ca_file,
            transport=transport,
        )

    def deliver(self, item: OutboxItem) -> Delivery:
        """Send ``item`` once; never raises for network or HTTP failures."""
        request = self._request(item)
        sent = _request_size(request)
        try:
            response = self._client.send(request)
        except httpx.TransportError as exc:
            return Delivery(DeliveryStatus.RETRY, f"{type(exc).__name__}: {exc}", sent, 0)
        return _outcome(response, sent)

    def deliver_many(self, items: Sequence[OutboxItem]) -> list[Delivery]:
        """Send ``items`` in one batch request if there are several; one delivery each."""
        if len(items) == 1 or not self.batch_supported or not _one_dtype(items):
            return [self.deliver(item) for item in items]
        request = self._batch_request(items)
        sent = _request_size(request)
        try:
            response = self._client.send(request)
        except httpx.TransportError as exc:
            detail = f"{type(exc).__name__}: {exc}"
            return _shared(items, Delivery(DeliveryStatus.RETRY, detail), sent)
        if response.is_success:
            return _batch_outcomes(items, _json(response), sent)
        if response.status_code == 404:
            logger.warning("the server has no batch route: sending items one by one")
            self.batch_supported = False
        elif self._gzipped(items) and _refused_whole(response.status_code):
            # A server older than gzipped tables refuses the manifest's "vectors" key.
            logger.warning("the server refused a batch with a gzipped vector table: sending "
                           "vectors as they are from now on")  # fmt: skip
            self.gzip_vectors = False
        if response.status_code == 404 or _refused_whole(response.status_code):
            # A batch refused as a whole (too big, a bad item): find the bad ones alone.
            return [self.deliver(item) for item in items]
        return _shared(items, _outcome(response, 0), sent)

    def heartbeat(self) -> bool:
        """Tell the server this agent is alive and how deep its outbox is (an idle agent
        sends no items, and /metrics would show the depth of its last batch for ever)."""
        try:
            request = self._client.build_request(
                "GET", HEARTBEAT_PATH, headers=self._health_headers(), timeout=_HEARTBEAT_TIMEOUT
            )
            return self._client.send(request).is_success
        except httpx.TransportError as exc:
            logger.debug("heartbeat failed: %s", exc)
            return False

    def server_model(self) -> str | None:
        """The embedding model the server matches with (its ``/readyz``); None if unknown."""
        try:
            response = self._client.get(
                "/readyz", headers=self._health_headers(), timeout=_HEARTBEAT_TIMEOUT
            )
        except httpx.HTTPError as exc:
            logger.warning("cannot ask the server which model it uses: %s", exc)
            return None
        model = _json(response).get("model")
        return model if isinstance(model, str) else None

    def fetch_gallery(self, since: str | None) -> dict[str, object] | None:
        """The server's gallery copy (mode local), or None if unchanged since ``since``;
        raises ``GalleryUnavailable`` when it cannot be had."""
        params = {"since": since} if since else None
        request = self._client.build_request(
            "GET", GALLERY_PATH, params=params, headers=self._health_headers()
        )
        try:
            response = self._client.send(request)
        except httpx.TransportError as exc:
            raise GalleryUnavailable(f"{type(exc).__name__}: {exc}") from exc
        if response.status_code == 304:
            return None
        if not response.is_success:
            detail = _json(response).get("detail", response.reason_phrase)
            raise GalleryUnavailable(f"HTTP {response.status_code}: {detail}")
        body = _json(response)
        if not body:
            raise GalleryUnavailable("the gallery answer is not a JSON object")
        return body

    def close(self) -> None:
        self._client.close()

    def _health_headers(self) -> dict[str, str]:
        depth = self._outbox_depth() if self._outbox_depth is not None else 0
        return {OUTBOX_DEPTH_HEADER: str(depth)}

    def _request(self, item: OutboxItem) -> httpx.Request:
        data = {
            "camera_id": item.camera_id,
            "captured_at": item.captured_at.isoformat(),
            "idempotency_key": item.idempotency_key,
            "edge_id": self.edge_id,
            **({"track_id": item.track_id} if item.track_id else {}),
            **item.form_fields(),
        }
        if item.kind is ItemKind.CROP:
            files = {"image": ("face", item.payload, item.media_type)}
            return self._client.build_request(
                "POST", DETECTIONS_PATH, data=data, files=files, headers=self._health_headers()
            )
        data["dtype"] = dtype_of_media_type(item.media_type)
        files = {"embedding": ("embedding", item.payload, item.media_type)}
        if item.thumbnail:
            files["thumbnail"] = ("thumbnail", item.thumbnail, image_media_type(item.thumbnail))
        return self._client.build_request(
            "POST", EMBEDDINGS_PATH, data=data, files=files, headers=self._health_headers()
        )

    def _batch_request(self, items: Sequence[OutboxItem]) -> httpx.Request:
        """One multipart request: a JSON manifest, crops and thumbnails, one vector table."""
        entries: list[BatchItem] = []
        files: list[tuple[str, tuple[str, bytes, str]]] = []
        vectors: list[bytes] = []
        for item in items:
            if item.kind is ItemKind.CROP:
                entries.append(self._manifest_entry(item, image=len(files)))
                files.append(("files", ("f", item.payload, item.media_type)))
                continue
            thumbnail = None
            if item.thumbnail:
                thumbnail = len(files)
                files.append(("files", ("t", item.thumbnail, image_media_type(item.thumbnail))))
            entries.append(self._manifest_entry(item, vector=len(vectors), thumbnail=thumbnail))
            vectors.append(item.payload)
        encoding: Literal["raw", "gzip"] = "raw"
        if vectors and self.gzip_vectors:
            # int8 values of unit vectors sit near zero (EdgeFace's: within +-27, spread 5.6):
            # gzip's Huffman codes take a 512-byte row to ~300 (benchmarks/results.md).
            table = gzip.compress(b"".join(vectors), compresslevel=9, mtime=0)
            files.append(("vectors", ("v", table, MediaType.GZIP)))
            encoding = "gzip"
        elif vectors:
            files.append(("vectors", ("v", b"".join(vectors), MediaType.OCTETS)))
        manifest = BatchManifest.model_construct(
            items=entries, dtype=_batch_dtype(items), vectors=encoding
        )
        # Entries repeat the same keys and values: gzip shrinks the manifest ~5x.
        packed = gzip.compress(manifest.to_json(), compresslevel=9, mtime=0)
        files.append(("manifest_gz", ("m", packed, MediaType.GZIP)))
        return self._client.build_request(
            "POST", BATCH_PATH, files=files, headers=self._health_headers()
        )

    def _gzipped(self, items: Sequence[OutboxItem]) -> bool:
        """Whether a batch of ``items`` went with a gzipped vector table."""
        return self.gzip_vectors and any(item.kind is ItemKind.EMBEDDING for item in items)

    def _manifest_entry(
        self,
        item: OutboxItem,
        *,
        image: int | None = None,
        vector: int | None = None,
        thumbnail: int | None = None,
    ) -> BatchItem:
        embedding = item.kind is ItemKind.EMBEDDING
        return BatchItem.of(
            item.kind,
            item.camera_id,
            item.idempotency_key,
            item.captured_at,
            edge_id=self.edge_id,
            track_id=item.track_id or None,
            box=item.box,
            model=(item.model or "") if embedding else None,
            quality=round(item.quality, 4) if embedding else 0.0,  # as in its form field
            image=image,
            vector=vector,
            thumbnail=thumbnail,
        )


def _one_dtype(items: Sequence[OutboxItem]) -> bool:
    kinds = {item.media_type for item in items if item.kind is ItemKind.EMBEDDING}
    return len(kinds) <= 1


def _batch_dtype(items: Sequence[OutboxItem]) -> VectorType:
    for item in items:
        if item.kind is ItemKind.EMBEDDING:
            return dtype_of_media_type(item.media_type)
    return "float32"


def _refused_whole(status: int) -> bool:
    return 400 <= status < 500 and status not in _RETRY_STATUSES


def _shared(items: Sequence[OutboxItem], delivery: Delivery, sent: int) -> list[Delivery]:
    """The same outcome for every item, the request's bytes shared out among them."""
    shares = _split(sent, len(items))
    return [
        replace(delivery, request_bytes=share, wire_bytes=_wire_size(share)) for share in shares
    ]


def _batch_outcomes(
    items: Sequence[OutboxItem], body: dict[str, object], sent: int
) -> list[Delivery]:
    """Each item's own outcome from the batch answer; an item the answer lacks is retried."""
    by_key = results_by_key(body)
    shares = _split(sent, len(items))
    return [
        _item_outcome(by_key.get(item.idempotency_key), share)
        for item, share in zip(items, shares, strict=True)
    ]


def _item_outcome(result: Mapping[str, object] | None, sent: int) -> Delivery:
    wire = _wire_size(sent)
    if result is None:
        return Delivery(DeliveryStatus.RETRY, "missing from the batch answer", sent, wire)
    status = int(str(result.get("status", 500)))
    if 200 <= status < 300:
        faces = face_results(result.get("detections"))
        return Delivery(
            DeliveryStatus.DELIVERED,
            "",
            sent,
            wire,
            replayed=bool(result.get("replayed", False)),
            faces=len(faces),
            results=faces,
        )
    detail = f"HTTP {status}: {result.get('detail')}"
    code = result.get("code")
    retry = _retryable(status, code)
    return Delivery(
        DeliveryStatus.RETRY if retry else DeliveryStatus.REJECTED,
        detail,
        sent,
        wire,
        code=code if isinstance(code, str) else "",
    )


def _retryable(status: int, code: object) -> bool:
    """Whether an answer with this status and error code may pass if sent again."""
    if code in _FINAL_CODES:
        return False
    return status in _RETRY_STATUSES or status >= 500


def _split(total: int, parts: int) -> list[int]:
    base, extra = divmod(total, parts)
    return [base + (1 if index < extra else 0) for index in range(parts)]


def _outcome(response: httpx.Response, sent: int) -> Delivery:
    wire = _wire_size(sent)
    status = response.status_code
    if response.is_success:
        body = _json(response)
        faces = face_results(body.get("detections"))
        return Delivery(
            DeliveryStatus.DELIVERED,
            "",
            sent,
            wire,
            replayed=bool(body.get("replayed", False)),
            faces=len(faces),
            results=faces,
        )
    body = _json(response)
    detail = f"HTTP {status}: {body.get('detail', response.reason_phrase)}"
    code = body.get("code")
    code = code if isinstance(code, str) else ""
    if _retryable(status, code):
        return Delivery(DeliveryStatus.RETRY, detail, sent, wire, code=code)
    return Delivery(DeliveryStatus.REJECTED, detail, sent, wire, code=code)


def _json(response: httpx.Response) -> dict[str, object]:
    try:
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


def _request_size(request: httpx.Request) -> int:
    """Bytes of the HTTP/1.1 request: request line, headers, blank line and body."""
    body = request.read()
    line = len(request.method) + len(request.url.raw_path) + len(b"  HTTP/1.1\r\n")
    headers = sum(len(name) + len(value) + 4 for name, value in request.headers.raw)
    return line + headers + 2 + len(body)


def _wire_size(request_bytes: int) -> int:
    segments = max(1, -(-request_bytes // _TCP_SEGMENT))
    return request_bytes + segments * _TCP_IP_HEADERS


DeliveryListener = Callable[[QueuedItem, Delivery], None]
ModelMismatchHandler = Callable[[OutboxItem, str], OutboxItem | None]
"""Given an item the server refused as of another model: what to send instead, if anything."""


class UplinkWorker:
    """A thread that empties the outbox into the uplink, backing off while delivery fails."""

    def __init__(
        self,
        outbox: Outbox,
        uplink: Uplink,
        *,
        batch_size: int = 16,
        backoff_initial: float = 0.5,
        backoff_max: float = 30.0,
        heartbeat_interval: float = 30.0,
        listener: DeliveryListener | None = None,
        on_model_mismatch: ModelMismatchHandler | None = None,
    ) -> None:
        self.outbox = outbox
        self._on_model_mismatch = on_model_mismatch
        self.uplink = uplink
        self.batch_size = batch_size
        self.backoff_initial = backoff_initial
        self.backoff_max = backoff_max
        self._listener = listener
        self.heartbeat_interval = heartbeat_interval
        self._last_contact = 0.0
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._idle = threading.Event()
        self._failures = 0
        self._thread = threading.Thread(target=self._run, name="edge-uplink", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def notify(self) -> None:
        """New items are queued: wake up (unless backing off)."""
        self._wake.set()

    def drain(self, timeout: float) -> int:
        """Wait up to ``timeout`` s for the outbox to empty; the items left."""
        self.notify()
        deadline = time.monotonic() + timeout
        while self.outbox.depth and time.monotonic() < deadline and self._thread.is_alive():
            self._stop.wait(0.05)
        return self.outbox.depth

    def stop(self) -> None:
        """Stop after the current request; queued items stay on disk for the next run."""
        self._stop.set()
        self._wake.set()
        if self._thread.is_alive():
            self._thread.join()

    @property
    def failing(self) -> bool:
        """The last attempt failed and the worker is backing off."""
        return self._failures > 0

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                delay = self._round()
            except Exception:  # the thread boundary: log, back off, go on
                logger.exception("uplink round failed")
                self._failures += 1
                delay = self._backoff()
            # While backing off, new items must not cut the wait short; only a stop does.
            event = self._stop if self._failures else self._wake
            event.wait(delay)
            self._wake.clear()

    def _round(self) -> float:
        """Send one batch; how long to wait before the next round."""
        batch = self.outbox.peek(self.batch_size)
        if not batch:
            self._beat()
            return 1.0
        self._last_contact = time.monotonic()
        deliveries = self.uplink.deliver_many([queued.item for queued in batch])
        delivered = [
            self._record(queued, delivery)
            for queued, delivery in zip(batch, deliveries, strict=True)
        ]
        return 0.0 if all(delivered) else self._backoff()

    def _record(self, queued: QueuedItem, delivery: Delivery) -> bool:
        """Act on one item's outcome; False when it failed and should be retried later."""
        if delivery.status is DeliveryStatus.REJECTED and self._resent(queued, delivery):
            return True  # queued again in another form (a crop instead of an embedding)
        if delivery.status is DeliveryStatus.RETRY:
            self.outbox.attempted(queued.id)
            self._failures += 1
            logger.warning(
                "uplink: %s (attempt %s), will retry", delivery.detail, queued.attempts + 1
            )
        elif delivery.status is DeliveryStatus.REJECTED:
            self.outbox.reject(queued.id, delivery.detail)
        else:
            self.outbox.ack(queued.id)
            self._failures = 0
        if self._listener is not None:
            self._listener(queued, delivery)
        return delivery.status is not DeliveryStatus.RETRY

    def _resent(self, queued: QueuedItem, delivery: Delivery) -> bool:
        """An embedding of a model the server does not match with goes again as a crop."""
        if delivery.code != ModelMismatch.code or self._on_model_mismatch is None:
            return False
        replacement = self._on_model_mismatch(queued.item, delivery.detail)
        if replacement is None:
            return False
        self.outbox.put(replacement)
        self.outbox.ack(queued.id)
        return True

    def _beat(self) -> None:
        """Idle: report the (now empty) outbox now and then, so /metrics shows it drained."""
        now = time.monotonic()
        if now - self._last_contact >= self.heartbeat_interval:
            self._last_contact = now
            self.uplink.heartbeat()

    def _backoff(self) -> float:
        delay = min(self.backoff_initial * 2.0 ** max(self._failures - 1, 0), self.backoff_max)
        return delay * random.uniform(0.5, 1.0)  # jitter: sites that lost a link together
