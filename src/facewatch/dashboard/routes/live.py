"""Live: the event feed, updated as events arrive, and acknowledging events.

The page lists the latest stored events; its script follows ``/api/v1/events/stream`` (the
session cookie authenticates it) and, for each new event, fetches that event's card from
``/live/events/{id}``, so that cards are rendered by one template only.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated, Literal

from fastapi import APIRouter, Query, Request, Response

from facewatch.dashboard.auth import AcknowledgeForm, Viewer
from facewatch.dashboard.web import DashboardRoute, query_string, redirect, render, safe_next
from facewatch.server.deps import RuntimeDep
from facewatch.server.events import Event, EventType
from facewatch.server.infra.runtime import Runtime
from facewatch.server.schemas import Page
from facewatch.server.services import events, severity, unknowns, zones

router = APIRouter(route_class=DashboardRoute, include_in_schema=False)
FEED_SIZE = 50
MAX_ZONES = 500
MAX_CAMERAS = 500
# How each event type looks: a CSS class and the label that stands out on its card.
EVENT_STYLES = {
    EventType.PERSON_RECOGNIZED: ("recognized", "Recognised"),
    EventType.WATCHLIST_MATCH: ("watchlist", "WATCHLIST"),
    EventType.PERSON_UNKNOWN: ("unknown", "Stranger"),
    EventType.ZONE_UNAUTHORIZED: ("unauthorized", "UNAUTHORISED"),
    EventType.CAMERA_STALE: ("camera-stale", "Camera quiet"),
    EventType.CAMERA_RECOVERED: ("camera-recovered", "Camera back"),
}
Filter = Annotated[str, Query(max_length=64)]


@router.get("/")
def show_live(
    request: Request,
    runtime: RuntimeDep,
    _: Viewer,
    camera: Filter = "",
    zone: Filter = "",
    type: Filter = "",
    open_only: bool = False,
    view: Literal["cards", "timeline"] = "cards",
) -> Response:
    """The latest events, newest first, with a live stream of new ones; as cards or as a
    compact timeline; "open only": the alerts nobody acknowledged yet."""
    event_type = _event_type(type)
    types = _types(event_type, open_only)
    query = events.EventQuery(
        camera_ids=[camera] if camera else (),
        zones=[zone] if zone else (),
        types=types or (),
        acknowledged=False if open_only else None,
        limit=FEED_SIZE,
    )
    feed = (
        events.list_events(runtime, query)
        if types is not None
        else Page[Event](items=[], total=0, offset=0, limit=FEED_SIZE)
    )
    stream = "/api/v1/events/stream" + query_string(
        {"camera_id": camera, "zone": zone, "type": event_type.value if event_type else ""}
    )
    context = {
        "feed": feed,
        "stream_url": stream,
        "filters": {"camera": camera, "zone": zone, "type": type, "open_only": open_only},
        "view": view,
        "types": list(EVENT_STYLES.items()),
        **_card_context(runtime, feed.items),
    }
    return render(request, "live.html", context)


@router.get("/live/events/{event_id}")
def show_event_card(request: Request, event_id: str, runtime: RuntimeDep, _: Viewer) -> Response:
    """One event's card (the live script inserts it when the event arrives)."""
    event = events.get_event(runtime, event_id)
    return render(request, "_event_card.html", {"event": event, **_card_context(runtime, [event])})


@router.post("/live/events/{event_id}/ack")
def acknowledge(
    request: Request,
    event_id: str,
    runtime: RuntimeDep,
    user: AcknowledgeForm,
    next: Annotated[str, Query(max_length=2000)] = "/",
) -> Response:
    """Acknowledge an event: its card for the script, or back to the feed."""
    event = events.acknowledge_event(runtime, event_id, by=f"user:{user.username}")
    if request.headers.get("x-requested-with") == "fetch":
        return render(
            request, "_event_card.html", {"event": event, **_card_context(runtime, [event])}
        )
    return redirect(safe_next(next), "Event acknowledged.")


def _event_type(value: str) -> EventType | None:
    try:
        return EventType(value) if value else None
    except ValueError:
        return None


def _types(event_type: EventType | None, open_only: bool) -> list[str] | None:
    """The types to list ([]: all; None: none can match): the one asked for; "open only"
    leaves out the routine ones, which never wait for an acknowledgement."""
    if not open_only:
        return [event_type.value] if event_type else []
    wanted = [event_type] if event_type else list(EventType)
    return [t.value for t in wanted if t not in severity.ROUTINE_TYPES] or None


def _card_context(runtime: Runtime, shown: Sequence[Event]) -> dict[str, object]:
    """What event cards need besides the event: its style, the names of cameras and zones
    (a card says "Lab door · zone Lab" as the other pages do, not the ids), and what
    "Wrong person" changed since about the faces shown."""
    with runtime.uow() as uow:
        cameras, _ = uow.cameras.list(0, MAX_CAMERAS)
        camera_names = {camera.id: camera.name for camera in cameras}
    zone_list = zones.list_zones(runtime, 0, MAX_ZONES).items
    return {
        "styles": EVENT_STYLES,
        "cameras": list(camera_names.items()),
        "camera_names": camera_names,
        "zones": zone_list,
        "zone_names": {zone.id: zone.name for zone in zone_list},
        "faces_fixed": unknowns.face_corrections(
            runtime, [e.detection_id for e in shown if e.detection_id is not None]
        ),
    }
