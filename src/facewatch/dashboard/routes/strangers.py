"""Strangers: the unknown identities, each with its sightings; name, merge, split, delete.

Every action calls the service behind the matching ``/api/v1/unknowns`` route, so the page
and the API can never disagree about what naming or merging does.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, Form, Query, Request, Response

from facewatch.dashboard.auth import EnrollForm, Viewer
from facewatch.dashboard.forms import blank_to_none, parse, parse_time
from facewatch.dashboard.stranger_views import (
    following_ids,
    queue_link,
    queue_of,
    short_id,
    sightings_by_day,
)
from facewatch.dashboard.views import Pager
from facewatch.dashboard.web import DashboardRoute, error_page, redirect, render, safe_next
from facewatch.errors import FacewatchError, InvalidInput, NotFound
from facewatch.server.deps import RuntimeDep
from facewatch.server.events.schemas import ZoneOut
from facewatch.server.infra.runtime import Runtime
from facewatch.server.schemas_unknowns import NamedOut, NameUnknown, UnknownOut
from facewatch.server.services import people, unknowns, zones

router = APIRouter(route_class=DashboardRoute, include_in_schema=False)

PAGE_SIZE = 48
SCAN_BATCH = 500
SCAN_MAX = 5000
"""Most strangers read to apply the "seen at least N times" filter (last seen first)."""
MAX_ZONES = 500
_EPOCH = datetime.min.replace(tzinfo=UTC)
MERGE_CHOICES = 200
TIMELINE = 500
CATEGORIES = ("authorized", "staff", "visitor", "watchlist")
WITHIN = {"24h": timedelta(hours=24), "7d": timedelta(days=7), "30d": timedelta(days=30)}


@dataclass(frozen=True, slots=True)
class Filters:
    """The strangers' filters, as typed."""

    within: str = ""
    since: str = ""
    camera: str = ""
    zone: str = ""
    min_seen: int = 1

    def start(self, now: datetime) -> datetime | None:
        """The earliest last-seen time shown: the later of the preset and the custom one."""
        bounds = [parse_time(self.since, "seen since")]
        if self.within in WITHIN:
            bounds.append(now - WITHIN[self.within])
        given = [b for b in bounds if b is not None]
        return max(given) if given else None


@router.get("/strangers")
def list_strangers(
    request: Request,
    runtime: RuntimeDep,
    _: Viewer,
    within: Annotated[str, Query(max_length=8)] = "",
    since: Annotated[str, Query(max_length=40)] = "",
    camera: Annotated[str, Query(max_length=64)] = "",
    zone: Annotated[str, Query(max_length=64)] = "",
    min_seen: Annotated[int, Query(ge=1, le=100_000)] = 1,
    offset: Annotated[int, Query(ge=0, le=100_000)] = 0,
) -> Response:
    """Every unnamed stranger, last seen first, as a card; filters combine."""
    filters = Filters(within, since, camera.strip(), zone.strip(), min_seen)
    zone_list = zones.list_zones(runtime, 0, MAX_ZONES).items
    context: dict[str, object] = {
        "filters": filters,
        "cameras": _camera_names(runtime),
        "zones": zone_list,
    }
    try:
        start = filters.start(datetime.now(UTC))
        cameras = _cameras_of(filters, zone_list)
    except InvalidInput as exc:
        return render(request, "strangers.html", {**context, "error": exc.message}, 400)
    found, capped = _matching(runtime, start, cameras, min_seen)
    shown = found[offset : offset + PAGE_SIZE]
    here = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    following = following_ids([s.id for s in shown])
    context.update(
        strangers=shown,
        links={s.id: queue_link(s.id, here, following[s.id]) for s in shown},
        pager=Pager(offset, PAGE_SIZE, len(found)),
        capped=capped,
        base_args={
            "within": within,
            "since": since,
            "camera": camera,
            "zone": zone,
            "min_seen": min_seen,
        },
    )
    return render(request, "strangers.html", context)


