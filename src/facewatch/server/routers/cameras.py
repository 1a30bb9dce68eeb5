"""Cameras: where images come from."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Response, status

from facewatch.server.deps import AdminKey, ReadKey, RuntimeDep
from facewatch.server.routers.people import ERRORS
from facewatch.server.schemas import CameraCreate, CameraOut, CameraUpdate, Page

router = APIRouter(prefix="/api/v1/cameras", tags=["cameras"])


@router.post("", status_code=status.HTTP_201_CREATED, response_model=CameraOut, responses=ERRORS)
def create_camera(body: CameraCreate, runtime: RuntimeDep, _: AdminKey) -> CameraOut:
    """Register a camera."""
    with runtime.uow() as uow:
        camera = uow.cameras.add(**body.model_dump())
        uow.commit()
        return CameraOut.model_validate(camera)


@router.get("", response_model=Page[CameraOut], responses=ERRORS)
def list_cameras(
    runtime: RuntimeDep,
    _: ReadKey,
    offset: Annotated[int, Query(ge=0)] = 0,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> Page[CameraOut]:
    """List cameras by id."""
    with runtime.uow() as uow:
        cameras, total = uow.cameras.list(offset, limit)
        items = [CameraOut.model_validate(c) for c in cameras]
        return Page[CameraOut](items=items, total=total, offset=offset, limit=limit)


@router.get("/{camera_id}", response_model=CameraOut, responses=ERRORS)
def get_camera(camera_id: str, runtime: RuntimeDep, _: ReadKey) -> CameraOut:
    """Read one camera."""
    with runtime.uow() as uow:
        return CameraOut.model_validate(uow.cameras.get(camera_id))


@router.patch("/{camera_id}", response_model=CameraOut, responses=ERRORS)
def update_camera(
    camera_id: str, body: CameraUpdate, runtime: RuntimeDep, _: AdminKey
) -> CameraOut:
    """Change a camera's name, site, zone or location."""
    with runtime.uow() as uow:
        camera = uow.cameras.get(camera_id)
        uow.cameras.update(camera, **body.model_dump(exclude_unset=True))
        uow.commit()
        return CameraOut.model_validate(camera)


@router.delete("/{camera_id}", status_code=status.HTTP_204_NO_CONTENT, responses=ERRORS)
def delete_camera(camera_id: str, runtime: RuntimeDep, _: AdminKey) -> Response:
    """Remove a camera (its detections stay, without a camera)."""
    with runtime.uow() as uow:
        uow.cameras.delete(uow.cameras.get(camera_id))
        uow.commit()
    return Response(status_code=status.HTTP_204_NO_CONTENT)
