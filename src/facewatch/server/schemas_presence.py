"""Wire types of the presence board: who was seen where in the last minutes."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field

from facewatch.server.events.types import Severity


class PresentOut(BaseModel):
    """Someone seen lately: an enrolled person or a stranger, at the camera that saw them last."""

    person_id: int | None = Field(description="The enrolled person; null for a stranger.")
    name: str | None
    category: str | None
    unknown_id: str | None = Field(description="The stranger's identity; null if enrolled.")
    detection_id: int = Field(description="Their latest detection (its crop is the picture).")
    crop_sha256: str | None
    last_seen: datetime = Field(description="When their latest face was captured (UTC).")
    sightings: int = Field(description="Their faces in the window, on every camera.")
    severity: Severity = Field(description="As an event of their latest face would have it.")
    violation: str | None = Field(
        description="Why this presence is an alert (watchlist, not authorised, stranger in a "
        "restricted zone); null when it is routine."
    )


class CameraPresenceOut(BaseModel):
    camera_id: str
    name: str
    present: list[PresentOut] = Field(description="Latest first.")


class ZonePresenceOut(BaseModel):
    zone_id: str | None = Field(description="Null: the cameras in no zone.")
    name: str
    restricted: bool
    violations: int = Field(description="Presences here that are alerts.")
    cameras: list[CameraPresenceOut]


class PresenceOut(BaseModel):
    """Who is where now: each identity at the camera that saw it last, within the window."""

    since: datetime
    until: datetime
    minutes: int
    zones: list[ZonePresenceOut] = Field(
        description="Restricted zones first, then the others by name, then cameras in no zone."
    )
    truncated: bool = Field(
        description="True when the window held more faces than one board reads: the oldest "
        "were left out."
    )
