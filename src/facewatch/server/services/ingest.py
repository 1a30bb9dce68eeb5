"""One ingest path: every crop, frame, embedding and batch is recognised and stored here.

    replay      a key seen before gets its first answer (``services/idempotency``), all the
                keys of a batch read in one query
    recognise   images: decoded, analysed side by side (by the analysis workers), matched;
                embeddings: their model checked, matched in one search
    store       one transaction for a batch: each camera registered on its first sighting,
                the "not X" rules, the detections and their crops, strangers' identities;
                if it fails, each item again in its own (one bad item fails alone)
    publish     after commit, the stored detections go to the event bus (it only queues)

Routers parse a request into an ``IngestRequest`` (an image) or an ``EmbeddingRequest`` and
answer with what comes back; nothing else commits a detection.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

import numpy as np

from facewatch.errors import Conflict, FacewatchError, InvalidInput, ModelMismatch
from facewatch.gallery.matching import assign
from facewatch.server.events.types import DetectionFacts
from facewatch.server.infra.runtime import Runtime, Serving
from facewatch.server.infra.workers import analyze_all
from facewatch.server.schemas import IngestOut
from facewatch.server.services.detections import detection_out
from facewatch.server.services.idempotency import check_same_request, request_fingerprint
from facewatch.server.services.models import spec_of
from facewatch.server.services.recognition import match_faces
from facewatch.server.services.unknown_ingest import assign_unknowns, respect_exclusions_of
from facewatch.store.models import Detection
from facewatch.store.unit_of_work import UnitOfWork
from facewatch.types import Box, Embedding, Landmarks, Match, MatchStatus, RGBImage
from facewatch.vision.exif import read_metadata, time_zone
from facewatch.vision.image import crop_face, decode_image, encode_jpeg, image_format
from facewatch.wire import VectorType, decode_vector

logger = logging.getLogger(__name__)

MAX_THUMBNAIL_BYTES = 256 * 1024
"""Of the small face image an agent may send beside an embedding (kept as its crop)."""
_MAX_THUMBNAIL_PIXELS = 1024 * 1024


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


@dataclass(frozen=True, slots=True)
class EmbeddingRequest:
    """What an edge agent sends with one face it embedded on site (the vector as sent)."""

    vector: bytes
    dtype: VectorType
    model: str
    box: Box
    """The face box in the camera frame."""
    camera_id: str
    captured_at: datetime | None
    """``None``: the time it was received."""
    quality: float = 0.0
    thumbnail: bytes | None = None
    """A small face image, kept as the detection's crop."""
    track_id: str | None = None
    idempotency_key: str | None = None
    edge_id: str | None = None


Request = IngestRequest | EmbeddingRequest
Outcome = IngestOut | FacewatchError


# --- entry points ---------------------------------------------------------------------------
def ingest(runtime: Runtime, request: Request) -> IngestOut:
    """Recognise and store one image's faces (or one embedded face); a replayed idempotency
    key returns the first result (``IdempotencyKeyReused`` if it came with other content)."""
    [outcome] = ingest_many(runtime, [request])
    if isinstance(outcome, FacewatchError):
        raise outcome
    return outcome


def ingest_many(runtime: Runtime, requests: Sequence[Request | FacewatchError]) -> list[Outcome]:
    """``ingest`` for many items at once (an edge batch), each answered on its own, in order
    (an item given as an error, one its router could not parse, is answered with it).

    The images are analysed side by side (with analysis workers, every worker takes a share
    and their faces are embedded in shared batches) and the embeddings matched in one
    search; then everything is stored in one transaction. If that fails (a key another
    request stored meanwhile, a database error), each item is stored again alone.
    """
    outcomes: dict[int, Outcome] = {}
    checked: dict[int, _Checked] = {}
    for number, request in enumerate(requests):
        if isinstance(request, FacewatchError):
            outcomes[number] = request
            continue
        try:
            checked[number] = _check(runtime, request)
        except FacewatchError as exc:
            outcomes[number] = exc
    outcomes |= _replays(runtime, checked)
    waiting = {n: item for n, item in checked.items() if n not in outcomes}
    serving = runtime.serving()  # one model's analyzer and gallery, even across a switch
    sightings, failed = _recognise(runtime, serving, waiting)
    outcomes |= failed
    outcomes |= _store_all(runtime, sightings)
    return [outcomes[number] for number in range(len(requests))]


