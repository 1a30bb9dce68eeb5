"""The wire types of the old API, field for field (names, nesting, strings where it had them)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class FaceIdOut(BaseModel):
    id_name: str = Field(description="The person's ID: their name lower-cased, spaces as _.")
    number_of_images: str = Field(description="Enrolled photos, as a string (as it was).")


class DatasetOut(BaseModel):
    face_ids: list[FaceIdOut]


class PredictionOut(BaseModel):
    label: str = Field(description="A person's ID, or 'unknown' for nobody enrolled.")
    confidence: float = Field(
        ge=0, le=1, description="How sure Facewatch is of this label, in [0, 1]."
    )


class BoundingBoxOut(BaseModel):
    left: float
    top: float
    right: float
    bottom: float


class RecognizedFaceOut(BaseModel):
    top_prediction: PredictionOut
    bounding_box: BoundingBoxOut
    all_predictions: list[PredictionOut] | None = Field(
        description="With include_predictions: the nearest enrolled people, nearest first."
    )


class RecognitionOut(BaseModel):
    faces: list[RecognizedFaceOut]


class SentFaceOut(BaseModel):
    top_prediction: str = Field(description="The label forwarded for this face.")
    url: str = Field(description="Where it was forwarded (without the URL's query string).")
    response: str = Field(description="The text the external server answered.")


class SentOut(BaseModel):
    faces: list[SentFaceOut]


class PersonIdOut(BaseModel):
    face_id: str


class PeopleOut(BaseModel):
    people: list[PersonIdOut]


class LocationOut(BaseModel):
    location: str | None = Field(description="The location the camera last reported.")
    detected_by_camera_id: str | None
    timestamp: str = Field(description="UTC, as 'YYYY-MM-DD HH:MM:SS'.")


class LastLocationOut(BaseModel):
    last_known_location: list[LocationOut] = Field(description="One entry, or none if never seen.")


class IpOut(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    ip_address: str = Field(alias="IP_address")


class NodeNameOut(BaseModel):
    node_name: str


class MessageOut(BaseModel):
    """The body of an error answer."""

    message: str
    errors: dict[str, str] | None = Field(
        default=None, description="For a missing or malformed field: a message per field."
    )
