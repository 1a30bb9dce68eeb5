"""One event in detail: its face, candidates and distances, camera, zone and the rule."""

from __future__ import annotations

from fastapi import APIRouter

from facewatch.server.deps import ReadKey, RuntimeDep
from facewatch.server.events.schemas import EventDetailOut
from facewatch.server.routers.people import ERRORS
from facewatch.server.services import event_details

router = APIRouter(prefix="/api/v1/events", tags=["events"])


@router.get("/{event_id}/details", response_model=EventDetailOut, responses=ERRORS)
def get_event_details(event_id: str, runtime: RuntimeDep, _: ReadKey) -> EventDetailOut:
    """Read an event with its candidates and distances, camera, zone and the rule that fired."""
    return event_details.event_detail(runtime, event_id)