def _cameras_of(filters: Filters, zone_list: Sequence[ZoneOut]) -> list[str | None]:
    """The cameras to list strangers of: the one chosen, within the zone chosen; [None]
    for every camera."""
    chosen = [filters.camera] if filters.camera else [None]
    if not filters.zone:
        return list(chosen)
    zone = next((z for z in zone_list if z.id == filters.zone), None)
    if zone is None:
        raise InvalidInput(f"no zone {filters.zone!r}")
    return [c for c in zone.cameras if chosen == [None] or c in chosen]


def _matching(
    runtime: Runtime, since: datetime | None, cameras: Sequence[str | None], min_seen: int
) -> tuple[list[UnknownOut], bool]:
    """Strangers seen by one of ``cameras`` at least ``min_seen`` times, last seen first;
    whether the scan stopped early (more than ``SCAN_MAX`` match the other filters)."""
    found: dict[str, UnknownOut] = {}
    capped = False
    for camera_id in cameras:
        offset = 0
        while True:
            page = unknowns.list_unknowns(
                runtime, since=since, camera_id=camera_id, offset=offset, limit=SCAN_BATCH
            )
            found.update((u.id, u) for u in page.items if u.detections >= min_seen)
            offset += SCAN_BATCH
            if offset >= page.total:
                break
            if offset >= SCAN_MAX:
                capped = True
                break
    ordered = sorted(found.values(), key=lambda u: (u.last_seen or _EPOCH, u.id), reverse=True)
    return ordered, capped


@router.get("/strangers/{unknown_id}")
def show_stranger(
    request: Request,
    unknown_id: str,
    runtime: RuntimeDep,
    _: Viewer,
    back: Annotated[str, Query(max_length=2000)] = "",
    then: Annotated[str, Query(max_length=80)] = "",
) -> Response:
    """One stranger: counts, cameras, their sightings by day, and the operator's actions;
    ``back`` and ``then`` (from the list's card) lead back into the queue."""
    try:
        stranger = unknowns.get_unknown(runtime, unknown_id)
    except NotFound:
        return _gone(request, runtime, unknown_id)
    sightings = unknowns.list_sightings(runtime, unknown_id, TIMELINE)
    others = unknowns.list_unknowns(runtime, limit=MERGE_CHOICES).items
    context = {
        "stranger": stranger,
        "label": short_id(unknown_id),
        "days": sightings_by_day(sightings),
        "shown": len(sightings),
        "others": [o for o in others if o.id != unknown_id],
        "people": people.list_people(runtime, None, None, 0, 500).items,
        "named_as": people.get_person(runtime, stranger.person_id) if stranger.person_id else None,
        "categories": CATEGORIES,
        "queue": queue_of(unknown_id, back, then),
    }
    return render(request, "stranger.html", context)


def _gone(request: Request, runtime: Runtime, unknown_id: str) -> Response:
    """A stranger that is no longer there (old events still link to it): its faces' new
    place if they were merged into another stranger, else a page that says it is gone."""
    label = short_id(unknown_id)
    moved = unknowns.find_whereabouts(runtime, unknown_id)
    if moved and moved.unknown_id:
        return redirect(
            f"/strangers/{moved.unknown_id}",
            f"Stranger {label} is no longer on its own: its sightings are now those of "
            f"stranger {short_id(moved.unknown_id)} (merged).",
        )
    if moved and moved.person_id is not None:
        return redirect(
            f"/people/{moved.person_id}",
            f"Stranger {label} is no longer on its own: its sightings now belong to this person.",
        )
    message = (
        f"There is no stranger {label}: it was deleted (not a face) or its sightings "
        "were removed after the retention period, and nothing of it is kept."
    )
    return error_page(request, 404, "Stranger not found", message)


