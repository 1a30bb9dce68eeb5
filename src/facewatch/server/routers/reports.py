"""Reports: visits, trails, last known location, headcounts; CSV and Parquet exports."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.responses import StreamingResponse

from facewatch.errors import InvalidInput
from facewatch.server.deps import ReadKey, RuntimeDep
from facewatch.server.routers.people import ERRORS
from facewatch.server.schemas_unknowns import (
    LocationOut,
    PresenceOut,
    SummaryOut,
    TrailStop,
    VisitOut,
)
from facewatch.server.services import reports, visits
from facewatch.server.services.reports import DetectionFilter, Export, ExportFormat
from facewatch.server.services.visits import GroupBy, Period, VisitQuery

router = APIRouter(prefix="/api/v1/reports", tags=["reports"])

Since = Annotated[datetime | None, Query(description="ISO 8601, inclusive")]
Until = Annotated[datetime | None, Query(description="ISO 8601, exclusive")]
CameraFilter = Annotated[str | None, Query(max_length=64)]
UnknownFilter = Annotated[str | None, Query(max_length=64, description="unknown-...")]
Gap = Annotated[
    float | None, Query(gt=0, le=31_536_000, description="Longest gap within a visit, in seconds")
]
Format = Annotated[ExportFormat, Query(description="csv or parquet")]
EXPORT_RESPONSES: dict[int | str, dict[str, object]] = {
    **ERRORS,
    200: {
        "content": {"text/csv": {}, "application/vnd.apache.parquet": {}},
        "description": "The file",
    },
}


@router.get("/visits", response_model=list[VisitOut], responses=ERRORS)
def list_visits(
    runtime: RuntimeDep,
    _: ReadKey,
    person_id: int | None = None,
    unknown_id: UnknownFilter = None,
    camera_id: CameraFilter = None,
    since: Since = None,
    until: Until = None,
    group_by: GroupBy = "camera",
    gap_seconds: Gap = None,
    limit: Annotated[int, Query(ge=1, le=10_000)] = 1000,
) -> list[VisitOut]:
    """Visits (arrival, departure, duration) per identity and camera or zone."""
    query = VisitQuery(
        person_id=person_id,
        unknown_id=unknown_id,
        camera_id=camera_id,
        since=_utc(since),
        until=_utc(until),
        group_by=group_by,
        gap_seconds=gap_seconds,
        limit=limit,
    )
    _check_range(query.since, query.until)
    return visits.visits(runtime, query)


@router.get("/trail", response_model=list[TrailStop], responses=ERRORS)
def get_trail(
    runtime: RuntimeDep,
    _: ReadKey,
    person_id: int | None = None,
    unknown_id: UnknownFilter = None,
    since: Since = None,
    until: Until = None,
) -> list[TrailStop]:
    """A person's (or stranger's) stops across cameras, in time order."""
    _check_range(_utc(since), _utc(until))
    return visits.trail(runtime, person_id, unknown_id, _utc(since), _utc(until))


@router.get("/last-location", response_model=LocationOut, responses=ERRORS)
def get_last_location(
    runtime: RuntimeDep, _: ReadKey, person_id: int | None = None, unknown_id: UnknownFilter = None
) -> LocationOut:
    """Where and when a person (or stranger) was last seen."""
    return visits.last_location(runtime, person_id, unknown_id)


@router.get("/presence", response_model=list[PresenceOut], responses=ERRORS)
def get_presence(
    runtime: RuntimeDep,
    _: ReadKey,
    period: Period = "hour",
    since: Since = None,
    until: Until = None,
    camera_id: CameraFilter = None,
) -> list[PresenceOut]:
    """Unique people and strangers per camera per hour or day (UTC)."""
    _check_range(_utc(since), _utc(until))
    return visits.presence(runtime, period, _utc(since), _utc(until), camera_id)


@router.get("/summary", response_model=SummaryOut, responses=ERRORS)
def get_summary(
    runtime: RuntimeDep,
    _: ReadKey,
    period: Period = "hour",
    since: Since = None,
    until: Until = None,
    camera_id: CameraFilter = None,
) -> SummaryOut:
    """Detections (known, unknown, uncertain) and unique visitors per period and per camera."""
    _check_range(_utc(since), _utc(until))
    return visits.summary(runtime, period, _utc(since), _utc(until), camera_id)


@router.get("/detections/export", response_class=StreamingResponse, responses=EXPORT_RESPONSES)
def export_detections(
    runtime: RuntimeDep,
    _: ReadKey,
    format: Format = "csv",
    since: Since = None,
    until: Until = None,
    camera_id: CameraFilter = None,
    person_id: int | None = None,
    unknown_id: UnknownFilter = None,
) -> StreamingResponse:
    """Detections as a CSV or Parquet file, oldest first."""
    _check_range(_utc(since), _utc(until))
    where = DetectionFilter(_utc(since), _utc(until), camera_id, person_id, unknown_id)
    return _file(reports.export_detections(runtime, format, where))


@router.get("/visits/export", response_class=StreamingResponse, responses=EXPORT_RESPONSES)
def export_visits(
    runtime: RuntimeDep,
    _: ReadKey,
    format: Format = "csv",
    since: Since = None,
    until: Until = None,
    camera_id: CameraFilter = None,
    group_by: GroupBy = "camera",
    gap_seconds: Gap = None,
) -> StreamingResponse:
    """Visits as a CSV or Parquet file, by arrival."""
    _check_range(_utc(since), _utc(until))
    query = VisitQuery(
        camera_id=camera_id,
        since=_utc(since),
        until=_utc(until),
        group_by=group_by,
        gap_seconds=gap_seconds,
        limit=reports.MAX_EXPORT_ROWS,
    )
    return _file(reports.export_visits(runtime, format, query))


def _file(export: Export) -> StreamingResponse:
    headers = {"Content-Disposition": f'attachment; filename="{export.filename}"'}
    return StreamingResponse(export.chunks, media_type=export.media_type, headers=headers)


def _check_range(since: datetime | None, until: datetime | None) -> None:
    if since and until and since >= until:
        raise InvalidInput("'since' must be before 'until'")


def _utc(moment: datetime | None) -> datetime | None:
    if moment is None:
        return None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
