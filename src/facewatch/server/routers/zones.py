"""Zones: groups of cameras, and who is authorised in each."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Response, status

from facewatch.server.deps import AdminKey, ReadKey, StorageDep
from facewatch.server.events.schemas import ZoneCreate, ZoneOut, ZoneUpdate
from facewatch.server.routers.people import ERRORS
from facewatch.server.schemas import Page
from facewatch.server.services import zones

router = APIRouter(prefix="/api/v1/zones", tags=["zones"])


@router.post("", status_code=status.HTTP_201_CREATED, response_model=ZoneOut, responses=ERRORS)
def create_zone(body: ZoneCreate, storage: StorageDep, _: AdminKey) -> ZoneOut:
    """Create a zone with its cameras and the people and categories authorised in it."""
    return zones.create_zone(storage, body)


@router.get("", response_model=Page[ZoneOut], responses=ERRORS)
def list_zones(
    storage: StorageDep,
    _: ReadKey,
    offset: Annotated[int, Query(ge=0)] = 0,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> Page[ZoneOut]:
    """List zones by name."""
    return zones.list_zones(storage, offset, limit)


@router.get("/{zone_id}", response_model=ZoneOut, responses=ERRORS)
def get_zone(zone_id: str, storage: StorageDep, _: ReadKey) -> ZoneOut:
    """Read one zone."""
    return zones.get_zone(storage, zone_id)


@router.patch("/{zone_id}", response_model=ZoneOut, responses=ERRORS)
def update_zone(zone_id: str, body: ZoneUpdate, storage: StorageDep, _: AdminKey) -> ZoneOut:
    """Change a zone; a list given (cameras, people, categories) replaces the old one."""
    return zones.update_zone(storage, zone_id, body)


@router.delete("/{zone_id}", status_code=status.HTTP_204_NO_CONTENT, responses=ERRORS)
def delete_zone(zone_id: str, storage: StorageDep, _: AdminKey) -> Response:
    """Delete a zone (its cameras stay, in no zone)."""
    zones.delete_zone(storage, zone_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
