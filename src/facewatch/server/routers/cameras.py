"""Cameras: where images come from."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Response, status

from facewatch.server.deps import AdminKey, ReadKey, RuntimeDep, StorageDep
from facewatch.server.routers.people import ERRORS
from facewatch.server.schemas import CameraCreate, CameraOut, CameraUpdate, Page
from facewatch.server.schemas_health import CameraStatusOut
from facewatch.server.services import camera_health, cameras

router = APIRouter(prefix="/api/v1/cameras", tags=["cameras"])


@router.post("", status_code=status.HTTP_201_CREATED, response_model=CameraOut, responses=ERRORS)
def create_camera(body: CameraCreate, storage: StorageDep, _: AdminKey) -> CameraOut:
    """Register a camera."""
    return cameras.create_camera(storage, body)


@router.get("", response_model=Page[CameraStatusOut], responses=ERRORS)
def list_cameras(
    runtime: RuntimeDep,
    _: ReadKey,
    offset: Annotated[int, Query(ge=0)] = 0,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> Page[CameraStatusOut]:
    """List cameras, each with its edge agent's last health report."""
    page = cameras.list_cameras(runtime, offset, limit)
    with_health = camera_health.with_health(runtime, page.items)
    return Page[CameraStatusOut](items=with_health, total=page.total, offset=offset, limit=limit)


@router.get("/{camera_id}", response_model=CameraStatusOut, responses=ERRORS)
def get_camera(camera_id: str, runtime: RuntimeDep, _: ReadKey) -> CameraStatusOut:
    """Read one camera, with its edge agent's last health report."""
    return camera_health.with_health(runtime, [cameras.get_camera(runtime, camera_id)])[0]


@router.get(
    "/{camera_id}/snapshot",
    response_class=Response,
    responses={**ERRORS, 200: {"content": {"image/jpeg": {}}, "description": "The still"}},
)
def get_camera_snapshot(camera_id: str, runtime: RuntimeDep, _: ReadKey) -> Response:
    """The camera's latest snapshot (404 if its agent sends none)."""
    snapshot = camera_health.latest_snapshot(runtime, camera_id)
    headers = {
        "Cache-Control": "private, no-cache",
        "Last-Modified": snapshot.taken_at.strftime("%a, %d %b %Y %H:%M:%S GMT"),
    }
    return Response(snapshot.data, media_type=snapshot.content_type, headers=headers)


@router.patch("/{camera_id}", response_model=CameraOut, responses=ERRORS)
def update_camera(
    camera_id: str, body: CameraUpdate, storage: StorageDep, _: AdminKey
) -> CameraOut:
    """Change a camera's name, site, zone or location."""
    return cameras.update_camera(storage, camera_id, body)


@router.delete("/{camera_id}", status_code=status.HTTP_204_NO_CONTENT, responses=ERRORS)
def delete_camera(camera_id: str, runtime: RuntimeDep, _: AdminKey) -> Response:
    """Remove a camera (its detections stay, without a camera; its snapshot goes)."""
    camera_health.delete_camera(runtime, camera_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
