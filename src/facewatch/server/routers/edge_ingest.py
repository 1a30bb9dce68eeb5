"""Edge ingest: embeddings made on site, and batches of crops or embeddings in one request.

* ``POST /api/v1/edge/embeddings``: for sites where face images must not leave, the agent
  aligns and embeds on site and sends the vector (with an optional small thumbnail). The
  vector is matched against the gallery exactly as a server-made embedding would be.
* ``POST /api/v1/edge/batch``: many items in one request (a JSON manifest, plain or
  gzip-compressed, the crops and thumbnails as file parts, all vectors in one binary part),
  so the HTTP and multipart framing is paid once per batch instead of once per face. Each
  item is answered on its own (status, detections, replayed): one bad crop fails alone.

Both store detections like ``POST /api/v1/detections`` and honour idempotency keys: a
replayed key returns the first result with ``replayed: true``.
"""

from __future__ import annotations

import json
import logging
import zlib
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated

import numpy as np
from fastapi import APIRouter, File, Form, UploadFile, status
from pydantic import BaseModel, Field, ValidationError

from facewatch.errors import (
    Conflict,
    FacewatchError,
    InvalidInput,
    ModelMismatch,
    PayloadTooLarge,
)
from facewatch.gallery.matching import assign
from facewatch.server.deps import IngestKey, Multipart, RuntimeDep
from facewatch.server.errors import status_for
from facewatch.server.events import DetectionFacts
from facewatch.server.routers.people import ERRORS
from facewatch.server.schemas import CameraId, DetectionOut, IngestOut
from facewatch.server.services.detections import (
    IngestRequest,
    detection_out,
    ingest_many,
)
from facewatch.server.services.idempotency import check_same_request, request_fingerprint
from facewatch.server.services.models import spec_of
from facewatch.server.services.runtime import Runtime
from facewatch.server.services.unknown_ingest import assign_unknowns, respect_exclusions_of
from facewatch.server.uploads import read_upload
from facewatch.store.unit_of_work import UnitOfWork
from facewatch.types import Box, Embedding, Match, MatchStatus
from facewatch.vision.embedders.factory import MODEL_SPECS
from facewatch.vision.image import decode_image, image_format
from facewatch.wire import (
    KEY_PATTERN,
    MAX_MANIFEST_BYTES,
    BatchItem,
    BatchManifest,
    ItemKind,
    ItemOutcome,
    VectorType,
    decode_box,
    decode_vector,
    vector_width,
)

logger = logging.getLogger(__name__)

router = APIRouter(prefix="/api/v1/edge", tags=["edge"])

Token = Annotated[str, Form(min_length=1, max_length=128, pattern=KEY_PATTERN)]
_MAX_THUMBNAIL_BYTES = 256 * 1024
_MAX_THUMBNAIL_PIXELS = 1024 * 1024


@dataclass(frozen=True, slots=True)
class EdgeFace:
    """What the edge sent about one embedded face, checked."""

    vector: Embedding
    box: Box
    quality: float
    thumbnail: bytes | None
    captured_at: datetime
    camera_id: str
    track_id: str | None
    idempotency_key: str | None
    edge_id: str | None
    fingerprint: str
    """Of the request as sent (``services/idempotency``; a default capture time excluded)."""


def _edge_face(
    vector: Embedding,
    box: Box,
    quality: float,
    thumbnail: bytes | None,
    captured_at: datetime | None,
    camera_id: str,
    track_id: str | None,
    idempotency_key: str | None,
    edge_id: str | None,
) -> EdgeFace:
    """An ``EdgeFace`` with its fingerprint, taken before a missing time defaults to now."""
    fingerprint = request_fingerprint(
        "embedding",
        np.asarray(vector, dtype="<f4").tobytes(),
        box=box,
        quality=quality,
        thumbnail=thumbnail,
        captured_at=captured_at,
        camera_id=camera_id,
        track_id=track_id,
        edge_id=edge_id,
    )
    return EdgeFace(
        vector, box, quality, thumbnail, _utc(captured_at), camera_id, track_id,
        idempotency_key, edge_id, fingerprint,
    )  # fmt: skip


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
    dim = _serving_dim(runtime, model)  # a vector of another model is refused before reading
    face = _edge_face(
        vector=_vector(read_upload(embedding, dim * 4).data, runtime, model, dtype),
        box=decode_box(box),
        quality=quality,
        thumbnail=_thumbnail(read_upload(thumbnail, _MAX_THUMBNAIL_BYTES).data)
        if thumbnail is not None
        else None,
        captured_at=captured_at,
        camera_id=camera_id,
        track_id=track_id,
        idempotency_key=idempotency_key,
        edge_id=edge_id,
    )
    return ingest_edge_face(runtime, face)


