"""Events: the live stream (SSE), the list of past events, acknowledgement, counters."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Header, Query
from fastapi.responses import StreamingResponse

from facewatch.errors import InvalidInput
from facewatch.server.deps import AdminKey, ReadKey, ReadKeyOrSession, RuntimeDep
from facewatch.server.events import Event, EventType, StreamFilter
from facewatch.server.events.schemas import EventStatsOut
from facewatch.server.routers.people import ERRORS
from facewatch.server.schemas import Page
from facewatch.server.services import events

router = APIRouter(prefix="/api/v1/events", tags=["events"])

CameraIds = Annotated[
    list[str] | None, Query(alias="camera_id", description="Repeat to allow several cameras")
]
Zones = Annotated[list[str] | None, Query(alias="zone", description="Zone ids; repeatable")]
Types = Annotated[list[EventType] | None, Query(alias="type", description="Repeatable")]
STREAM_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}


@router.get(
    "/stream",
    response_class=StreamingResponse,
    responses={**ERRORS, 200: {"content": {"text/event-stream": {}}, "description": "SSE"}},
)
async def stream_events(
    runtime: RuntimeDep,
    _: ReadKeyOrSession,
    camera_ids: CameraIds = None,
    zones: Zones = None,
    types: Types = None,
    last_event_id: Annotated[
        str | None,
        Header(alias="Last-Event-ID", max_length=64, description="Replay what came after it"),
    ] = None,
) -> StreamingResponse:
    """Follow events live as Server-Sent Events, filtered by camera, zone and type."""
    where = StreamFilter(
        camera_ids=frozenset(camera_ids or ()),
        zones=frozenset(zones or ()),
        types=frozenset(types or ()),
    )
    frames = events.sse_frames(runtime, where, last_event_id)
    return StreamingResponse(frames, media_type="text/event-stream", headers=STREAM_HEADERS)


@router.get("/stats", response_model=EventStatsOut, responses=ERRORS)
def get_event_stats(runtime: RuntimeDep, _: ReadKey) -> EventStatsOut:
    """Counters of the event path: queued, dropped, handled and failed per stage."""
    return events.event_stats(runtime)


@router.get("", response_model=Page[Event], responses=ERRORS)
def list_events(
    runtime: RuntimeDep,
    _: ReadKey,
    camera_ids: CameraIds = None,
    zones: Zones = None,
    types: Types = None,
    person_id: int | None = None,
    since: Annotated[datetime | None, Query(description="ISO 8601, inclusive")] = None,
    until: Annotated[datetime | None, Query(description="ISO 8601, exclusive")] = None,
    acknowledged: Annotated[
        bool | None, Query(description="true: only acknowledged; false: only open")
    ] = None,
    offset: Annotated[int, Query(ge=0)] = 0,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
) -> Page[Event]:
    """Past events, newest first, by camera, zone, type, person, time or acknowledgement."""
    if since and until and _utc(since) >= _utc(until):
        raise InvalidInput("'since' must be before 'until'")
    query = events.EventQuery(
        camera_ids=camera_ids or (),
        zones=zones or (),
        types=[t.value for t in types or ()],
        person_id=person_id,
        since=_utc(since) if since else None,
        until=_utc(until) if until else None,
        acknowledged=acknowledged,
        offset=offset,
        limit=limit,
    )
    return events.list_events(runtime, query)


@router.get("/{event_id}", response_model=Event, responses=ERRORS)
def get_event(event_id: str, runtime: RuntimeDep, _: ReadKey) -> Event:
    """Read one event."""
    return events.get_event(runtime, event_id)


@router.post("/{event_id}/ack", response_model=Event, responses=ERRORS)
def acknowledge_event(event_id: str, runtime: RuntimeDep, key: AdminKey) -> Event:
    """Acknowledge an event (again: no change, the first acknowledgement stays)."""
    return events.acknowledge_event(runtime, event_id, by=f"api-key:{key.prefix}")


def _utc(moment: datetime) -> datetime:
    """A timezone-aware UTC time; a naive one is taken as UTC."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
