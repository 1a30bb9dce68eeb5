"""Edge ingest of embeddings: for sites where face images must not leave, the edge agent
aligns and embeds on site and sends the vector (with an optional small thumbnail).

The vector is matched against the gallery exactly as a server-made embedding would be, and
stored as a detection; replaying an idempotency key returns the first result.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated

import numpy as np
from fastapi import APIRouter, File, Form, UploadFile, status

from facewatch.errors import Conflict, InvalidInput, NotFound
from facewatch.gallery.matching import assign
from facewatch.server.deps import IngestKey, Multipart, RuntimeDep
from facewatch.server.routers.people import ERRORS
from facewatch.server.schemas import CameraId, IngestOut
from facewatch.server.services.detections import detection_out
from facewatch.server.services.runtime import Runtime
from facewatch.server.uploads import read_upload
from facewatch.store.unit_of_work import UnitOfWork
from facewatch.types import Box, Embedding, Match, MatchStatus
from facewatch.vision.image import decode_image, image_format

logger = logging.getLogger(__name__)

router = APIRouter(prefix="/api/v1/edge", tags=["edge"])

Token = Annotated[str, Form(min_length=1, max_length=128, pattern=r"^[\x21-\x7e]+$")]
_MAX_THUMBNAIL_BYTES = 256 * 1024
_MAX_THUMBNAIL_PIXELS = 1024 * 1024


@router.post(
    "/embeddings",
    status_code=status.HTTP_201_CREATED,
    response_model=IngestOut,
    responses={**ERRORS, 413: ERRORS[400], 415: ERRORS[400]},
    dependencies=[Multipart],
)
def ingest_embedding(
    embedding: Annotated[
        UploadFile, File(description="The descriptor: little-endian float32, one per dimension")
    ],
    camera_id: Annotated[CameraId, Form()],
    model: Annotated[str, Form(max_length=80, description="Model that made the embedding")],
    box: Annotated[str, Form(description="Face box in the frame: left,top,right,bottom")],
    runtime: RuntimeDep,
    _: IngestKey,
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
    if idempotency_key:
        replay = _replay(runtime, idempotency_key)
        if replay is not None:
            return replay
    vector = _vector(embedding, runtime, model)
    face = _EdgeFace(
        vector=vector,
        box=_box(box),
        quality=quality,
        thumbnail=_thumbnail(thumbnail),
        captured_at=_utc(captured_at) if captured_at else datetime.now(UTC),
    )
    match = _match(runtime, vector)
    try:
        return _store(runtime, face, match, camera_id, track_id, idempotency_key, edge_id)
    except Conflict:
        replay = _replay(runtime, idempotency_key or "")
        if replay is None:
            raise
        return replay


@dataclass(frozen=True, slots=True)
class _EdgeFace:
    """What the edge sent about one face, checked."""

    vector: Embedding
    box: Box
    quality: float
    thumbnail: bytes | None
    captured_at: datetime


def _vector(upload: UploadFile, runtime: Runtime, model: str) -> Embedding:
    if model != runtime.model_id:
        raise Conflict(
            f"embeddings of model {model!r} cannot be matched: this server uses "
            f"{runtime.model_id!r}"
        )
    dim = runtime.analyzer.embedding_dim
    data = read_upload(upload, dim * 4).data
    if len(data) != dim * 4:
        raise InvalidInput(
            f"embedding must be {dim} little-endian float32 values ({dim * 4} bytes)"
        )
    vector = np.frombuffer(data, dtype="<f4").astype(np.float32)
    if not np.all(np.isfinite(vector)):
        raise InvalidInput("embedding holds NaN or infinite values")
    return vector


def _box(text: str) -> Box:
    try:
        left, top, right, bottom = (int(part) for part in text.split(","))
    except ValueError:
        raise InvalidInput("box must be four integers: left,top,right,bottom") from None
    if right <= left or bottom <= top:
        raise InvalidInput("box must have right > left and bottom > top")
    return Box(left, top, right, bottom)


def _thumbnail(upload: UploadFile | None) -> bytes | None:
    if upload is None:
        return None
    data = read_upload(upload, _MAX_THUMBNAIL_BYTES).data
    decode_image(data, max_pixels=_MAX_THUMBNAIL_PIXELS)  # refuse a bad image now, with a 4xx
    return data


def _match(runtime: Runtime, vector: Embedding) -> Match:
    candidates = runtime.gallery.nearest_people(vector[np.newaxis, :], runtime.settings.top_k)
    return assign(candidates, runtime.thresholds)[0]


def _store(
    runtime: Runtime,
    face: _EdgeFace,
    match: Match,
    camera_id: str,
    track_id: str | None,
    idempotency_key: str | None,
    edge_id: str | None,
) -> IngestOut:
    with runtime.uow() as uow:
        _ensure_camera(uow, camera_id)
        row = uow.detections.add(
            captured_at=face.captured_at,
            camera_id=camera_id,
            person_id=match.person_id if match.status is MatchStatus.KNOWN else None,
            status=match.status,
            distance=match.distance,
            confidence=match.confidence,
            box=face.box.as_list(),
            quality=face.quality,
            candidates=match.candidates,
            embedding=face.vector,
            model=runtime.model_id,
            crop_image_id=_store_thumbnail(uow, face.thumbnail),
            track_id=track_id,
            edge_id=edge_id,
            idempotency_key=idempotency_key,
        )
        uow.commit()
        logger.info("camera %s: edge embedding stored (%s)", camera_id, match.status.value)
        return IngestOut(detections=[detection_out(row)], replayed=False)


def _store_thumbnail(uow: UnitOfWork, data: bytes | None) -> int | None:
    if data is None:
        return None
    height, width = decode_image(data, max_pixels=_MAX_THUMBNAIL_PIXELS).shape[:2]
    sha = uow.put_blob(data)
    row = uow.images.get_or_add(sha, image_format(data), int(width), int(height), len(data))
    return row.id


def _ensure_camera(uow: UnitOfWork, camera_id: str) -> None:
    """Register a camera seen for the first time under its id, as the image ingest does."""
    try:
        uow.cameras.get(camera_id)
    except NotFound:
        uow.cameras.add(camera_id, name=camera_id)


def _replay(runtime: Runtime, key: str) -> IngestOut | None:
    with runtime.uow() as uow:
        rows = uow.detections.by_idempotency_key(key)
        if not rows:
            return None
        return IngestOut(detections=[detection_out(row) for row in rows], replayed=True)


def _utc(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
