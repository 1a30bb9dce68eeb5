"""Detections as stored: their wire form, the filtered list, a detection's face crop.

Storing them is ingest's (``services/ingest.py``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from facewatch.errors import NotFound
from facewatch.server.infra.runtime import Runtime
from facewatch.server.schemas import DetectionOut, Page
from facewatch.store.models import Detection
from facewatch.types import MatchStatus


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
