"""Search by face: "was this person here before?" across enrolled people and strangers.

The query is a photo (its largest face) or a stored detection. Every stored face within the
time and camera filters is compared with it (newest first, at most ``scan_limit``); the
matches are grouped by who they belong to (a person or an unknown identity). Enrolled
people and strangers that look alike but were not seen within the filters are listed too,
with no sightings.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime

import numpy as np
from sqlalchemy import select

from facewatch.errors import FaceRejected, InvalidInput
from facewatch.gallery.clustering import pairwise_distances
from facewatch.server.infra.runtime import Runtime
from facewatch.server.schemas_unknowns import IdentityHit, SearchOut, SightingOut
from facewatch.server.services.detections import detection_out
from facewatch.server.services.unknown_ingest import centroid_cache
from facewatch.store.embeddings import embedding_from_bytes
from facewatch.store.models import Detection, Person
from facewatch.store.unit_of_work import UnitOfWork
from facewatch.types import Embedding
from facewatch.vision.image import decode_image

logger = logging.getLogger(__name__)

_BATCH = 5000


@dataclass(frozen=True, slots=True)
class SearchQuery:
    """Filters and limits of a face search."""

    since: datetime | None = None
    until: datetime | None = None
    camera_id: str | None = None
    max_distance: float | None = None
    """Default: the unknown clustering threshold."""
    limit: int = 50
    """Most sightings returned (nearest first)."""
    scan_limit: int = 200_000


@dataclass(slots=True)
class _Hit:
    detection_id: int
    distance: float
    person_id: int | None
    unknown_id: str | None
    camera_id: str | None
    captured_at: datetime


def search_by_photo(runtime: Runtime, image: bytes, query: SearchQuery) -> SearchOut:
    """Search with the largest face of a photo."""
    pixels = decode_image(image, max_pixels=runtime.settings.max_image_pixels)
    faces = runtime.analyzer.analyze(pixels)
    if not faces:
        raise FaceRejected("no face found in the photo", code="no_face")
    face = max(faces, key=lambda f: f.box.area)
    assert face.embedding is not None  # analysed with embeddings
    return _search(runtime, face.embedding, query, skip=None)


def search_by_face(runtime: Runtime, embedding: Embedding, query: SearchQuery) -> SearchOut:
    """Search with a face already embedded by the serving model (one face of a photo)."""
    return _search(runtime, embedding, query, skip=None)


def search_by_detection(runtime: Runtime, detection_id: int, query: SearchQuery) -> SearchOut:
    """Search with the face of a stored detection (it is left out of the results)."""
    with runtime.uow() as uow:
        row = uow.detections.get(detection_id)
        if row.embedding is None or row.model != runtime.model_id:
            raise InvalidInput(
                f"detection {detection_id} has no embedding of the current model to search with"
            )
        embedding = embedding_from_bytes(row.embedding)
    return _search(runtime, embedding, query, skip=detection_id)


def _search(
    runtime: Runtime, embedding: Embedding, query: SearchQuery, skip: int | None
) -> SearchOut:
    limit = query.max_distance or runtime.recognition.cluster_threshold
    with runtime.uow() as uow:
        hits, scanned, truncated = _scan(uow, runtime.model_id, embedding, query, limit, skip)
        identities = _identities(uow, hits)
        _add_lookalikes(runtime, uow, embedding, limit, identities)
        nearest = sorted(hits, key=lambda h: (h.distance, -h.detection_id))[: query.limit]
        sightings = _sightings(uow, nearest)
    ranked = sorted(identities.values(), key=lambda i: (i.distance, i.person_id or 0))
    return SearchOut(identities=ranked, sightings=sightings, scanned=scanned, truncated=truncated)


def _scan(
    uow: UnitOfWork,
    model: str,
    embedding: Embedding,
    query: SearchQuery,
    limit: float,
    skip: int | None,
) -> tuple[list[_Hit], int, bool]:
    """Stored faces within ``limit`` of ``embedding``, how many were compared, and whether
    the filters matched more than ``scan_limit``."""
    hits: list[_Hit] = []
    scanned = 0
    probe = np.asarray(embedding, dtype=np.float32)[None, :]
    for batch in _batches(uow, model, query):
        scanned += len(batch)
        vectors = np.stack([embedding_from_bytes(row[1]) for row in batch])
        distances = pairwise_distances(probe, vectors)[0]
        for row, distance in zip(batch, distances.tolist(), strict=True):
            if distance <= limit and row[0] != skip:
                hits.append(_Hit(row[0], distance, row[2], row[3], row[4], row[5]))
    truncated = scanned > query.scan_limit
    if truncated:
        scanned = query.scan_limit
    return hits, scanned, truncated


def _batches(
    uow: UnitOfWork, model: str, query: SearchQuery
) -> Iterator[list[tuple[int, bytes, int | None, str | None, str | None, datetime]]]:
    statement = (
        select(
            Detection.id,
            Detection.embedding,
            Detection.person_id,
            Detection.unknown_id,
            Detection.camera_id,
            Detection.captured_at,
        )
        .where(Detection.model == model, Detection.embedding.is_not(None))
        .order_by(Detection.captured_at.desc(), Detection.id.desc())
        .limit(query.scan_limit)
        .execution_options(yield_per=_BATCH)
    )
    if query.since is not None:
        statement = statement.where(Detection.captured_at >= query.since)
    if query.until is not None:
        statement = statement.where(Detection.captured_at < query.until)
    if query.camera_id is not None:
        statement = statement.where(Detection.camera_id == query.camera_id)
    batch = []
    for row in uow.session.execute(statement):
        batch.append((row[0], row[1] or b"", row[2], row[3], row[4], row[5]))
        if len(batch) == _BATCH:
            yield batch
            batch = []
    if batch:
        yield batch


def _identities(uow: UnitOfWork, hits: Sequence[_Hit]) -> dict[tuple[str, object], IdentityHit]:
    """The hits grouped by person or stranger (faces of neither are left out)."""
    groups: dict[tuple[str, object], list[_Hit]] = {}
    for hit in hits:
        if hit.person_id is not None:
            groups.setdefault(("person", hit.person_id), []).append(hit)
        elif hit.unknown_id is not None:
            groups.setdefault(("unknown", hit.unknown_id), []).append(hit)
    names = _names(uow, [key[1] for key in groups if key[0] == "person"])
    return {key: _identity(key, group, names) for key, group in groups.items()}


def _identity(key: tuple[str, object], group: list[_Hit], names: dict[int, str]) -> IdentityHit:
    kind, value = key
    times = [hit.captured_at for hit in group]
    person_id = value if kind == "person" and isinstance(value, int) else None
    return IdentityHit(
        kind="person" if person_id is not None else "unknown",
        person_id=person_id,
        name=names.get(person_id) if person_id is not None else None,
        unknown_id=value if isinstance(value, str) else None,
        distance=round(min(hit.distance for hit in group), 4),
        sightings=len(group),
        first_seen=min(times),
        last_seen=max(times),
        cameras=sorted({hit.camera_id for hit in group if hit.camera_id}),
    )


def _names(uow: UnitOfWork, person_ids: Sequence[object]) -> dict[int, str]:
    ids = [pid for pid in person_ids if isinstance(pid, int)]
    if not ids:
        return {}
    rows = uow.session.execute(select(Person.id, Person.name).where(Person.id.in_(ids)))
    return {person_id: name for person_id, name in rows}


def _add_lookalikes(
    runtime: Runtime,
    uow: UnitOfWork,
    embedding: Embedding,
    limit: float,
    identities: dict[tuple[str, object], IdentityHit],
) -> None:
    """Enrolled people and strangers within ``limit`` not seen within the filters."""
    probe = np.asarray(embedding, dtype=np.float32)[None, :]
    for candidate in runtime.gallery.nearest_people(probe, runtime.settings.top_k)[0]:
        key: tuple[str, object] = ("person", candidate.person_id)
        if candidate.distance <= limit and key not in identities:
            identities[key] = _unseen(
                "person", candidate.distance, candidate.person_id, candidate.name, None
            )
    cache = centroid_cache(runtime)
    cache.refresh(uow, runtime.model_id)
    for unknown_id, distance in cache.within(probe, limit):
        key = ("unknown", unknown_id)
        if key not in identities:
            identities[key] = _unseen("unknown", distance, None, None, unknown_id)


def _unseen(
    kind: str, distance: float, person_id: int | None, name: str | None, unknown_id: str | None
) -> IdentityHit:
    return IdentityHit(
        kind="person" if kind == "person" else "unknown",
        person_id=person_id,
        name=name,
        unknown_id=unknown_id,
        distance=round(distance, 4),
        sightings=0,
        first_seen=None,
        last_seen=None,
        cameras=[],
    )


def _sightings(uow: UnitOfWork, hits: Sequence[_Hit]) -> list[SightingOut]:
    out = []
    for hit in hits:
        row = uow.detections.get(hit.detection_id)
        base = detection_out(row).model_dump()
        out.append(SightingOut(**base, search_distance=round(hit.distance, 4)))
    return out
