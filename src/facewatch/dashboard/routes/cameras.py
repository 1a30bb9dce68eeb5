"""Cameras and zones: create, edit, delete; who is authorised in each zone; last contact."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Form, Request, Response

from facewatch.dashboard.auth import AdminForm, Viewer
from facewatch.dashboard.forms import blank_to_none, parse
from facewatch.dashboard.web import DashboardRoute, redirect, render
from facewatch.errors import FacewatchError
from facewatch.server.deps import RuntimeDep
from facewatch.server.events.schemas import ZoneCreate, ZoneUpdate
from facewatch.server.infra.runtime import Runtime
from facewatch.server.schemas import CameraCreate, CameraOut, CameraUpdate
from facewatch.server.schemas_health import CameraHealthOut
from facewatch.server.services import camera_health, cameras, people, zones
from facewatch.server.services.detections import DetectionQuery, query_detections

router = APIRouter(route_class=DashboardRoute, include_in_schema=False)
MAX_CAMERAS = 500
MAX_ZONES = 500
MAX_PEOPLE = 1000
Short = Annotated[str, Form(max_length=500)]


@dataclass(frozen=True, slots=True)
class CameraView:
    """A camera with its health as far as the server knows it."""

    camera: CameraOut
    last_contact: datetime | None
    """When the server last received a face from this camera."""
    health: CameraHealthOut | None = None
    """What its edge agent said in its last heartbeat (None: it never reported)."""


@router.get("/cameras")
def list_cameras(request: Request, runtime: RuntimeDep, _: Viewer) -> Response:
    """Every camera with its site, zone, location, last contact, its edge agent's health
    and latest snapshot; every zone."""
    everyone = people.list_people(runtime, None, None, 0, MAX_PEOPLE).items
    context = {
        "cameras": _cameras(runtime),
        "zones": zones.list_zones(runtime, 0, MAX_ZONES).items,
        "people": everyone,
        "names": {person.id: person.name for person in everyone},
    }
    return render(request, "cameras.html", context)


@router.post("/cameras")
def create_camera(
    runtime: RuntimeDep,
    _: AdminForm,
    id: Annotated[str, Form(max_length=64)],
    name: Annotated[str, Form(max_length=200)],
    site: Short = "",
    zone: Short = "",
    location: Short = "",
    latitude: Annotated[str, Form(max_length=40)] = "",
    longitude: Annotated[str, Form(max_length=40)] = "",
) -> Response:
    """Register a camera."""
    try:
        data = parse(
            CameraCreate,
            id=id.strip(),
            name=name,
            site=site.strip(),
            zone=zone.strip(),
            location=location.strip(),
            latitude=blank_to_none(latitude),
            longitude=blank_to_none(longitude),
        )
        cameras.create_camera(runtime, data)
    except FacewatchError as exc:
        return redirect("/cameras", exc.message, error=True)
    return redirect("/cameras", f"Camera {data.id} added.")


@router.post("/cameras/{camera_id}")
def update_camera(
    camera_id: str,
    runtime: RuntimeDep,
    _: AdminForm,
    name: Annotated[str, Form(max_length=200)],
    site: Short = "",
    zone: Short = "",
    location: Short = "",
    latitude: Annotated[str, Form(max_length=40)] = "",
    longitude: Annotated[str, Form(max_length=40)] = "",
) -> Response:
    """Change a camera's name, site, zone, location or coordinates."""
    try:
        data = parse(
            CameraUpdate,
            name=name,
            site=site.strip(),
            zone=zone.strip(),
            location=location.strip(),
            latitude=blank_to_none(latitude),
            longitude=blank_to_none(longitude),
        )
        # Every field is on the form: an empty coordinate clears it.
        cameras.update_camera(runtime, camera_id, data, every_field=True)
    except FacewatchError as exc:
        return redirect("/cameras", exc.message, error=True)
    return redirect("/cameras", f"Camera {camera_id} saved.")