def embedding_dim(runtime: Runtime, model: str) -> int:
    """The serving model's dimension; ``ModelMismatch`` for a vector of another model."""
    serving = runtime.serving_model
    if model != serving:
        raise ModelMismatch(
            f"embeddings of model {model!r} cannot be matched: this server matches with "
            f"{serving!r}; embed with that model or send crops",
            serving_model=serving,
        )
    return spec_of(serving).dim


# --- checking and replaying -------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class _Image:
    """An encoded face image to keep as a detection's crop."""

    data: bytes
    media_type: str
    width: int
    height: int


@dataclass(frozen=True, slots=True)
class _Checked:
    """A request that passed the checks made before its key is looked up."""

    request: Request
    fingerprint: str
    """Of the request as the client sent it (before its capture time was settled)."""
    vector: Embedding | None = None
    thumbnail: _Image | None = None


def _check(runtime: Runtime, request: Request) -> _Checked:
    if isinstance(request, IngestRequest):
        return _Checked(request, request.fingerprint())
    vector = decode_vector(request.vector, embedding_dim(runtime, request.model), request.dtype)
    thumbnail = None if request.thumbnail is None else _thumbnail(request.thumbnail)
    fingerprint = request_fingerprint(
        "embedding",
        np.asarray(vector, dtype="<f4").tobytes(),
        box=request.box,
        quality=request.quality,
        thumbnail=request.thumbnail,
        captured_at=request.captured_at,
        camera_id=request.camera_id,
        track_id=request.track_id,
        edge_id=request.edge_id,
    )
    return _Checked(request, fingerprint, vector, thumbnail)


def _thumbnail(data: bytes) -> _Image:
    """A thumbnail, decoded once: a bad image is refused now, with a 4xx."""
    if len(data) > MAX_THUMBNAIL_BYTES:
        raise InvalidInput(f"a thumbnail must be at most {MAX_THUMBNAIL_BYTES} bytes")
    height, width = decode_image(data, max_pixels=_MAX_THUMBNAIL_PIXELS).shape[:2]
    return _Image(data, image_format(data), int(width), int(height))


def _replays(runtime: Runtime, checked: dict[int, _Checked]) -> dict[int, Outcome]:
    """By position, the answers of the items whose keys were seen before (the first answer,
    or ``IdempotencyKeyReused``), read in one query."""
    keyed = {n: item for n, item in checked.items() if item.request.idempotency_key}
    if not keyed:
        return {}
    answers: dict[int, Outcome] = {}
    with runtime.uow() as uow:
        found = uow.detections.by_idempotency_keys(
            [item.request.idempotency_key or "" for item in keyed.values()]
        )
        for number, item in keyed.items():
            key = item.request.idempotency_key or ""
            rows = found.get(key)
            if rows:
                try:
                    answers[number] = _replayed(key, rows, item.fingerprint)
                except FacewatchError as exc:
                    answers[number] = exc
    return answers


def _replay(runtime: Runtime, key: str, fingerprint: str) -> IngestOut | None:
    """The first answer stored under ``key``, if any (``IdempotencyKeyReused`` if it was
    stored for another request than the one with ``fingerprint``)."""
    with runtime.uow() as uow:
        rows = uow.detections.by_idempotency_key(key)
        return _replayed(key, rows, fingerprint) if rows else None


def _replayed(key: str, rows: Sequence[Detection], fingerprint: str) -> IngestOut:
    check_same_request(key, rows, fingerprint)
    return IngestOut(detections=[detection_out(row) for row in rows], replayed=True)


# --- recognising ------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class _Face:
    """One face about to be stored: where it is, what it looks like, the verdict on it."""

    match: Match
    box: Box
    quality: float
    embedding: Embedding | None
    landmarks: Landmarks | None = None
    crop: _Image | None = None


@dataclass(frozen=True, slots=True)
class _Sighting:
    """One item recognised: its faces and what the client said of them, time settled."""

    position: int
    camera_id: str
    captured_at: datetime
    track_id: str | None
    edge_id: str | None
    idempotency_key: str | None
    fingerprint: str
    model: str
    faces: list[_Face]
    latitude: float | None = None
    longitude: float | None = None


def _recognise(
    runtime: Runtime, serving: Serving, items: dict[int, _Checked]
) -> tuple[list[_Sighting], dict[int, Outcome]]:
    """The sightings of the items that could be recognised, and the errors of the others."""
    images = {n: item for n, item in items.items() if isinstance(item.request, IngestRequest)}
    vectors = {n: item for n, item in items.items() if item.vector is not None}
    sightings, failed = _recognise_images(runtime, serving, images)
    try:
        sightings += _recognise_vectors(runtime, serving, vectors)
    except FacewatchError as exc:  # the model switched since the check: all of them
        failed |= dict.fromkeys(vectors, exc)
    sightings.sort(key=lambda sighting: sighting.position)
    return sightings, failed


