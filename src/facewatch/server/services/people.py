"""People: create, find, change and delete (with every template, photo and crop)."""

from __future__ import annotations

import logging

from facewatch.server.schemas import (
    LastSeenOut,
    Page,
    PersonCreate,
    PersonOut,
    PersonUpdate,
)
from facewatch.server.services.erasure import erase_person
from facewatch.server.services.runtime import Runtime
from facewatch.store.models import Person
from facewatch.store.unit_of_work import UnitOfWork

logger = logging.getLogger(__name__)


def person_out(uow: UnitOfWork, person: Person) -> PersonOut:
    """The wire form of a person, with their number of templates."""
    counts = uow.templates.count_by_person([person.id])
    return _out(person, counts.get(person.id, 0))


def _out(person: Person, templates: int) -> PersonOut:
    return PersonOut(
        id=person.id,
        name=person.name,
        category=person.category,
        notes=person.notes,
        templates=templates,
        created_at=person.created_at,
        updated_at=person.updated_at,
    )


def create_person(runtime: Runtime, data: PersonCreate) -> PersonOut:
    """Add a person (no templates yet); a taken name is a Conflict."""
    with runtime.uow() as uow:
        person = uow.people.add(data.name, data.category, data.notes)
        uow.commit()
        return _out(person, 0)


def list_people(
    runtime: Runtime, query: str | None, category: str | None, offset: int, limit: int
) -> Page[PersonOut]:
    """People whose name contains ``query`` (any case), by name."""
    with runtime.uow() as uow:
        people, total = uow.people.list(query, category, offset, limit)
        counts = uow.templates.count_by_person([p.id for p in people])
        items = [_out(p, counts.get(p.id, 0)) for p in people]
        return Page[PersonOut](items=items, total=total, offset=offset, limit=limit)


def get_person(runtime: Runtime, person_id: int) -> PersonOut:
    with runtime.uow() as uow:
        return person_out(uow, uow.people.get(person_id))


def find_person(runtime: Runtime, name: str) -> PersonOut | None:
    with runtime.uow() as uow:
        person = uow.people.get_by_name(name)
        return None if person is None else person_out(uow, person)


def update_person(runtime: Runtime, person_id: int, data: PersonUpdate) -> PersonOut:
    """Change name, category or notes; the gallery follows a new name at once."""
    changes = data.model_dump(exclude_unset=True, exclude_none=True)
    with runtime.uow() as uow:
        person = uow.people.get(person_id)
        uow.people.update(person, **changes)
        uow.commit()
        out = person_out(uow, person)
    if "name" in changes:
        runtime.loaded_gallery_do(lambda g: g.rename(person_id, out.name))
    return out


def delete_person(runtime: Runtime, person_id: int) -> None:
    """Erase a person: templates, photos, detections (or anonymised), crops, blobs, events."""
    erase_person(runtime, person_id)


def last_seen(runtime: Runtime, person_id: int) -> LastSeenOut | None:
    """Where and when a person was last detected, or None if never."""
    with runtime.uow() as uow:
        uow.people.get(person_id)
        detection = uow.detections.last_for_person(person_id)
        if detection is None:
            return None
        camera = detection.camera
        return LastSeenOut(
            person_id=person_id,
            detection_id=detection.id,
            captured_at=detection.captured_at,
            camera_id=detection.camera_id,
            camera_name=camera.name if camera else None,
            site=camera.site if camera else None,
            zone=camera.zone if camera else None,
            location=camera.location if camera else None,
            latitude=camera.latitude if camera else None,
            longitude=camera.longitude if camera else None,
        )
