"""Cameras (or any image source) and where they stand."""

from __future__ import annotations

import re
from typing import TypedDict, Unpack

from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from facewatch.errors import Conflict, InvalidInput, NotFound
from facewatch.store.models import Camera, utcnow
from facewatch.store.repositories.common import Page, check_text, fetch_page, flush_or_conflict

# Camera ids appear in URLs, MQTT topics and file names: keep them to a safe alphabet.
_CAMERA_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}")


class CameraChanges(TypedDict, total=False):
    """The fields ``CameraRepository.update`` may change; absent keys stay as they are."""

    name: str
    site: str
    zone: str
    location: str
    latitude: float | None
    longitude: float | None


class CameraRepository:
    """Reads and writes the ``cameras`` table."""

    def __init__(self, session: Session) -> None:
        self._session = session

    def add(
        self,
        id: str,
        name: str,
        site: str = "",
        zone: str = "",
        location: str = "",
        latitude: float | None = None,
        longitude: float | None = None,
    ) -> Camera:
        """Register a camera; ``Conflict`` if the id is taken."""
        check_camera_id(id)
        if self._session.get(Camera, id) is not None:
            raise Conflict(_id_taken(id))
        camera = Camera(id=id)
        self._apply(
            camera,
            CameraChanges(
                name=name,
                site=site,
                zone=zone,
                location=location,
                latitude=latitude,
                longitude=longitude,
            ),
        )
        self._session.add(camera)
        flush_or_conflict(self._session, _id_taken(id))
        return camera

    def ensure(self, camera_id: str) -> Camera:
        """The camera with this id, registered (named after its id) if it is new.

        Safe against concurrent first sightings: the insert is ``ON CONFLICT DO NOTHING``,
        so of several requests registering the same new camera at once, one inserts and the
        others wait for it and read its row, instead of failing on the unique id.
        """
        camera = self._session.get(Camera, camera_id)
        if camera is not None:
            return camera
        check_camera_id(camera_id)
        dialect = self._session.get_bind().dialect.name
        insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
        statement = (
            insert(Camera)
            .values(
                id=camera_id, name=camera_id, site="", zone="", location="", created_at=utcnow()
            )
            .on_conflict_do_nothing(index_elements=[Camera.id])
        )
        self._session.execute(statement)
        camera = self._session.get(Camera, camera_id)
        assert camera is not None  # inserted here, or committed by the request that won
        return camera

    def get(self, camera_id: str) -> Camera:
        """The camera with this id; ``NotFound`` if there is none."""
        camera = self._session.get(Camera, camera_id)
        if camera is None:
            raise NotFound(f"camera {camera_id!r} not found")
        return camera

    def list(self, offset: int = 0, limit: int = 100) -> Page[Camera]:
        """Cameras by site, zone and name."""
        statement = select(Camera).order_by(Camera.site, Camera.zone, Camera.name, Camera.id)
        return fetch_page(self._session, statement, offset, limit)

    def update(self, camera: Camera, **changes: Unpack[CameraChanges]) -> Camera:
        """Change some fields of ``camera``."""
        self._apply(camera, changes)
        self._session.flush()
        return camera

    def delete(self, camera: Camera) -> None:
        """Forget ``camera``; its detections stay, without a camera (ON DELETE SET NULL)."""
        self._session.delete(camera)
        self._session.flush()

    @staticmethod
    def _apply(camera: Camera, changes: CameraChanges) -> None:
        if "name" in changes:
            camera.name = _check_name(changes["name"])
        if "site" in changes:
            camera.site = check_text(Camera.site, changes["site"])
        if "zone" in changes:
            camera.zone = check_text(Camera.zone, changes["zone"])
        if "location" in changes:
            camera.location = check_text(Camera.location, changes["location"])
        if "latitude" in changes:
            camera.latitude = _check_coordinate("latitude", changes["latitude"], 90)
        if "longitude" in changes:
            camera.longitude = _check_coordinate("longitude", changes["longitude"], 180)


def check_camera_id(camera_id: str) -> str:
    """Return ``camera_id`` if it is 1-64 letters, digits, ``_ . : -``; else ``InvalidInput``."""
    if not isinstance(camera_id, str) or _CAMERA_ID.fullmatch(camera_id) is None:
        raise InvalidInput(
            f"invalid camera id {camera_id!r}: use 1 to 64 letters, digits, '_', '.', ':' "
            "or '-', starting with a letter or digit"
        )
    return camera_id


def _check_name(name: str) -> str:
    check_text(Camera.name, name)
    if not name.strip():
        raise InvalidInput("camera name must not be empty")
    return name


def _check_coordinate(field: str, value: float | None, bound: float) -> float | None:
    if value is None:
        return None
    if not -bound <= value <= bound:
        raise InvalidInput(f"{field} must be between -{bound} and {bound}, not {value}")
    return float(value)


def _id_taken(camera_id: str) -> str:
    return f"a camera with id {camera_id!r} already exists"
