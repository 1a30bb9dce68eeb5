"""Reports: detections and unique visitors over time, known vs unknown, busiest cameras,
and the detections and visits of the same range as CSV or Parquet files."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import StreamingResponse

from facewatch.dashboard.auth import Viewer
from facewatch.dashboard.forms import blank_to_none
from facewatch.dashboard.report_views import CUSTOM, RANGES, report_charts, resolve_range
from facewatch.dashboard.web import DashboardRoute, render
from facewatch.errors import InvalidInput
from facewatch.server.deps import RuntimeDep
from facewatch.server.infra.runtime import Runtime
from facewatch.server.services import audit, reports, visits
from facewatch.server.services.reports import DetectionFilter, Export, ExportFormat
from facewatch.server.services.visits import VisitQuery

router = APIRouter(route_class=DashboardRoute, include_in_schema=False)
MAX_CAMERAS = 500
Text = Annotated[str, Query(max_length=40)]
CameraId = Annotated[str, Query(max_length=64)]


@dataclass(frozen=True, slots=True)
class Filters:
    """The filter form as typed: a range choice, custom bounds (UTC) and a camera."""

    span: str = "24h"
    since: str = ""
    until: str = ""
    camera: str = ""


@router.get("/reports")
def show_reports(
    request: Request,
    runtime: RuntimeDep,
    _: Viewer,
    span: Annotated[str, Query(alias="range", max_length=10)] = "24h",
    since: Text = "",
    until: Text = "",
    camera: CameraId = "",
) -> Response:
    """Charts of one camera or all over a range, the totals, and download links."""
    filters = Filters(span, since, until, camera.strip())
    context: dict[str, object] = {
        "filters": filters,
        "ranges": [(key, label) for key, (label, _) in RANGES.items()] + [(CUSTOM, "Custom")],
        "cameras": _camera_ids(runtime, filters.camera),
    }
    try:
        rng = resolve_range(span, since, until, datetime.now(UTC))
    except InvalidInput as exc:
        return render(request, "reports.html", {**context, "error": exc.message}, 400)
    camera_id = blank_to_none(filters.camera)
    summary = visits.summary(runtime, rng.period, rng.since, rng.until, camera_id)
    bounds = {"since": rng.since.isoformat(), "until": rng.until.isoformat(), "camera": camera_id}
    context.update(
        report_range=rng,
        totals=summary.totals,
        per_camera=summary.cameras,
        charts=report_charts(summary, rng).all(),
        export_args=bounds,
    )
    return render(request, "reports.html", context)


@router.get("/reports/export/{what}")
def export_report(
    runtime: RuntimeDep,
    _: Viewer,
    what: Literal["detections", "visits"],
    format: ExportFormat = "csv",
    since: datetime | None = None,
    until: datetime | None = None,
    camera: CameraId = "",
) -> Response:
    """The detections or visits of a range as a CSV or Parquet file (the export is audited)."""
    since, until = _utc(since), _utc(until)
    if since and until and since >= until:
        raise InvalidInput("'since' must be before 'until'")
    camera_id = blank_to_none(camera)
    if what == "detections":
        export = reports.export_detections(
            runtime, format, DetectionFilter(since, until, camera_id)
        )
    else:
        query = VisitQuery(
            camera_id=camera_id, since=since, until=until, limit=reports.MAX_EXPORT_ROWS
        )
        export = reports.export_visits(runtime, format, query)
    details = {"what": what, "format": format, "since": _iso(since), "until": _iso(until)}
    audit.record(runtime, "data.exported", details={**details, "camera_id": camera_id})
    return _file(export)


def _file(export: Export) -> StreamingResponse:
    headers = {"Content-Disposition": f'attachment; filename="{export.filename}"'}
    return StreamingResponse(export.chunks, media_type=export.media_type, headers=headers)


def _camera_ids(runtime: Runtime, selected: str) -> list[str]:
    """Every camera's id for the filter (and the one asked for, even if not registered)."""
    with runtime.uow() as uow:
        cameras, _ = uow.cameras.list(0, MAX_CAMERAS)
        ids = {camera.id for camera in cameras}
    return sorted(ids | ({selected} if selected else set()))


def _utc(moment: datetime | None) -> datetime | None:
    if moment is None:
        return None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment else None