def _recognise_images(
    runtime: Runtime, serving: Serving, items: dict[int, _Checked]
) -> tuple[list[_Sighting], dict[int, Outcome]]:
    failed: dict[int, Outcome] = {}
    decoded: list[tuple[int, IngestRequest, _Checked, RGBImage]] = []
    for number, item in items.items():
        assert isinstance(item.request, IngestRequest)
        try:
            image = decode_image(item.request.image, max_pixels=runtime.settings.max_image_pixels)
        except FacewatchError as exc:
            failed[number] = exc
            continue
        decoded.append((number, item.request, item, image))
    found = analyze_all(
        serving.analyzer,
        [image for *_, image in decoded],
        [request.face_box for _, request, _, _ in decoded],
    )
    sightings: list[_Sighting] = []
    for (number, request, item, image), faces in zip(decoded, found, strict=True):
        if isinstance(faces, FacewatchError):
            failed[number] = faces
            continue
        matched = match_faces(faces, serving.gallery, serving.thresholds, runtime.settings.top_k)
        stored = [
            _Face(
                r.match,
                r.face.box,
                r.face.quality.score,
                r.face.embedding,
                r.face.landmarks,
                _crop(image, r.face.box),
            )
            for r in matched
        ]
        sightings.append(_image_sighting(runtime, number, request, item, serving, stored))
    return sightings, failed


def _crop(image: RGBImage, box: Box) -> _Image:
    crop = crop_face(image, box)
    return _Image(encode_jpeg(crop), "image/jpeg", int(crop.shape[1]), int(crop.shape[0]))


def _image_sighting(
    runtime: Runtime,
    number: int,
    request: IngestRequest,
    item: _Checked,
    serving: Serving,
    faces: list[_Face],
) -> _Sighting:
    metadata = read_metadata(request.image, time_zone(runtime.settings.exif_timezone))
    # One time for every face of the frame: faces sharing it were seen together.
    exif_time = metadata.taken_at if request.exif_time else None
    return _Sighting(
        position=number,
        camera_id=request.camera_id,
        captured_at=request.captured_at or exif_time or datetime.now(UTC),
        track_id=request.track_id,
        edge_id=request.edge_id,
        idempotency_key=request.idempotency_key,
        fingerprint=item.fingerprint,
        model=serving.analyzer.model_id,
        faces=faces,
        latitude=metadata.latitude,
        longitude=metadata.longitude,
    )


def _recognise_vectors(
    runtime: Runtime, serving: Serving, items: dict[int, _Checked]
) -> list[_Sighting]:
    """Match every embedding in one search (each is one face: no two share a frame)."""
    if not items:
        return []
    matrix = np.stack([item.vector for item in items.values() if item.vector is not None])
    if serving.gallery.dim != matrix.shape[1]:  # the model switched since the check
        raise ModelMismatch(
            f"the server now matches with {serving.model_id!r}; embed with that model",
            serving_model=serving.model_id,
        )
    candidates = serving.gallery.nearest_people(matrix, runtime.settings.top_k)
    return [
        _vector_sighting(number, item, assign([found], serving.thresholds)[0], serving.model_id)
        for (number, item), found in zip(items.items(), candidates, strict=True)
    ]


def _vector_sighting(number: int, item: _Checked, match: Match, model: str) -> _Sighting:
    request = item.request
    assert isinstance(request, EmbeddingRequest)
    face = _Face(match, request.box, request.quality, item.vector, crop=item.thumbnail)
    return _Sighting(
        position=number,
        camera_id=request.camera_id,
        captured_at=_utc(request.captured_at),
        track_id=request.track_id,
        edge_id=request.edge_id,
        idempotency_key=request.idempotency_key,
        fingerprint=item.fingerprint,
        model=model,
        faces=[face],
    )


# --- storing and publishing -------------------------------------------------------------------
def _store_all(runtime: Runtime, sightings: list[_Sighting]) -> dict[int, Outcome]:
    """Store every sighting together if there are several, else (or if that failed) alone."""
    together = _store_together(runtime, sightings) if len(sightings) > 1 else None
    if together is not None:
        return together
    outcomes: dict[int, Outcome] = {}
    for sighting in sightings:
        try:
            outcomes[sighting.position] = _store_alone(runtime, sighting)
        except FacewatchError as exc:
            outcomes[sighting.position] = exc
    return outcomes


