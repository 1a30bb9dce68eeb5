"""The wire types of the REST API (and the records the CLI prints): pydantic models."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated, Generic, Literal, TypeVar

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints

from facewatch import wire
from facewatch.errors import InvalidInput
from facewatch.types import Box, Match, MatchStatus
from facewatch.wire import decode_box

_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def _printable(value: str) -> str:
    if _CONTROL.search(value):
        raise ValueError("must not contain control characters (newlines, tabs, NUL...)")
    return value


Name = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=200),
    AfterValidator(_printable),
]
Category = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_-]{0,39}$")]
Notes = Annotated[str, StringConstraints(max_length=5000)]
CameraId = wire.CameraId
Text = Annotated[str, StringConstraints(max_length=500), AfterValidator(_printable)]


class Out(BaseModel):
    model_config = ConfigDict(from_attributes=True)


# --- errors ----------------------------------------------------------------------------
class ErrorOut(BaseModel):
    """The body of every 4xx/5xx answer."""

    detail: str | list[dict[str, object]] = Field(description="What went wrong, for a human.")
    code: str = Field(description="A stable machine-readable error code.")


# --- people ----------------------------------------------------------------------------
class PersonCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: Name
    category: Category = "authorized"
    notes: Notes = ""


class PersonUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: Name | None = None
    category: Category | None = None
    notes: Notes | None = None


class PersonOut(Out):
    id: int
    name: str
    category: str
    notes: str
    templates: int = Field(description="Number of enrolled face templates.")
    created_at: datetime
    updated_at: datetime


T = TypeVar("T")


class Page(BaseModel, Generic[T]):
    items: list[T]
    total: int
    offset: int
    limit: int


class TemplateOut(Out):
    id: int
    person_id: int
    model: str
    quality: float
    box: list[int]
    image_sha256: str | None
    created_at: datetime


class RejectedFile(BaseModel):
    file: str
    reason: Literal[
        "invalid_image",
        "unsupported_media_type",
        "payload_too_large",
        "no_face",
        "several_faces",
        "too_small",
        "too_blurry",
        "not_frontal",
        "duplicate",
        "enrolled_for_another_person",
    ]
    message: str

    @classmethod
    def of(cls, file: str, exc: InvalidInput) -> RejectedFile:
        """The rejection of a file for the reason an exception gives."""
        return cls.model_validate({"file": file, "reason": exc.code, "message": exc.message})


class EnrolmentWarning(BaseModel):
    """Why a photo, though enrolled, may not serve as well as another would."""

    code: Literal["other_faces_ignored", "blurry"]
    message: str


class EnrolledFile(TemplateOut):
    """A template made from an uploaded photo, with the file it came from."""

    file: str
    warnings: list[EnrolmentWarning] = Field(
        default_factory=list,
        description=(
            "What to know about this photo: other, much smaller faces in it were ignored; the "
            "face is blurrier than a good enrolment photo (it is enrolled all the same)."
        ),
    )


class FacesAdded(BaseModel):
    accepted: list[EnrolledFile]
    rejected: list[RejectedFile]


# --- recognition -----------------------------------------------------------------------
class CandidateOut(BaseModel):
    person_id: int
    name: str
    distance: float


class FaceOut(BaseModel):
    """One face found in an image and who it is (the same fields as `facewatch identify`)."""

    box: list[int] = Field(description="[left, top, right, bottom] in pixels.")
    landmarks: list[list[float]] = Field(description="Five [x, y] points: eyes, then nose.")
    status: MatchStatus
    name: str | None = Field(description="The person for known (and uncertain) faces.")
    person_id: int | None
    distance: float | None = Field(description="Distance to the nearest enrolled person.")
    confidence: float = Field(ge=0, le=1, description="How sure the status is, in [0, 1].")
    quality: float = Field(ge=0, le=1)
    candidates: list[CandidateOut] | None = None

    @classmethod
    def build(
        cls,
        box: list[int],
        landmarks: list[list[float]],
        quality: float,
        match: Match,
        with_candidates: bool,
    ) -> FaceOut:
        return cls(
            box=box,
            landmarks=landmarks,
            status=match.status,
            name=match.name,
            person_id=match.person_id,
            distance=None if match.distance is None else round(match.distance, 4),
            confidence=round(match.confidence, 4),
            quality=round(quality, 4),
            candidates=(
                [
                    CandidateOut(person_id=c.person_id, name=c.name, distance=round(c.distance, 4))
                    for c in match.candidates
                ]
                if with_candidates
                else None
            ),
        )


class RecognizeOut(BaseModel):
    faces: list[FaceOut]
    width: int
    height: int
    model: str


# --- detections ------------------------------------------------------------------------
class DetectionOut(Out):
    id: int
    captured_at: datetime
    received_at: datetime
    camera_id: str | None
    person_id: int | None
    name: str | None
    status: MatchStatus
    distance: float | None
    confidence: float
    quality: float
    box: list[int]
    track_id: str | None
    edge_id: str | None
    crop_sha256: str | None
    unknown_id: str | None = Field(
        default=None, description="The stranger identity an unknown face joined (unknown-...)."
    )
    latitude: float | None = Field(default=None, description="From the photo's EXIF GPS tags.")
    longitude: float | None = None


class IngestOut(BaseModel):
    detections: list[DetectionOut]
    replayed: bool = Field(description="True when the idempotency key had been seen before.")


class LastSeenOut(BaseModel):
    person_id: int
    detection_id: int
    captured_at: datetime
    camera_id: str | None
    camera_name: str | None
    site: str | None
    zone: str | None
    location: str | None
    latitude: float | None
    longitude: float | None


# --- cameras ---------------------------------------------------------------------------
class CameraBase(BaseModel):
    model_config = ConfigDict(extra="forbid")

    site: Text = ""
    zone: Text = ""
    location: Text = ""
    latitude: float | None = Field(default=None, ge=-90, le=90)
    longitude: float | None = Field(default=None, ge=-180, le=180)


class CameraCreate(CameraBase):
    id: CameraId
    name: Name


class CameraUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: Name | None = None
    site: Text | None = None
    zone: Text | None = None
    location: Text | None = None
    latitude: float | None = Field(default=None, ge=-90, le=90)
    longitude: float | None = Field(default=None, ge=-180, le=180)


class CameraOut(Out):
    id: str
    name: str
    site: str
    zone: str
    location: str
    latitude: float | None
    longitude: float | None
    created_at: datetime


# --- health ----------------------------------------------------------------------------
class HealthOut(BaseModel):
    status: Literal["ok"]


class ModelsOut(BaseModel):
    """Which embedding model answers, and how far a re-embed to the configured one is."""

    serving: str
    configured: str
    state: Literal["current", "reembedding"]
    progress: float = Field(description="Share of the re-embed done, 0..1 (1 when current).")
    people_left_out: int = Field(
        description="People the configured model could not embed from any stored photo."
    )


class ReadyOut(BaseModel):
    status: Literal["ready", "loading"]
    people: int
    templates: int
    model: str | None
    models: ModelsOut | None = None


def face_box_hint(text: str | None) -> Box | None:
    """The ``face_box`` form field of an upload as a box (None when not sent)."""
    return None if text is None else decode_box(text, "face_box")
