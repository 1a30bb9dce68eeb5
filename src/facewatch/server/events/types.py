"""The event contract (what every sink sends) and what the ingest path hands to the bus."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, Field

from facewatch.types import MatchStatus

if TYPE_CHECKING:
    from facewatch.store.models import Detection


class EventType(StrEnum):
    """The event types: a contract with webhook, MQTT and SSE consumers."""

    PERSON_RECOGNIZED = "person.recognized"
    """An enrolled person was seen where they may be."""
    WATCHLIST_MATCH = "watchlist.match"
    """A person of category ``watchlist`` was seen: high priority."""
    PERSON_UNKNOWN = "person.unknown"
    """A face that matches nobody enrolled: a stranger, with the face crop."""
    ZONE_UNAUTHORIZED = "zone.unauthorized"
    """An enrolled person was seen in a restricted zone they are not authorised for."""
    CAMERA_STALE = "camera.stale"
    """A camera's edge agent has sent no heartbeat for longer than ``edge_stale_after_seconds``."""
    CAMERA_RECOVERED = "camera.recovered"
    """A stale camera's edge agent reported again."""

    @property
    def about_camera(self) -> bool:
        """A camera's health, not a face: no person, detection or crop."""
        return self in (EventType.CAMERA_STALE, EventType.CAMERA_RECOVERED)


class Severity(StrEnum):
    """How loudly a dashboard or an integration should present an event."""

    INFO = "info"
    WARNING = "warning"
    CRITICAL = "critical"


@dataclass(frozen=True, slots=True)
class DetectionFacts:
    """What the rules need of one stored detection (the ingest path builds these)."""

    detection_id: int
    captured_at: datetime
    camera_id: str | None
    status: MatchStatus
    person_id: int | None
    distance: float | None
    confidence: float
    has_crop: bool
    track_id: str | None = None
    embedding: bytes | None = None
    """Raw little-endian float32, as stored; groups sightings of one stranger."""
    unknown_id: str | None = None
    """The stored stranger identity of an unknown face (unknown clustering)."""

    @classmethod
    def of(cls, row: Detection) -> DetectionFacts:
        """The facts of a stored (committed) detection row."""
        return cls(
            detection_id=row.id,
            captured_at=row.captured_at,
            camera_id=row.camera_id,
            status=MatchStatus(row.status),
            person_id=row.person_id,
            distance=row.distance,
            confidence=row.confidence,
            has_crop=row.crop_image_id is not None,
            track_id=row.track_id,
            embedding=row.embedding,
            unknown_id=row.unknown_id,
        )


class Event(BaseModel):
    """One event, as stored, listed, streamed, posted to webhooks and published to MQTT."""

    model_config = ConfigDict(frozen=True, from_attributes=True)

    id: str = Field(description="A UUID; stable across every channel (deduplicate on it).")
    type: EventType
    severity: Severity
    time: datetime = Field(
        description=(
            "When the face was captured; for camera.stale and camera.recovered, when the "
            "server noticed (UTC, ISO 8601)."
        )
    )
    camera_id: str | None
    zone: str | None = Field(description="Id of the zone of the camera, if it is in one.")
    person_id: int | None = Field(description="The enrolled person; null for a stranger.")
    person_name: str | None
    category: str | None = Field(description="The person's category when the event was raised.")
    unknown_id: str | None = Field(
        description=(
            "The stranger's persistent identity (GET /api/v1/unknowns/{unknown_id}); null if known."
        )
    )
    detection_id: int | None = Field(description="The stored detection behind the event.")
    distance: float | None = Field(description="Distance to the nearest enrolled person.")
    confidence: float | None
    crop_url: str | None = Field(
        description="GET it with a read-scoped API key: the face crop (JPEG)."
    )
    acknowledged_at: datetime | None = None
    acknowledged_by: str | None = None

    def payload(self) -> dict[str, Any]:
        """The JSON-ready form sent to webhooks, MQTT and SSE."""
        return self.model_dump(mode="json")