def ingest_edge_face(runtime: Runtime, face: EdgeFace) -> IngestOut:
    """Match and store one embedded face; a replayed idempotency key returns the first result
    (``IdempotencyKeyReused`` if it came with other content)."""
    if face.idempotency_key:
        replay = _replay(runtime, face.idempotency_key, face.fingerprint)
        if replay is not None:
            return replay
    match = _match(runtime, face.vector)
    try:
        return _store(runtime, face, match)
    except Conflict:
        replay = _replay(runtime, face.idempotency_key or "", face.fingerprint)
        if replay is None:
            raise
        return replay


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
    table = read_upload(vectors, max(width * max_rows, 1)).data if vectors is not None else b""
    blobs = [read_upload(file, runtime.settings.max_upload_bytes).data for file in files or []]
    results = _batch_results(runtime, parsed, table, blobs)
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
    inflater = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)
    try:
        unpacked = inflater.decompress(packed, MAX_MANIFEST_BYTES)
    except zlib.error as exc:
        raise InvalidInput(f"manifest_gz is not gzip data: {exc}") from None
    if inflater.unconsumed_tail:
        raise PayloadTooLarge(f"the manifest inflates past {MAX_MANIFEST_BYTES} bytes")
    return unpacked.decode("utf-8", errors="replace")


def _manifest(text: str) -> BatchManifest:
    try:
        return BatchManifest.model_validate(json.loads(text))
    except json.JSONDecodeError as exc:
        raise InvalidInput(f"manifest is not JSON: {exc.msg}") from None
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"])
        raise InvalidInput(f"manifest {where}: {first['msg']}") from None


def _batch_results(
    runtime: Runtime, parsed: BatchManifest, table: bytes, blobs: list[bytes]
) -> list[BatchResult]:
    """Each item's result, in order; the crops of the batch are analysed side by side."""
    outcomes: dict[int, IngestOut | FacewatchError] = {}
    crops: dict[int, IngestRequest] = {}
    for number, item in enumerate(parsed.items):
        try:
            if item.kind is ItemKind.CROP:
                crops[number] = _crop_request(item, blobs)
            else:
                face = _batch_face(runtime, item, parsed.dtype, table, blobs)
                outcomes[number] = ingest_edge_face(runtime, face)
        except FacewatchError as exc:
            outcomes[number] = exc
    outcomes |= zip(crops, ingest_many(runtime, list(crops.values())), strict=True)
    return [_batch_result(item, outcomes[n]) for n, item in enumerate(parsed.items)]


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


def _batch_face(
    runtime: Runtime, item: BatchItem, dtype: VectorType, table: bytes, blobs: list[bytes]
) -> EdgeFace:
    if item.vector is None or item.model is None or item.box is None:
        raise InvalidInput("an embedding item needs vector, model and box")
    width = vector_width(dtype, _serving_dim(runtime, item.model))
    row = table[item.vector * width : (item.vector + 1) * width]
    thumbnail = None if item.thumbnail is None else _part(blobs, item.thumbnail, "thumbnail")
    return _edge_face(
        vector=_vector(row, runtime, item.model, dtype),
        box=decode_box(item.box),
        quality=item.quality,
        thumbnail=None if thumbnail is None else _thumbnail(thumbnail),
        captured_at=item.captured_at,
        camera_id=item.camera_id,
        track_id=item.track_id,
        idempotency_key=item.idempotency_key,
        edge_id=item.edge_id,
    )


