"""Detections: search what the cameras saw by person, camera, zone, time, unknown only."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Annotated

from fastapi import APIRouter, Query, Request, Response

from facewatch.dashboard.auth import Viewer
from facewatch.dashboard.forms import blank_to_none, parse_time
from facewatch.dashboard.views import Pager, newest_first
from facewatch.dashboard.web import DashboardRoute, render
from facewatch.errors import InvalidInput
from facewatch.server.deps import RuntimeDep
from facewatch.server.infra.runtime import Runtime
from facewatch.server.schemas import DetectionOut, Page
from facewatch.server.services import people, unknowns
from facewatch.server.services.detections import DetectionQuery, query_detections

router = APIRouter(route_class=DashboardRoute, include_in_schema=False)
PAGE_SIZE = 48
MAX_CAMERAS = 500


@dataclass(frozen=True, slots=True)
class Filters:
    """The search form, as typed (times in UTC, as ``datetime-local`` inputs give them)."""

    person: str = ""
    camera: str = ""
    zone: str = ""
    since: str = ""
    until: str = ""
    unknown: bool = False


@router.get("/detections")
def list_detections(
    request: Request,
    runtime: RuntimeDep,
    _: Viewer,
    person: Annotated[str, Query(max_length=200)] = "",
    camera: Annotated[str, Query(max_length=64)] = "",
    zone: Annotated[str, Query(max_length=200)] = "",
    since: Annotated[str, Query(max_length=40)] = "",
    until: Annotated[str, Query(max_length=40)] = "",
    unknown: bool = False,
    offset: Annotated[int, Query(ge=0, le=100_000)] = 0,
) -> Response:
    """Detections newest first with their crops; filters combine."""
    filters = Filters(person.strip(), camera.strip(), zone.strip(), since, until, unknown)
    cameras = _cameras(runtime)
    context: dict[str, object] = {
        "filters": filters,
        "cameras": cameras,
        "zones": sorted({zone for _, zone in cameras if zone}),
        "people": people.list_people(runtime, None, None, 0, 500).items,
    }
    try:
        page = _search(runtime, filters, cameras, offset)
    except InvalidInput as exc:
        return render(request, "detections.html", {**context, "error": exc.message}, 400)
    faces_fixed = unknowns.face_corrections(runtime, [d.id for d in page.items])
    context.update(page=page, pager=Pager(offset, PAGE_SIZE, page.total), faces_fixed=faces_fixed)
    return render(request, "detections.html", context)


def _search(
    runtime: Runtime, filters: Filters, cameras: list[tuple[str, str]], offset: int
) -> Page[DetectionOut]:
    since, until = parse_time(filters.since, "from"), parse_time(filters.until, "to")
    if since and until and since >= until:
        raise InvalidInput("'from' must be before 'to'")
    base = DetectionQuery(
        person_id=_person_id(runtime, filters.person),
        camera_id=blank_to_none(filters.camera),
        since=since,
        until=until,
        unknown_only=filters.unknown,
    )
    if not filters.zone:
        return query_detections(runtime, _page(base, offset, PAGE_SIZE))
    in_zone = [cid for cid, zone in cameras if zone == filters.zone]
    if base.camera_id is not None:
        in_zone = [cid for cid in in_zone if cid == base.camera_id]
    return _merged(runtime, base, in_zone, offset)


def _merged(
    runtime: Runtime, base: DetectionQuery, camera_ids: list[str], offset: int
) -> Page[DetectionOut]:
    """A zone's detections: one query per camera of the zone, merged newest first."""
    pages = [
        query_detections(runtime, _page(base, 0, offset + PAGE_SIZE, camera_id=cid))
        for cid in camera_ids
    ]
    items = newest_first([p.items for p in pages], offset, PAGE_SIZE)
    total = sum(p.total for p in pages)
    return Page[DetectionOut](items=items, total=total, offset=offset, limit=PAGE_SIZE)


def _page(
    base: DetectionQuery, offset: int, limit: int, camera_id: str | None = None
) -> DetectionQuery:
    return replace(base, offset=offset, limit=limit, camera_id=camera_id or base.camera_id)


def _person_id(runtime: Runtime, name: str) -> int | None:
    if not name:
        return None
    found = people.find_person(runtime, name)
    if found is None:
        raise InvalidInput(f"nobody named {name!r} is enrolled")
    return found.id


def _cameras(runtime: Runtime) -> list[tuple[str, str]]:
    """Every camera's id and zone."""
    with runtime.uow() as uow:
        cameras, _ = uow.cameras.list(0, MAX_CAMERAS)
        return [(camera.id, camera.zone) for camera in cameras]
