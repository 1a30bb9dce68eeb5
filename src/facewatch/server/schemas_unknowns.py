"""Wire types of the strangers' routes: unknown identities, search, visits and reports."""

from __future__ import annotations

from datetime import datetime
from typing import Literal, Self

from pydantic import BaseModel, ConfigDict, Field, model_validator

from facewatch.server.schemas import Category, DetectionOut, Name, Notes, PersonOut

UnknownId = str
"""``unknown-`` and 12 hex digits."""


# --- unknown identities ----------------------------------------------------------------
class UnknownOut(BaseModel):
    """A stranger: an identity shared by faces of nobody enrolled that look alike."""

    id: UnknownId
    detections: int = Field(description="Faces that joined this identity.")
    first_seen: datetime | None
    last_seen: datetime | None
    cameras: list[str] = Field(description="Cameras that saw this stranger.")
    curated: bool = Field(description="Merged or split by an operator: re-clustering keeps it.")
    person_id: int | None = Field(description="The person it was named as, if it was.")
    cover_detection_id: int | None = Field(
        description="Its best face (GET /api/v1/detections/{id}/crop for the picture)."
    )


class UnknownDetail(UnknownOut):
    """A stranger with their latest faces."""

    recent: list[DetectionOut]


class NameUnknown(BaseModel):
    """Make a stranger a person: a new one (``name``) or an enrolled one (``person_id``)."""

    model_config = ConfigDict(extra="forbid")

    name: Name | None = None
    category: Category = "authorized"
    notes: Notes = ""
    person_id: int | None = Field(default=None, description="Attach to this enrolled person.")

    @model_validator(mode="after")
    def _one_target(self) -> Self:
        if (self.name is None) == (self.person_id is None):
            raise ValueError("give either name (a new person) or person_id (an enrolled one)")
        return self


class NamedOut(BaseModel):
    """What naming a stranger did."""

    person: PersonOut
    templates_added: int = Field(description="Best faces of the stranger now templates.")
    detections: int = Field(description="Detections now carrying the person.")


class MergeUnknowns(BaseModel):
    model_config = ConfigDict(extra="forbid")

    other_id: UnknownId = Field(description="The identity merged into this one (it goes).")


class SplitUnknown(BaseModel):
    model_config = ConfigDict(extra="forbid")

    detection_ids: list[int] = Field(
        min_length=1, max_length=10_000, description="Faces that leave for a new identity."
    )


class NotRule(BaseModel):
    """'Not X': X is an enrolled person or another unknown identity."""

    model_config = ConfigDict(extra="forbid")

    person_id: int | None = None
    unknown_id: UnknownId | None = None

    @model_validator(mode="after")
    def _one_object(self) -> Self:
        if (self.person_id is None) == (self.unknown_id is None):
            raise ValueError("give either person_id or unknown_id")
        return self


class NotRuleOut(BaseModel):
    """A stored 'not X' rule and what it changed at once."""

    detection_id: int | None
    unknown_id: UnknownId | None
    not_person_id: int | None
    not_unknown_id: UnknownId | None
    moved_to: UnknownId | None = Field(
        default=None, description="Where the face went when it had to leave X."
    )
    already: bool = Field(
        default=False, description="The same rule was there already: nothing changed."
    )


class ReclusterOut(BaseModel):
    """What a re-clustering changed."""

    faces: int = Field(description="Faces re-clustered.")
    identities_before: int
    identities_after: int
    merged: int = Field(description="Identities that went into another one.")
    split: int = Field(description="Identities whose faces now belong to several.")
    created: int
    faces_moved: int
    seconds: float


# --- search ----------------------------------------------------------------------------
class IdentityHit(BaseModel):
    """A person or a stranger that the searched face looks like."""

    kind: Literal["person", "unknown"]
    person_id: int | None
    name: str | None
    unknown_id: UnknownId | None
    distance: float = Field(description="Nearest distance of any of their faces.")
    sightings: int = Field(description="Their detections matching within the filters.")
    first_seen: datetime | None
    last_seen: datetime | None
    cameras: list[str]


class SightingOut(DetectionOut):
    """A detection found by a search, with its distance to the searched face."""

    search_distance: float


class SearchOut(BaseModel):
    """Who the face is like, and where and when such a face was seen."""

    identities: list[IdentityHit]
    sightings: list[SightingOut]
    scanned: int = Field(description="Detections compared (within the filters).")
    truncated: bool = Field(description="True when the filters matched more than were scanned.")


# --- visits and movement ---------------------------------------------------------------
class VisitOut(BaseModel):
    """Consecutive sightings of one identity at one camera (or zone) without a long gap."""

    person_id: int | None
    name: str | None
    unknown_id: UnknownId | None
    place: str = Field(description="The camera id, or the zone id when grouped by zone.")
    arrival: datetime
    departure: datetime
    duration_seconds: float
    detections: int


class TrailStop(VisitOut):
    """One stop of a trail, with where the camera stands."""

    camera_name: str | None
    site: str | None
    zone: str | None
    location: str | None
    latitude: float | None
    longitude: float | None


class LocationOut(BaseModel):
    """Where an identity was last seen."""

    person_id: int | None
    unknown_id: UnknownId | None
    detection_id: int
    captured_at: datetime
    camera_id: str | None
    camera_name: str | None
    site: str | None
    zone: str | None
    location: str | None
    latitude: float | None = Field(description="From the photo's GPS tags, else the camera's.")
    longitude: float | None


class PresenceOut(BaseModel):
    """Unique identities (people and strangers) one camera saw in one hour or day."""

    camera_id: str | None
    period_start: datetime
    unique_people: int = Field(description="Distinct enrolled people.")
    unique_strangers: int = Field(description="Distinct unknown identities.")
    detections: int


class Totals(BaseModel):
    """Detections by verdict and unique visitors."""

    detections: int
    known: int
    unknown: int
    uncertain: int
    unique_people: int
    unique_strangers: int


class PeriodSummary(Totals):
    period_start: datetime


class CameraSummary(Totals):
    camera_id: str | None


class SummaryOut(BaseModel):
    """What the charts show: totals per hour or day, and per camera (busiest first)."""

    period: Literal["hour", "day"]
    totals: Totals = Field(
        description="The whole range (unique visitors are not the sum of the periods')."
    )
    periods: list[PeriodSummary]
    cameras: list[CameraSummary]