def _part(blobs: list[bytes], index: int | None, what: str) -> bytes:
    if index is None or index >= len(blobs):
        raise InvalidInput(f"{what} index {index} names no file of the batch")
    return blobs[index]


# --- shared checks ------------------------------------------------------------------------
def _serving_dim(runtime: Runtime, model: str) -> int:
    """The serving model's dimension; ``ModelMismatch`` for a vector of another model."""
    serving = runtime.serving_model
    if model != serving:
        raise ModelMismatch(
            f"embeddings of model {model!r} cannot be matched: this server matches with "
            f"{serving!r}; embed with that model or send crops",
            serving_model=serving,
        )
    return spec_of(serving).dim


def _vector(data: bytes, runtime: Runtime, model: str, dtype: VectorType) -> Embedding:
    return decode_vector(data, _serving_dim(runtime, model), dtype)


def _thumbnail(data: bytes) -> bytes:
    if len(data) > _MAX_THUMBNAIL_BYTES:
        raise InvalidInput(f"a thumbnail must be at most {_MAX_THUMBNAIL_BYTES} bytes")
    decode_image(data, max_pixels=_MAX_THUMBNAIL_PIXELS)  # refuse a bad image now, with a 4xx
    return data


def _match(runtime: Runtime, vector: Embedding) -> Match:
    serving = runtime.serving()
    if serving.gallery.dim != vector.shape[0]:  # the model switched since the check
        raise ModelMismatch(
            f"the server now matches with {serving.model_id!r}; embed with that model",
            serving_model=serving.model_id,
        )
    candidates = serving.gallery.nearest_people(vector[np.newaxis, :], runtime.settings.top_k)
    return assign(candidates, serving.thresholds)[0]


def _store(runtime: Runtime, face: EdgeFace, match: Match) -> IngestOut:
    with runtime.uow() as uow:
        uow.cameras.ensure(face.camera_id)  # registered on its first sighting
        [match] = respect_exclusions_of(runtime, uow, [face.vector], [match])  # "not X" rules
        row = uow.detections.add(
            captured_at=face.captured_at,
            camera_id=face.camera_id,
            person_id=match.person_id if match.status is MatchStatus.KNOWN else None,
            status=match.status,
            distance=match.distance,
            confidence=match.confidence,
            box=face.box.as_list(),
            quality=face.quality,
            candidates=match.candidates,
            embedding=face.vector,
            model=runtime.serving_model,
            crop_image_id=_store_thumbnail(uow, face.thumbnail),
            track_id=face.track_id,
            edge_id=face.edge_id,
            idempotency_key=face.idempotency_key,
            request_sha256=face.fingerprint if face.idempotency_key else None,
        )
        assign_unknowns(runtime, uow, [row])  # a stranger joins their unknown identity
        uow.commit()
        runtime.events.publish([DetectionFacts.of(row)])  # queues only; never slows ingest
        logger.info("camera %s: edge embedding stored (%s)", face.camera_id, match.status.value)
        return IngestOut(detections=[detection_out(row)], replayed=False)


def _store_thumbnail(uow: UnitOfWork, data: bytes | None) -> int | None:
    if data is None:
        return None
    height, width = decode_image(data, max_pixels=_MAX_THUMBNAIL_PIXELS).shape[:2]
    sha = uow.put_blob(data)
    row = uow.images.get_or_add(sha, image_format(data), int(width), int(height), len(data))
    return row.id


def _replay(runtime: Runtime, key: str, fingerprint: str) -> IngestOut | None:
    with runtime.uow() as uow:
        rows = uow.detections.by_idempotency_key(key)
        if not rows:
            return None
        check_same_request(key, rows, fingerprint)
        return IngestOut(detections=[detection_out(row) for row in rows], replayed=True)


def _utc(moment: datetime | None) -> datetime:
    """Now if absent; a naive time is taken as UTC."""
    if moment is None:
        return datetime.now(UTC)
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
