"""An event's page: the face, the candidates and distances, camera and zone, the rule."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response

from facewatch.dashboard.auth import Viewer
from facewatch.dashboard.routes.live import EVENT_STYLES
from facewatch.dashboard.web import DashboardRoute, render
from facewatch.server.deps import RuntimeDep
from facewatch.server.services import unknowns
from facewatch.server.services.event_details import event_detail

router = APIRouter(route_class=DashboardRoute, include_in_schema=False)


@router.get("/events/{event_id}")
def show_event(request: Request, event_id: str, runtime: RuntimeDep, _: Viewer) -> Response:
    """Everything known about one event, and why it was raised."""
    detail = event_detail(runtime, event_id)
    faces = [detail.detection.id] if detail.detection is not None else []
    faces_fixed = unknowns.face_corrections(runtime, faces)
    context = {"detail": detail, "styles": EVENT_STYLES, "faces_fixed": faces_fixed}
    return render(request, "event.html", context)