@router.post("/cameras/{camera_id}/delete")
def delete_camera(camera_id: str, runtime: RuntimeDep, _: AdminForm) -> Response:
    """Remove a camera; its detections stay, without a camera; its snapshot goes."""
    camera_health.delete_camera(runtime, camera_id)
    return redirect("/cameras", f"Camera {camera_id} removed.")


@router.get("/cameras/{camera_id}/snapshot")
def get_snapshot(camera_id: str, runtime: RuntimeDep, _: Viewer) -> Response:
    """The camera's latest still (the page asks with the time it was taken, so that a new
    one is fetched and an unchanged one comes from the browser's cache)."""
    snapshot = camera_health.latest_snapshot(runtime, camera_id)
    headers = {"Cache-Control": "private, max-age=86400"}
    return Response(snapshot.data, media_type=snapshot.content_type, headers=headers)


def _cameras(runtime: Runtime) -> list[CameraView]:
    outs = cameras.list_cameras(runtime, 0, MAX_CAMERAS).items
    return [
        CameraView(camera, _last_contact(runtime, camera.id), camera.health)
        for camera in camera_health.with_health(runtime, outs)
    ]


def _last_contact(runtime: Runtime, camera_id: str) -> datetime | None:
    latest = query_detections(runtime, DetectionQuery(camera_id=camera_id, limit=1))
    return latest.items[0].received_at if latest.items else None


# --- zones -----------------------------------------------------------------------------
CameraList = Annotated[list[str] | None, Form()]
PeopleList = Annotated[list[int] | None, Form()]


@router.post("/zones")
def create_zone(
    runtime: RuntimeDep,
    _: AdminForm,
    id: Annotated[str, Form(max_length=64)],
    name: Annotated[str, Form(max_length=200)],
    description: Annotated[str, Form(max_length=5000)] = "",
    restricted: Annotated[bool, Form()] = False,
    cameras: CameraList = None,
    people: PeopleList = None,
    categories: Annotated[str, Form(max_length=2000)] = "",
) -> Response:
    """Create a zone with its cameras and the people and categories allowed in it."""
    try:
        data = parse(
            ZoneCreate,
            id=id.strip(),
            name=name,
            description=description,
            restricted=restricted,
            cameras=cameras or [],
            people=people or [],
            categories=_categories(categories),
        )
        zones.create_zone(runtime, data)
    except FacewatchError as exc:
        return redirect("/cameras#zones", exc.message, error=True)
    return redirect("/cameras#zones", f"Zone {data.id} created.")


@router.post("/zones/{zone_id}")
def update_zone(
    zone_id: str,
    runtime: RuntimeDep,
    _: AdminForm,
    name: Annotated[str, Form(max_length=200)],
    description: Annotated[str, Form(max_length=5000)] = "",
    restricted: Annotated[bool, Form()] = False,
    cameras: CameraList = None,
    people: PeopleList = None,
    categories: Annotated[str, Form(max_length=2000)] = "",
) -> Response:
    """Change a zone; the lists on the form replace the old ones."""
    try:
        data = parse(
            ZoneUpdate,
            name=name,
            description=description,
            restricted=restricted,
            cameras=cameras or [],
            people=people or [],
            categories=_categories(categories),
        )
        zones.update_zone(runtime, zone_id, data)
    except FacewatchError as exc:
        return redirect("/cameras#zones", exc.message, error=True)
    return redirect("/cameras#zones", f"Zone {zone_id} saved.")


@router.post("/zones/{zone_id}/delete")
def delete_zone(zone_id: str, runtime: RuntimeDep, _: AdminForm) -> Response:
    """Delete a zone; its cameras stay, in no zone."""
    zones.delete_zone(runtime, zone_id)
    return redirect("/cameras#zones", f"Zone {zone_id} deleted.")


def _categories(text: str) -> list[str]:
    """Categories typed as a comma-separated list."""
    return [part.strip() for part in text.split(",") if part.strip()]
