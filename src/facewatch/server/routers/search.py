"""Search by face, by photo or from a stored detection: "was this person here before?"."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, File, Form, Query, UploadFile

from facewatch.errors import InvalidInput
from facewatch.server.deps import Multipart, ReadKey, RuntimeDep
from facewatch.server.routers.people import ERRORS
from facewatch.server.schemas_unknowns import SearchOut
from facewatch.server.services.search import SearchQuery, search_by_detection, search_by_photo
from facewatch.server.uploads import read_upload

router = APIRouter(prefix="/api/v1/search", tags=["search"])


@router.post(
    "",
    response_model=SearchOut,
    responses={**ERRORS, 413: ERRORS[400], 415: ERRORS[400]},
    dependencies=[Multipart],
)
def search_photo(
    image: Annotated[UploadFile, File(description="A photo; its largest face is searched")],
    runtime: RuntimeDep,
    _: ReadKey,
    since: Annotated[datetime | None, Form(description="ISO 8601, inclusive")] = None,
    until: Annotated[datetime | None, Form(description="ISO 8601, exclusive")] = None,
    camera_id: Annotated[str | None, Form(max_length=64)] = None,
    max_distance: Annotated[
        float | None, Form(gt=0, le=2, description="Default: unknown_cluster_threshold")
    ] = None,
    limit: Annotated[int, Form(ge=1, le=500)] = 50,
) -> SearchOut:
    """Who a photo's face looks like, among people and strangers, and where it was seen."""
    upload = read_upload(image, runtime.settings.max_upload_bytes)
    query = _query(since, until, camera_id, max_distance, limit)
    return search_by_photo(runtime, upload.data, query)


@router.get("/detections/{detection_id}", response_model=SearchOut, responses=ERRORS)
def search_detection(
    detection_id: int,
    runtime: RuntimeDep,
    _: ReadKey,
    since: Annotated[datetime | None, Query(description="ISO 8601, inclusive")] = None,
    until: Annotated[datetime | None, Query(description="ISO 8601, exclusive")] = None,
    camera_id: Annotated[str | None, Query(max_length=64)] = None,
    max_distance: Annotated[
        float | None, Query(gt=0, le=2, description="Default: unknown_cluster_threshold")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
) -> SearchOut:
    """Where else the face of a stored detection was seen, and who it looks like."""
    query = _query(since, until, camera_id, max_distance, limit)
    return search_by_detection(runtime, detection_id, query)


def _query(
    since: datetime | None,
    until: datetime | None,
    camera_id: str | None,
    max_distance: float | None,
    limit: int,
) -> SearchQuery:
    start, end = _utc(since), _utc(until)
    if start and end and start >= end:
        raise InvalidInput("'since' must be before 'until'")
    return SearchQuery(
        since=start, until=end, camera_id=camera_id, max_distance=max_distance, limit=limit
    )


def _utc(moment: datetime | None) -> datetime | None:
    if moment is None:
        return None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