def _store_together(runtime: Runtime, sightings: list[_Sighting]) -> dict[int, Outcome] | None:
    """Store every sighting in one transaction; None if it failed (nothing is then stored)."""
    try:
        with runtime.uow() as uow:
            stored = [(s.position, _store_rows(runtime, uow, s)) for s in sightings]
            uow.commit()
            outs: dict[int, Outcome] = {n: _stored_out(rows) for n, rows in stored}
    except Exception as exc:  # each is stored again alone, and fails alone if it must
        # Not the exception's text: a database error's carries its parameters (embeddings).
        reason = exc.message if isinstance(exc, FacewatchError) else type(exc).__name__
        logger.info("edge batch of %s items stored one by one (%s)", len(sightings), reason)
        return None
    for _, rows in stored:
        _publish(runtime, rows)
    return outs


def _store_alone(runtime: Runtime, sighting: _Sighting) -> IngestOut:
    """Store one sighting (or answer as a request with the same key that won the race)."""
    try:
        with runtime.uow() as uow:
            rows = _store_rows(runtime, uow, sighting)
            uow.commit()
            out = _stored_out(rows)
    except Conflict:
        replay = _replay(runtime, sighting.idempotency_key or "", sighting.fingerprint)
        if replay is None:
            raise
        return replay
    _publish(runtime, rows)
    return out


def _publish(runtime: Runtime, rows: list[Detection]) -> None:
    """Only now are the rows real; publishing only queues, so it never slows ingest."""
    runtime.events.publish([DetectionFacts.of(row) for row in rows])


def _store_rows(runtime: Runtime, uow: UnitOfWork, sighting: _Sighting) -> list[Detection]:
    """Add one sighting's detections (their crops, strangers' identities) to ``uow``."""
    # Held for the whole unit (the session keeps only rows something refers to): each
    # detection then finds its camera in the session, with no query.
    camera = uow.cameras.ensure(sighting.camera_id)  # registered on its first sighting
    faces = sighting.faces
    matches = respect_exclusions_of(  # "not X" rules
        runtime, uow, [f.embedding for f in faces], [f.match for f in faces]
    )
    rows = [
        _store_face(uow, sighting, camera.id, index, face, match)
        for index, (face, match) in enumerate(zip(faces, matches, strict=True))
    ]
    assign_unknowns(runtime, uow, rows)  # a stranger joins their unknown identity
    # DEBUG: at INFO this line alone took 4% of the server's CPU under a stream of crops
    # (the access log and the edge batch summary already say what arrived).
    logger.debug(
        "camera %s: %s faces stored (%s known)",
        sighting.camera_id,
        len(rows),
        sum(r.status == MatchStatus.KNOWN for r in rows),
    )
    return rows


def _store_face(
    uow: UnitOfWork, sighting: _Sighting, camera_id: str, index: int, face: _Face, match: Match
) -> Detection:
    return uow.detections.add(
        captured_at=sighting.captured_at,
        camera_id=camera_id,
        person_id=match.person_id if match.status is MatchStatus.KNOWN else None,
        status=match.status,
        distance=match.distance,
        confidence=match.confidence,
        box=face.box.as_list(),
        landmarks=face.landmarks,
        quality=face.quality,
        candidates=match.candidates,
        embedding=face.embedding,
        model=sighting.model,
        crop_image_id=None if face.crop is None else _store_crop(uow, face.crop),
        track_id=sighting.track_id,
        edge_id=sighting.edge_id,
        idempotency_key=sighting.idempotency_key,
        face_index=index,
        request_sha256=sighting.fingerprint if sighting.idempotency_key else None,
        latitude=sighting.latitude,
        longitude=sighting.longitude,
    )


def _store_crop(uow: UnitOfWork, crop: _Image) -> int:
    sha = uow.put_blob(crop.data)
    return uow.images.get_or_add(sha, crop.media_type, crop.width, crop.height, len(crop.data)).id


def _stored_out(rows: list[Detection]) -> IngestOut:
    return IngestOut(detections=[detection_out(row) for row in rows], replayed=False)


def _utc(moment: datetime | None) -> datetime:
    """Now if absent; a naive time is taken as UTC."""
    if moment is None:
        return datetime.now(UTC)
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
