"""Edge ingest: embeddings made on site, and batches of crops or embeddings in one request.

* ``POST /api/v1/edge/embeddings``: for sites where face images must not leave, the agent
  aligns and embeds on site and sends the vector (with an optional small thumbnail). The
  vector is matched against the gallery exactly as a server-made embedding would be.
* ``POST /api/v1/edge/batch``: many items in one request (a JSON manifest, plain or
  gzip-compressed, the crops and thumbnails as file parts, all vectors in one binary part),
  so the HTTP and multipart framing is paid once per batch instead of once per face. Each
  item is answered on its own (status, detections, replayed): one bad crop fails alone.

Both only parse (the manifest and items are ``facewatch.wire``'s, the agent's own types) and
answer: the one ingest service (``services/ingest.py``) replays, recognises and stores, as
for ``POST /api/v1/detections``. A replayed idempotency key returns the first result with
``replayed: true``.
"""

from __future__ import annotations

import json
import logging
import zlib
from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, File, Form, UploadFile, status
from pydantic import BaseModel, Field, ValidationError

from facewatch.errors import FacewatchError, InvalidInput, PayloadTooLarge
from facewatch.server.deps import IngestKey, Multipart, RuntimeDep
from facewatch.server.errors import status_for
from facewatch.server.infra.runtime import Runtime
from facewatch.server.routers.people import ERRORS
from facewatch.server.schemas import CameraId, DetectionOut, IngestOut
from facewatch.server.services.ingest import (
    MAX_THUMBNAIL_BYTES,
    EmbeddingRequest,
    IngestRequest,
    embedding_dim,
    ingest,
    ingest_many,
)
from facewatch.server.uploads import read_upload
from facewatch.vision.embedders.factory import MODEL_SPECS
from facewatch.wire import (
    KEY_PATTERN,
    MAX_MANIFEST_BYTES,
    BatchItem,
    BatchManifest,
    ItemKind,
    ItemOutcome,
    VectorType,
    decode_box,
    vector_width,
)

logger = logging.getLogger(__name__)

router = APIRouter(prefix="/api/v1/edge", tags=["edge"])

Token = Annotated[str, Form(min_length=1, max_length=128, pattern=KEY_PATTERN)]


# --- one embedding ------------------------------------------------------------------------
@router.post(
    "/embeddings",
    status_code=status.HTTP_201_CREATED,
    response_model=IngestOut,
    responses={**ERRORS, 413: ERRORS[400], 415: ERRORS[400]},
    dependencies=[Multipart],
)
def ingest_embedding(
    embedding: Annotated[
        UploadFile, File(description="The descriptor, little-endian, one value per dimension")
    ],
    camera_id: Annotated[CameraId, Form()],
    model: Annotated[str, Form(max_length=80, description="Model that made the embedding")],
    box: Annotated[str, Form(description="Face box in the frame: left,top,right,bottom")],
    runtime: RuntimeDep,
    _: IngestKey,
    dtype: Annotated[
        VectorType, Form(description="float32 (default), float16, or int8 (unit vector x 127)")
    ] = "float32",
    quality: Annotated[float, Form(ge=0, le=1)] = 0.0,
    captured_at: Annotated[
        datetime | None, Form(description="ISO 8601; without a zone, UTC. Default: now")
    ] = None,
    track_id: Annotated[str | None, Form(max_length=128)] = None,
    idempotency_key: Annotated[
        Token | None, Form(description="Replaying a key returns the first result")
    ] = None,
    edge_id: Annotated[str | None, Form(max_length=128)] = None,
    thumbnail: Annotated[
        UploadFile | None, File(description="Optional small face image kept as the crop")
    ] = None,
) -> IngestOut:
    """Match an embedding made on the edge against the gallery and store it as a detection."""
    dim = embedding_dim(runtime, model)  # a vector of another model is refused before reading
    request = EmbeddingRequest(
        vector=read_upload(embedding, dim * 4).data,
        dtype=dtype,
        model=model,
        box=decode_box(box),
        camera_id=camera_id,
        captured_at=captured_at,
        quality=quality,
        thumbnail=None if thumbnail is None else read_upload(thumbnail, MAX_THUMBNAIL_BYTES).data,
        track_id=track_id,
        idempotency_key=idempotency_key,
        edge_id=edge_id,
    )
    return ingest(runtime, request)


# --- batches ------------------------------------------------------------------------------
class BatchResult(ItemOutcome):
    detections: list[DetectionOut] = Field(default_factory=list)


class BatchOut(BaseModel):
    results: list[BatchResult]


@router.post(
    "/batch",
    response_model=BatchOut,
    responses={**ERRORS, 413: ERRORS[400], 415: ERRORS[400]},
    dependencies=[Multipart],
)
def ingest_batch(
    runtime: RuntimeDep,
    _: IngestKey,
    manifest: Annotated[str | None, Form(description="JSON: {items: [...], dtype}")] = None,
    manifest_gz: Annotated[
        UploadFile | None, File(description="The same JSON, gzip-compressed (instead)")
    ] = None,
    files: Annotated[
        list[UploadFile] | None, File(description="Crops and thumbnails, by index")
    ] = None,
    vectors: Annotated[
        UploadFile | None, File(description="Every embedding of the batch, row after row")
    ] = None,
) -> BatchOut:
    """Ingest many crops and embeddings at once; each item gets its own status."""
    parsed = _manifest(_manifest_text(manifest, manifest_gz))
    # Rows of any known model may come (an agent not yet switched): each is refused alone.
    width = vector_width(parsed.dtype, max(spec.dim for spec in MODEL_SPECS.values()))
    max_rows = sum(item.vector is not None for item in parsed.items)
    table = b""
    if vectors is not None:
        table = _vector_table(vectors, max(width * max_rows, 1), parsed.vectors == "gzip")
    blobs = [read_upload(file, runtime.settings.max_upload_bytes).data for file in files or []]
    requests = [_request(runtime, item, parsed.dtype, table, blobs) for item in parsed.items]
    outcomes = ingest_many(runtime, requests)
    results = [_batch_result(item, out) for item, out in zip(parsed.items, outcomes, strict=True)]
    logger.info(
        "edge batch: %s items, %s stored", len(results), sum(r.status < 300 for r in results)
    )
    return BatchOut(results=results)


