"""Zones: groups of cameras, and who is authorised in each."""

from __future__ import annotations

import builtins
import re
from collections.abc import Iterable

from sqlalchemy import Select, select, update
from sqlalchemy.orm import Session, selectinload

from facewatch.errors import Conflict, InvalidInput, NotFound
from facewatch.store.models import Camera, Person, Zone, ZoneAuthorization
from facewatch.store.repositories.common import Page, check_text, fetch_page, flush_or_conflict

# Zone ids appear in URLs and MQTT payloads, like camera ids: the same safe alphabet.
_ZONE_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}")
_CATEGORY = re.compile(r"[a-z][a-z0-9_-]{0,39}")


class ZoneRepository:
    """Reads and writes ``zones``, ``zone_authorizations`` and the zone of each camera."""

    def __init__(self, session: Session) -> None:
        self._session = session

    def add(self, id: str, name: str, description: str = "", restricted: bool = True) -> Zone:
        """Create a zone; ``Conflict`` if the id is taken."""
        check_zone_id(id)
        if self._session.get(Zone, id) is not None:
            raise Conflict(_id_taken(id))
        zone = Zone(id=id, name=_check_name(name), description=description, restricted=restricted)
        check_text(Zone.description, description)
        self._session.add(zone)
        flush_or_conflict(self._session, _id_taken(id))
        return zone

    def get(self, zone_id: str) -> Zone:
        """The zone with this id, authorisations loaded; ``NotFound`` if there is none."""
        zone = self._session.scalar(_with_authorizations(select(Zone)).filter_by(id=zone_id))
        if zone is None:
            raise NotFound(f"zone {zone_id!r} not found")
        return zone

    def list(self, offset: int = 0, limit: int = 100) -> Page[Zone]:
        """Zones by name."""
        statement = _with_authorizations(select(Zone)).order_by(Zone.name, Zone.id)
        return fetch_page(self._session, statement, offset, limit)

    def update(
        self,
        zone: Zone,
        *,
        name: str | None = None,
        description: str | None = None,
        restricted: bool | None = None,
    ) -> Zone:
        """Change the fields given (``None`` leaves a field as it is)."""
        if name is not None:
            zone.name = _check_name(name)
        if description is not None:
            zone.description = check_text(Zone.description, description)
        if restricted is not None:
            zone.restricted = restricted
        self._session.flush()
        return zone

    def delete(self, zone: Zone) -> None:
        """Forget ``zone``; its cameras leave it (their zone becomes empty)."""
        self._session.execute(update(Camera).where(Camera.zone == zone.id).values(zone=""))
        self._session.delete(zone)
        self._session.flush()

    def camera_ids(self, zone_id: str) -> builtins.list[str]:
        """The cameras in zone ``zone_id``, by id."""
        statement = select(Camera.id).where(Camera.zone == zone_id).order_by(Camera.id)
        return list(self._session.scalars(statement))

    def set_cameras(self, zone: Zone, camera_ids: Iterable[str]) -> None:
        """Make exactly ``camera_ids`` the cameras of ``zone`` (a camera is in one zone)."""
        wanted = set(camera_ids)
        missing = wanted - set(
            self._session.scalars(select(Camera.id).where(Camera.id.in_(wanted)))
        )
        if missing:
            raise InvalidInput(f"no such camera: {', '.join(sorted(missing))}")
        leaving = (Camera.zone == zone.id) & Camera.id.not_in(wanted)
        self._session.execute(update(Camera).where(leaving).values(zone=""))
        if wanted:
            joining = Camera.id.in_(wanted)
            self._session.execute(update(Camera).where(joining).values(zone=zone.id))
        self._session.flush()

    def set_authorizations(
        self, zone: Zone, person_ids: Iterable[int], categories: Iterable[str]
    ) -> None:
        """Make exactly these people and categories the ones authorised in ``zone``."""
        people = sorted(set(person_ids))
        found = set(self._session.scalars(select(Person.id).where(Person.id.in_(people))))
        if missing := [str(p) for p in people if p not in found]:
            raise InvalidInput(f"no such person: {', '.join(missing)}")
        zone.authorizations.clear()
        self._session.flush()  # delete the old rows before their unique keys come back
        zone.authorizations.extend(ZoneAuthorization(person_id=p) for p in people)
        zone.authorizations.extend(
            ZoneAuthorization(category=_check_category(c)) for c in sorted(set(categories))
        )
        self._session.flush()

    def zone_of_camera(self, camera_id: str) -> Zone | None:
        """The zone camera ``camera_id`` is in, authorisations loaded; ``None`` if none."""
        statement = _with_authorizations(select(Zone)).join(Camera, Camera.zone == Zone.id)
        return self._session.scalar(statement.where(Camera.id == camera_id))


def _with_authorizations(statement: Select[Zone]) -> Select[Zone]:
    return statement.options(selectinload(Zone.authorizations))


def check_zone_id(zone_id: str) -> str:
    """Return ``zone_id`` if it is 1-64 letters, digits, ``_ . : -``; else ``InvalidInput``."""
    if not isinstance(zone_id, str) or _ZONE_ID.fullmatch(zone_id) is None:
        raise InvalidInput(
            f"invalid zone id {zone_id!r}: use 1 to 64 letters, digits, '_', '.', ':' or '-', "
            "starting with a letter or digit"
        )
    return zone_id


def _check_name(name: str) -> str:
    check_text(Zone.name, name)
    if not name.strip():
        raise InvalidInput("zone name must not be empty")
    return name


def _check_category(category: str) -> str:
    if _CATEGORY.fullmatch(category) is None:
        raise InvalidInput(f"invalid category {category!r}")
    return category


def _id_taken(zone_id: str) -> str:
    return f"a zone with id {zone_id!r} already exists"
