"""Ingest: recognise the faces of a crop or frame from a camera, and remember each one."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime

from facewatch.errors import Conflict, FacewatchError, NotFound
from facewatch.server.events.types import DetectionFacts
from facewatch.server.schemas import DetectionOut, IngestOut, Page
from facewatch.server.services.idempotency import check_same_request, request_fingerprint
from facewatch.server.services.recognition import RecognizedFace, match_faces, recognize
from facewatch.server.services.runtime import Runtime
from facewatch.server.services.unknown_ingest import assign_unknowns, respect_exclusions
from facewatch.server.services.workers import analyze_all
from facewatch.store.models import Camera, Detection
from facewatch.store.unit_of_work import UnitOfWork
from facewatch.types import Box, MatchStatus, RGBImage
from facewatch.vision.exif import PhotoMetadata, read_metadata, time_zone
from facewatch.vision.image import crop_face, decode_image, encode_jpeg

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class IngestRequest:
    """What an edge agent (or any client) sends with one image."""

    image: bytes
    camera_id: str
    captured_at: datetime | None
    """``None``: the time it was received (or the photo's EXIF time, see ``exif_time``)."""
    track_id: str | None = None
    idempotency_key: str | None = None
    edge_id: str | None = None
    face_box: Box | None = None
    """Where the client found the face in ``image``: a hint the analysis checks."""
    exif_time: bool = False
    """Without ``captured_at``, take the photo's EXIF time: for imports of old photos only
    (a live camera's frame may carry a wrong or stale EXIF clock)."""

    def fingerprint(self) -> str:
        """What this request is, for its idempotency key (``services/idempotency``)."""
        return request_fingerprint(
            "image",
            self.image,
            camera_id=self.camera_id,
            captured_at=self.captured_at,
            track_id=self.track_id,
            edge_id=self.edge_id,
            face_box=self.face_box,
        )


def ingest(runtime: Runtime, request: IngestRequest) -> IngestOut:
    """Recognise and store every face; a replayed idempotency key returns the first result
    (``IdempotencyKeyReused`` if it came with other content)."""
    if request.idempotency_key:
        replay = _replay(runtime, request.idempotency_key, request.fingerprint())
        if replay is not None:
            return replay
    image = decode_image(request.image, max_pixels=runtime.settings.max_image_pixels)
    settings = runtime.settings
    faces = recognize(
        image, runtime.analyzer, runtime.gallery, runtime.thresholds, settings.top_k,
        request.face_box,
    )  # fmt: skip
    return _finish(runtime, request, image, faces)


def ingest_many(
    runtime: Runtime, requests: Sequence[IngestRequest]
) -> list[IngestOut | FacewatchError]:
    """``ingest`` for many images at once (an edge batch), each answered on its own.

    The images are analysed side by side (with analysis workers, every worker takes a share
    and their faces are embedded in shared batches), then stored together in one
    transaction. If that transaction fails (a key another request stored meanwhile, a
    database error), each image is stored again in a transaction of its own: one bad image
    fails alone.
    """
    results: list[IngestOut | FacewatchError | None] = [None] * len(requests)
    pending: list[tuple[int, IngestRequest, RGBImage]] = []
    replays = _replays(runtime, requests)
    for number, request in enumerate(requests):
        try:
            replay = replays.get(number)
            if replay is not None:
                results[number] = replay
                continue
            image = decode_image(request.image, max_pixels=runtime.settings.max_image_pixels)
        except FacewatchError as exc:
            results[number] = exc
            continue
        pending.append((number, request, image))
    found = analyze_all(
        runtime.analyzer,
        [image for _, _, image in pending],
        [request.face_box for _, request, _ in pending],
    )
    ready: list[tuple[int, _Ready]] = []
    for (number, request, image), faces in zip(pending, found, strict=True):
        try:
            if isinstance(faces, FacewatchError):
                raise faces
            settings, gallery = runtime.settings, runtime.gallery
            matched = match_faces(faces, gallery, runtime.thresholds, settings.top_k)
            ready.append((number, _prepare(runtime, request, image, matched)))
        except FacewatchError as exc:
            results[number] = exc
    together = _store_together(runtime, [item for _, item in ready])
    for position, (number, item) in enumerate(ready):
        try:
            results[number] = together[position] if together else _store_alone(runtime, item)
        except FacewatchError as exc:
            results[number] = exc
    return [result for result in results if result is not None]


@dataclass(frozen=True, slots=True)
class _Ready:
    """One image recognised and about to be stored."""

    request: IngestRequest
    """With its capture time settled."""
    image: RGBImage
    faces: list[RecognizedFace]
    metadata: PhotoMetadata
    fingerprint: str
    """Of the request as the client sent it (before its capture time was settled)."""


def _prepare(
    runtime: Runtime, request: IngestRequest, image: RGBImage, faces: list[RecognizedFace]
) -> _Ready:
    metadata = read_metadata(request.image, time_zone(runtime.settings.exif_timezone))
    # One time for every face of the frame: faces sharing it were seen together.
    exif_time = metadata.taken_at if request.exif_time else None
    captured_at = request.captured_at or exif_time or datetime.now(UTC)
    return _Ready(
        replace(request, captured_at=captured_at), image, faces, metadata, request.fingerprint()
    )


def _store_together(runtime: Runtime, items: list[_Ready]) -> list[IngestOut] | None:
    """Store every image in one transaction; None if it failed (nothing is then stored)."""
    if len(items) < 2:
        return None
    try:
        with runtime.uow() as uow:
            stored = [_store_rows(runtime, uow, item) for item in items]
            uow.commit()
            outs = [_stored_out(rows) for rows in stored]
    except Exception as exc:  # each is stored again alone, and fails alone if it must
        # Not the exception's text: a database error's carries its parameters (embeddings).
        reason = exc.message if isinstance(exc, FacewatchError) else type(exc).__name__
        logger.info("edge batch of %s images stored one by one (%s)", len(items), reason)
        return None
    for rows in stored:
        runtime.events.publish([DetectionFacts.of(row) for row in rows])
    return outs


def _store_alone(runtime: Runtime, item: _Ready) -> IngestOut:
    """Store one image (or answer as a same-key winner did)."""
    try:
        return _store(runtime, item)
    except Conflict:
        # Another request with the same key won the race: answer as it did.
        replay = _replay(runtime, item.request.idempotency_key or "", item.fingerprint)
        if replay is None:
            raise
        return replay


def _finish(
    runtime: Runtime, request: IngestRequest, image: RGBImage, faces: list[RecognizedFace]
) -> IngestOut:
    """Store the recognised faces of one image (or answer as a same-key winner did)."""
    return _store_alone(runtime, _prepare(runtime, request, image, faces))


def _replays(
    runtime: Runtime, requests: Sequence[IngestRequest]
) -> dict[int, IngestOut | FacewatchError]:
    """By position, the answers of the requests whose keys were seen before (the first
    answer, or ``IdempotencyKeyReused``), read in one query."""
    keys = [r.idempotency_key for r in requests if r.idempotency_key]
    if not keys:
        return {}
    answers: dict[int, IngestOut | FacewatchError] = {}
    with runtime.uow() as uow:
        found = uow.detections.by_idempotency_keys(keys)
        for number, request in enumerate(requests):
            rows = found.get(request.idempotency_key or "")
            if rows:
                try:
                    answers[number] = _replayed(request.idempotency_key or "", rows, request)
                except FacewatchError as exc:
                    answers[number] = exc
    return answers


def _replayed(key: str, rows: list[Detection], request: IngestRequest) -> IngestOut:
    check_same_request(key, rows, request.fingerprint())
    return IngestOut(detections=[detection_out(row) for row in rows], replayed=True)


def _replay(runtime: Runtime, key: str, fingerprint: str) -> IngestOut | None:
    """The first answer stored under ``key``, if any; ``IdempotencyKeyReused`` if it was
    stored for another request than the one with ``fingerprint``."""
    with runtime.uow() as uow:
        rows = uow.detections.by_idempotency_key(key)
        if not rows:
            return None
        check_same_request(key, rows, fingerprint)
        return IngestOut(detections=[detection_out(row) for row in rows], replayed=True)


def _store(runtime: Runtime, item: _Ready) -> IngestOut:
    with runtime.uow() as uow:
        rows = _store_rows(runtime, uow, item)
        uow.commit()
        # Only now are the rows real; publishing only queues, so it never slows ingest.
        runtime.events.publish([DetectionFacts.of(row) for row in rows])
        return _stored_out(rows)


def _store_rows(runtime: Runtime, uow: UnitOfWork, item: _Ready) -> list[Detection]:
    """Add one image's detections (its crops, its strangers' identities) to ``uow``."""
    request = item.request
    # Held for the whole unit (the session keeps only rows something refers to): each
    # detection then finds its camera in the session, with no query.
    camera = uow.cameras.ensure(request.camera_id)
    faces = respect_exclusions(runtime, uow, item.faces)
    rows = [
        _store_face(uow, runtime.model_id, item, camera, index, face)
        for index, face in enumerate(faces)
    ]
    assign_unknowns(runtime, uow, rows)
    # DEBUG: at INFO this line alone took 4% of the server's CPU under a stream of crops
    # (the access log and the edge batch summary already say what arrived).
    logger.debug(
        "camera %s: %s faces stored (%s known)",
        request.camera_id,
        len(rows),
        sum(r.status == MatchStatus.KNOWN for r in rows),
    )
    return rows


def _stored_out(rows: list[Detection]) -> IngestOut:
    return IngestOut(detections=[detection_out(row) for row in rows], replayed=False)


def _store_face(
    uow: UnitOfWork,
    model_id: str,
    item: _Ready,
    camera: Camera,
    index: int,
    recognized: RecognizedFace,
) -> Detection:
    request, metadata = item.request, item.metadata
    face, match = recognized.face, recognized.match
    crop = crop_face(item.image, face.box)
    jpeg = encode_jpeg(crop)
    sha = uow.put_blob(jpeg)
    crop_row = uow.images.get_or_add(
        sha, "image/jpeg", int(crop.shape[1]), int(crop.shape[0]), len(jpeg)
    )
    return uow.detections.add(
        captured_at=request.captured_at or datetime.now(UTC),
        camera_id=camera.id,
        person_id=match.person_id if match.status is MatchStatus.KNOWN else None,
        status=match.status,
        distance=match.distance,
        confidence=match.confidence,
        box=face.box.as_list(),
        landmarks=face.landmarks,
        quality=face.quality.score,
        candidates=match.candidates,
        embedding=face.embedding,
        model=model_id,
        crop_image_id=crop_row.id,
        track_id=request.track_id,
        edge_id=request.edge_id,
        idempotency_key=request.idempotency_key,
        face_index=index,
        request_sha256=item.fingerprint if request.idempotency_key else None,
        latitude=metadata.latitude,
        longitude=metadata.longitude,
    )


def detection_out(row: Detection) -> DetectionOut:
    """The wire form of a stored detection."""
    return DetectionOut(
        id=row.id,
        captured_at=row.captured_at,
        received_at=row.received_at,
        camera_id=row.camera_id,
        person_id=row.person_id,
        name=row.person.name if row.person is not None else None,
        status=MatchStatus(row.status),
        distance=row.distance,
        confidence=row.confidence,
        quality=row.quality,
        box=row.box,
        track_id=row.track_id,
        edge_id=row.edge_id,
        crop_sha256=row.crop_image.sha256 if row.crop_image is not None else None,
        unknown_id=row.unknown_id,
        latitude=row.latitude,
        longitude=row.longitude,
    )


@dataclass(frozen=True, slots=True)
class DetectionQuery:
    """Filters of the detections list."""

    person_id: int | None = None
    camera_id: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    unknown_only: bool = False
    offset: int = 0
    limit: int = 50


def query_detections(runtime: Runtime, query: DetectionQuery) -> Page[DetectionOut]:
    """Stored detections matching the filters, newest first."""
    with runtime.uow() as uow:
        rows, total = uow.detections.query(
            person_id=query.person_id,
            camera_id=query.camera_id,
            since=query.since,
            until=query.until,
            unknown_only=query.unknown_only,
            offset=query.offset,
            limit=query.limit,
        )
        return Page[DetectionOut](
            items=[detection_out(r) for r in rows],
            total=total,
            offset=query.offset,
            limit=query.limit,
        )


@dataclass(frozen=True, slots=True)
class Crop:
    """The face crop of a detection: its bytes and content type."""

    data: bytes
    content_type: str


def detection_crop(runtime: Runtime, detection_id: int) -> Crop:
    """The stored face crop of a detection; ``NotFound`` if it has none."""
    with runtime.uow() as uow:
        detection = uow.detections.get(detection_id)
        image = detection.crop_image
        if image is None:
            raise NotFound(f"detection {detection_id} has no face crop")
        return Crop(runtime.blobs.get(image.sha256), image.content_type)