def _manifest_text(text: str | None, compressed: UploadFile | None) -> str:
    """The manifest, from the text field or the gzip part (exactly one of them)."""
    if (text is None) == (compressed is None):
        raise InvalidInput("send the manifest once: as 'manifest' or as 'manifest_gz'")
    if text is not None:
        return text
    assert compressed is not None
    packed = read_upload(compressed, MAX_MANIFEST_BYTES).data
    return _gunzip(packed, MAX_MANIFEST_BYTES, "manifest_gz").decode("utf-8", errors="replace")


def _vector_table(part: UploadFile, max_bytes: int, gzipped: bool) -> bytes:
    """The batch's vector rows: as sent, or gunzipped when the manifest says so (agents of
    this version send them so; earlier ones sent the rows as they are)."""
    if not gzipped:
        return read_upload(part, max_bytes).data
    # Deflate grows what it cannot shrink by a few bytes a block, the gzip frame by 18.
    packed = read_upload(part, max_bytes + max_bytes // 100 + 64).data
    return _gunzip(packed, max_bytes, "vectors")


def _gunzip(packed: bytes, max_bytes: int, name: str) -> bytes:
    """``packed`` inflated, refusing what is no gzip or inflates past ``max_bytes``."""
    inflater = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)
    try:
        unpacked = inflater.decompress(packed, max_bytes)
    except zlib.error as exc:
        raise InvalidInput(f"{name} is not gzip data: {exc}") from None
    if inflater.unconsumed_tail:
        raise PayloadTooLarge(f"{name} inflates past {max_bytes} bytes")
    if not inflater.eof:
        raise InvalidInput(f"{name} is not gzip data: the stream is cut short")
    return unpacked


def _manifest(text: str) -> BatchManifest:
    try:
        return BatchManifest.model_validate(json.loads(text))
    except json.JSONDecodeError as exc:
        raise InvalidInput(f"manifest is not JSON: {exc.msg}") from None
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"])
        raise InvalidInput(f"manifest {where}: {first['msg']}") from None


def _request(
    runtime: Runtime, item: BatchItem, dtype: VectorType, table: bytes, blobs: list[bytes]
) -> IngestRequest | EmbeddingRequest | FacewatchError:
    """What one item asks for, or why it cannot be taken (it then fails alone)."""
    try:
        if item.kind is ItemKind.CROP:
            return _crop_request(item, blobs)
        return _embedding_request(runtime, item, dtype, table, blobs)
    except FacewatchError as exc:
        return exc


def _crop_request(item: BatchItem, blobs: list[bytes]) -> IngestRequest:
    return IngestRequest(
        image=_part(blobs, item.image, "image"),
        camera_id=item.camera_id,
        # Absent stays absent: the time of arrival is taken when stored, after the
        # fingerprint (a retry of the same item must hash the same).
        captured_at=None if item.captured_at is None else _utc(item.captured_at),
        track_id=item.track_id,
        idempotency_key=item.idempotency_key,
        edge_id=item.edge_id,
        face_box=None if item.box is None else decode_box(item.box, "face box"),
    )


def _embedding_request(
    runtime: Runtime, item: BatchItem, dtype: VectorType, table: bytes, blobs: list[bytes]
) -> EmbeddingRequest:
    if item.vector is None or item.model is None or item.box is None:
        raise InvalidInput("an embedding item needs vector, model and box")
    width = vector_width(dtype, embedding_dim(runtime, item.model))
    return EmbeddingRequest(
        vector=table[item.vector * width : (item.vector + 1) * width],
        dtype=dtype,
        model=item.model,
        box=decode_box(item.box),
        camera_id=item.camera_id,
        captured_at=item.captured_at,
        quality=item.quality,
        thumbnail=None if item.thumbnail is None else _part(blobs, item.thumbnail, "thumbnail"),
        track_id=item.track_id,
        idempotency_key=item.idempotency_key,
        edge_id=item.edge_id,
    )


def _part(blobs: list[bytes], index: int | None, what: str) -> bytes:
    if index is None or index >= len(blobs):
        raise InvalidInput(f"{what} index {index} names no file of the batch")
    return blobs[index]


def _batch_result(item: BatchItem, outcome: IngestOut | FacewatchError) -> BatchResult:
    if isinstance(outcome, FacewatchError):
        return BatchResult(
            idempotency_key=item.idempotency_key,
            status=status_for(outcome),
            detail=outcome.message,
            code=outcome.code,
        )
    return BatchResult(
        idempotency_key=item.idempotency_key,
        status=201,
        detections=outcome.detections,
        replayed=outcome.replayed,
    )


def _utc(moment: datetime) -> datetime:
    """A naive time is taken as UTC."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