@router.post("/strangers/{unknown_id}/name")
def name_stranger(
    unknown_id: str,
    runtime: RuntimeDep,
    _: EnrollForm,
    name: Annotated[str, Form(max_length=200)] = "",
    category: Annotated[str, Form(max_length=40)] = "authorized",
    person_id: Annotated[str, Form(max_length=20)] = "",
    next: Annotated[str, Form(max_length=2000)] = "/strangers",
) -> Response:
    """Make the stranger a new person, or attach them to an enrolled one."""
    back = f"/strangers/{unknown_id}"
    try:
        body = parse(
            NameUnknown,
            name=blank_to_none(name),
            category=category.strip() or "authorized",
            person_id=blank_to_none(person_id),
        )
        named = unknowns.name_unknown(runtime, unknown_id, body)
    except FacewatchError as exc:
        return redirect(back, exc.message, error=True)
    person = (f"/people/{named.person.id}", f"Open {named.person.name}'s page")
    return redirect(safe_next(next), _named_summary(unknown_id, named), link=person)


def _named_summary(unknown_id: str, named: NamedOut) -> list[str]:
    who = named.person.name
    lines = [
        f"Stranger {short_id(unknown_id)} is now {who}: {named.detections} sighting(s) "
        f"carry the name, and {named.templates_added} of their faces became templates "
        "(the best by quality; near-duplicates and faces of another model are left out)."
    ]
    if named.templates_added == 0:
        lines.append(f"No face was usable as a template: enrol a photo of {who} on their page.")
    return lines


@router.post("/strangers/{unknown_id}/merge")
def merge_stranger(
    unknown_id: str,
    runtime: RuntimeDep,
    _: EnrollForm,
    other_id: Annotated[str, Form(max_length=64)],
) -> Response:
    """Move every sighting of another stranger into this one (the other id goes)."""
    back = f"/strangers/{unknown_id}"
    try:
        merged = unknowns.merge_unknowns(runtime, unknown_id, other_id.strip())
    except FacewatchError as exc:
        return redirect(back, exc.message, error=True)
    message = (
        f"{short_id(other_id)} merged into {short_id(unknown_id)}: "
        f"{merged.detections} sighting(s) now."
    )
    return redirect(back, message)


@router.post("/strangers/{unknown_id}/split")
def split_stranger(
    unknown_id: str,
    runtime: RuntimeDep,
    _: EnrollForm,
    detection_ids: Annotated[list[int] | None, Form()] = None,
) -> Response:
    """Move the chosen sightings out to a new stranger, kept apart from this one."""
    back = f"/strangers/{unknown_id}"
    if not detection_ids:
        return redirect(back, "Choose the sightings to move out first.", error=True)
    try:
        new = unknowns.split_unknown(runtime, unknown_id, detection_ids)
    except FacewatchError as exc:
        return redirect(back, exc.message, error=True)
    message = (
        f"{len(detection_ids)} sighting(s) moved to a new stranger {short_id(new.id)}, "
        f"marked as not {short_id(unknown_id)}."
    )
    return redirect(f"/strangers/{new.id}", message)


@router.post("/strangers/{unknown_id}/delete")
def delete_stranger(
    unknown_id: str,
    runtime: RuntimeDep,
    _: EnrollForm,
    next: Annotated[str, Form(max_length=2000)] = "/strangers",
) -> Response:
    """Forget a stranger (e.g. not a face) with every sighting and crop."""
    back = f"/strangers/{unknown_id}"
    try:
        seen = unknowns.get_unknown(runtime, unknown_id).detections
        unknowns.delete_unknown(runtime, unknown_id)
    except FacewatchError as exc:
        return redirect(back, exc.message, error=True)
    message = f"Stranger {short_id(unknown_id)} deleted with {seen} sighting(s) and their crops."
    return redirect(safe_next(next), message)


def _camera_names(runtime: Runtime) -> list[tuple[str, str]]:
    """Every camera's id (the filter's value) and name (what the filter shows)."""
    with runtime.uow() as uow:
        cameras, _ = uow.cameras.list(0, 500)
        return [(camera.id, camera.name) for camera in cameras]
