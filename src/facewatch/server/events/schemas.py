"""Wire types of the event routes: zones, webhooks and their delivery log, counters.

The event itself is ``facewatch.server.events.types.Event`` (the same on every channel).
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from facewatch.server.events.types import Event, EventType
from facewatch.server.schemas import (
    CameraId,
    CameraOut,
    Category,
    DetectionOut,
    Name,
    Notes,
    Out,
)
from facewatch.store.repositories import DeliveryStatus

ZoneId = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$")]
WebhookUrl = Annotated[str, StringConstraints(pattern=r"^https?://\S+$", max_length=2000)]
Secret = Annotated[str, StringConstraints(pattern=r"^[\x21-\x7e]{16,128}$")]
Description = Annotated[str, StringConstraints(max_length=500)]
ALL_EVENT_TYPES = list(EventType)


# --- zones -----------------------------------------------------------------------------
class ZoneCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: ZoneId
    name: Name
    description: Notes = ""
    restricted: bool = Field(
        default=True,
        description="Only the people and categories listed may be here; others raise "
        "zone.unauthorized. False: the zone only groups cameras.",
    )
    cameras: list[CameraId] = Field(
        default=[], description="Cameras in the zone (a camera is in one zone at most)."
    )
    people: list[int] = Field(default=[], description="Ids of the people authorised here.")
    categories: list[Category] = Field(
        default=[], description="Categories of people authorised here (staff, ...)."
    )


class ZoneUpdate(BaseModel):
    """Fields to change; a list given replaces the old one."""

    model_config = ConfigDict(extra="forbid")

    name: Name | None = None
    description: Notes | None = None
    restricted: bool | None = None
    cameras: list[CameraId] | None = None
    people: list[int] | None = None
    categories: list[Category] | None = None


class ZoneOut(BaseModel):
    id: str
    name: str
    description: str
    restricted: bool
    cameras: list[str]
    people: list[int]
    categories: list[str]
    created_at: datetime


# --- webhooks --------------------------------------------------------------------------
class WebhookCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    url: WebhookUrl
    event_types: list[EventType] = Field(
        default=ALL_EVENT_TYPES, min_length=1, description="Event types sent; default all."
    )
    description: Description = ""
    secret: Secret | None = Field(
        default=None,
        description="The signing secret (16-128 printable characters); default: generated.",
    )
    active: bool = True


class WebhookUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    url: WebhookUrl | None = None
    event_types: list[EventType] | None = Field(default=None, min_length=1)
    description: Description | None = None
    active: bool | None = None


class WebhookOut(Out):
    id: int
    url: str
    event_types: list[EventType]
    description: str
    active: bool
    created_at: datetime


class WebhookCreated(WebhookOut):
    secret: str = Field(description="Shown once: the key of the X-Facewatch-Signature HMAC.")


class DeliveryOut(Out):
    id: int
    webhook_id: int
    event_id: str
    event_type: EventType
    status: DeliveryStatus
    attempts: int
    response_status: int | None = Field(description="HTTP status of the last attempt.")
    error: str | None = Field(description="Why the last attempt failed.")
    created_at: datetime
    last_attempt_at: datetime | None
    next_attempt_at: datetime | None
    delivered_at: datetime | None


# --- counters --------------------------------------------------------------------------
class QueueStatsOut(BaseModel):
    name: str
    accepted: int
    dropped: int = Field(description="Items lost because the bounded queue was full.")
    handled: int
    failed: int
    queued: int


class EventStatsOut(BaseModel):
    dispatcher: QueueStatsOut | None
    suppressed_by_cooldown: int
    live_subscribers: int
    sinks: list[QueueStatsOut]


# --- one event in detail ---------------------------------------------------------------
class EventCandidateOut(BaseModel):
    person_id: int
    name: str = Field(description="The person's name now ('' if they were since deleted).")
    distance: float
    named: bool = Field(description="The face was named this person.")


class EventDetailOut(BaseModel):
    """An event with what an operator needs to judge it: the face, who it was nearest to,
    where it was seen and why the event was raised."""

    event: Event
    needs_acknowledgement: bool = Field(
        description="False for routine recognitions (severity info): nothing to acknowledge."
    )
    rule: str = Field(description="The rule that fired and its severity, in words.")
    detection: DetectionOut | None = Field(description="Null when the face was since erased.")
    candidates: list[EventCandidateOut] = Field(description="Nearest enrolled people first.")
    match_threshold: float = Field(description="In force now: named at or under it.")
    unknown_threshold: float = Field(description="In force now: a stranger at or over it.")
    camera: CameraOut | None
    zone_detail: ZoneOut | None = Field(description="The event's zone as it is now.")
    frame_stored: bool = Field(
        default=False, description="Facewatch keeps the face crop of a detection, not its frame."
    )
