"""Cameras: register, list, read, change (shared by the API, the dashboard and the CLI).

Their edge agents' health and snapshots, and deleting a camera with its still, are
``services/camera_health.py``.
"""

from __future__ import annotations

import logging

from facewatch.server.infra.runtime import Storage
from facewatch.server.schemas import CameraCreate, CameraOut, CameraUpdate, Page

logger = logging.getLogger(__name__)


def create_camera(storage: Storage, body: CameraCreate) -> CameraOut:
    """Register a camera; ``Conflict`` if its id is taken."""
    with storage.uow() as uow:
        camera = uow.cameras.add(**body.model_dump())
        uow.commit()
        logger.info("camera %s registered", camera.id)
        return CameraOut.model_validate(camera)


def list_cameras(storage: Storage, offset: int, limit: int) -> Page[CameraOut]:
    """Cameras in the repository's order."""
    with storage.uow() as uow:
        cameras, total = uow.cameras.list(offset, limit)
        items = [CameraOut.model_validate(c) for c in cameras]
    return Page[CameraOut](items=items, total=total, offset=offset, limit=limit)


def get_camera(storage: Storage, camera_id: str) -> CameraOut:
    """One camera; ``NotFound`` if there is none with this id."""
    with storage.uow() as uow:
        return CameraOut.model_validate(uow.cameras.get(camera_id))


def update_camera(
    storage: Storage, camera_id: str, body: CameraUpdate, *, every_field: bool = False
) -> CameraOut:
    """Change a camera: the fields ``body`` sets, or (``every_field``, a form that shows
    them all) every field, so that an emptied coordinate is cleared."""
    with storage.uow() as uow:
        camera = uow.cameras.get(camera_id)
        uow.cameras.update(camera, **body.model_dump(exclude_unset=not every_field))
        uow.commit()
        return CameraOut.model_validate(camera)
