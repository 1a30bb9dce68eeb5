"""Zones: create, list, read, change, delete (shared by the API and the dashboard)."""

from __future__ import annotations

import logging

from facewatch.server.events.schemas import ZoneCreate, ZoneOut, ZoneUpdate
from facewatch.server.infra.runtime import Storage
from facewatch.server.schemas import Page
from facewatch.store.models import Zone
from facewatch.store.unit_of_work import UnitOfWork

logger = logging.getLogger(__name__)


def create_zone(storage: Storage, body: ZoneCreate) -> ZoneOut:
    """Create a zone with its cameras and authorisations, in one transaction."""
    with storage.uow() as uow:
        zone = uow.zones.add(body.id, body.name, body.description, body.restricted)
        uow.zones.set_cameras(zone, body.cameras)
        uow.zones.set_authorizations(zone, body.people, body.categories)
        uow.commit()
        logger.info("zone %s created (%s cameras)", zone.id, len(body.cameras))
        return zone_out(uow, zone)


def list_zones(storage: Storage, offset: int, limit: int) -> Page[ZoneOut]:
    """Zones by name."""
    with storage.uow() as uow:
        zones, total = uow.zones.list(offset, limit)
        items = [zone_out(uow, zone) for zone in zones]
    return Page[ZoneOut](items=items, total=total, offset=offset, limit=limit)


def get_zone(storage: Storage, zone_id: str) -> ZoneOut:
    """One zone; ``NotFound`` if there is none."""
    with storage.uow() as uow:
        return zone_out(uow, uow.zones.get(zone_id))


def update_zone(storage: Storage, zone_id: str, body: ZoneUpdate) -> ZoneOut:
    """Change a zone; the lists given replace the old ones."""
    with storage.uow() as uow:
        zone = uow.zones.get(zone_id)
        uow.zones.update(
            zone, name=body.name, description=body.description, restricted=body.restricted
        )
        if body.cameras is not None:
            uow.zones.set_cameras(zone, body.cameras)
        if body.people is not None or body.categories is not None:
            people, categories = _authorized(zone)
            uow.zones.set_authorizations(
                zone,
                body.people if body.people is not None else people,
                body.categories if body.categories is not None else categories,
            )
        uow.commit()
        return zone_out(uow, zone)


def delete_zone(storage: Storage, zone_id: str) -> None:
    """Delete a zone; its cameras stay, in no zone."""
    with storage.uow() as uow:
        uow.zones.delete(uow.zones.get(zone_id))
        uow.commit()
        logger.info("zone %s deleted", zone_id)


def zone_out(uow: UnitOfWork, zone: Zone) -> ZoneOut:
    """The wire form of a zone, with its cameras."""
    people, categories = _authorized(zone)
    return ZoneOut(
        id=zone.id,
        name=zone.name,
        description=zone.description,
        restricted=zone.restricted,
        cameras=uow.zones.camera_ids(zone.id),
        people=people,
        categories=categories,
        created_at=zone.created_at,
    )


def _authorized(zone: Zone) -> tuple[list[int], list[str]]:
    people = sorted(a.person_id for a in zone.authorizations if a.person_id is not None)
    categories = sorted(a.category for a in zone.authorizations if a.category is not None)
    return people, categories
