"""Detections: ingest images from cameras, and query what was seen."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, File, Form, Query, Response, UploadFile, status

from facewatch.errors import InvalidInput
from facewatch.server.deps import FaceBoxForm, IngestKey, Multipart, ReadKey, RuntimeDep
from facewatch.server.routers.people import ERRORS
from facewatch.server.schemas import CameraId, DetectionOut, IngestOut, Page, face_box_hint
from facewatch.server.services.detections import DetectionQuery, detection_crop, query_detections
from facewatch.server.services.ingest import IngestRequest, ingest
from facewatch.server.uploads import read_upload

router = APIRouter(prefix="/api/v1/detections", tags=["detections"])

Token = Annotated[str, Form(min_length=1, max_length=128, pattern=r"^[\x21-\x7e]+$")]


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=IngestOut,
    responses={**ERRORS, 413: ERRORS[400], 415: ERRORS[400]},
    dependencies=[Multipart],
)
def ingest_detection(
    image: Annotated[UploadFile, File(description="A face crop or a whole frame")],
    camera_id: Annotated[CameraId, Form()],
    runtime: RuntimeDep,
    _: IngestKey,
    captured_at: Annotated[
        datetime | None,
        Form(description="ISO 8601; without a zone, UTC. Default: the time it arrives"),
    ] = None,
    exif_time: Annotated[
        bool, Form(description="Without captured_at, use the photo's EXIF time (imports)")
    ] = False,
    track_id: Annotated[str | None, Form(max_length=128)] = None,
    idempotency_key: Annotated[
        Token | None, Form(description="Replaying a key returns the first result")
    ] = None,
    edge_id: Annotated[str | None, Form(max_length=128)] = None,
    face_box: FaceBoxForm = None,
) -> IngestOut:
    """Recognise the faces of an image from a camera and store each as a detection."""
    hint = face_box_hint(face_box)
    upload = read_upload(image, runtime.settings.max_upload_bytes)
    request = IngestRequest(
        image=upload.data,
        camera_id=camera_id,
        captured_at=_utc(captured_at) if captured_at else None,
        exif_time=exif_time,
        track_id=track_id,
        idempotency_key=idempotency_key,
        edge_id=edge_id,
        face_box=hint,
    )
    return ingest(runtime, request)


@router.get("", response_model=Page[DetectionOut], responses=ERRORS)
def list_detections(
    runtime: RuntimeDep,
    _: ReadKey,
    person_id: int | None = None,
    camera_id: Annotated[str | None, Query(max_length=64)] = None,
    since: Annotated[datetime | None, Query(description="ISO 8601, inclusive")] = None,
    until: Annotated[datetime | None, Query(description="ISO 8601, exclusive")] = None,
    unknown_only: bool = False,
    offset: Annotated[int, Query(ge=0)] = 0,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
) -> Page[DetectionOut]:
    """Detections, newest first, by person, camera, time range or unknown only."""
    if since and until and _utc(since) >= _utc(until):
        raise InvalidInput("'since' must be before 'until'")
    query = DetectionQuery(
        person_id=person_id,
        camera_id=camera_id,
        since=_utc(since) if since else None,
        until=_utc(until) if until else None,
        unknown_only=unknown_only,
        offset=offset,
        limit=limit,
    )
    return query_detections(runtime, query)


@router.get(
    "/{detection_id}/crop",
    response_class=Response,
    responses={**ERRORS, 200: {"content": {"image/jpeg": {}}, "description": "The face crop"}},
)
def get_detection_crop(detection_id: int, runtime: RuntimeDep, _: ReadKey) -> Response:
    """The face crop of a detection (the crop_url of its events)."""
    crop = detection_crop(runtime, detection_id)
    # A crop never changes, but it goes when its person is deleted: cache it briefly.
    headers = {"Cache-Control": "private, max-age=300"}
    return Response(crop.data, media_type=crop.content_type, headers=headers)


def _utc(moment: datetime) -> datetime:
    """A timezone-aware UTC time; a naive one is taken as UTC."""
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)
