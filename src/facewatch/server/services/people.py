"""People: create, find, change and delete (with every template, photo and crop); their
enrolment photos one by one."""

from __future__ import annotations

import logging

from facewatch.errors import NotFound
from facewatch.server.infra.runtime import Runtime
from facewatch.server.schemas import (
    LastSeenOut,
    Page,
    PersonCreate,
    PersonOut,
    PersonUpdate,
    TemplateOut,
)
from facewatch.server.services.erasure import erase_person
from facewatch.store.models import Person, Template
from facewatch.store.unit_of_work import UnitOfWork
from facewatch.types import Box
from facewatch.vision.image import crop_face, decode_image, encode_jpeg

logger = logging.getLogger(__name__)

FACE_MARGIN = 0.3
"""Room around an enrolment photo's face box, times its size, when it is shown alone."""


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


def list_faces(runtime: Runtime, person_id: int) -> list[TemplateOut]:
    """A person's templates (one per enrolment photo and model), oldest first."""
    with runtime.uow() as uow:
        uow.people.get(person_id)
        return [_template_out(t) for t in uow.templates.list_for_person(person_id)]


def _template_out(template: Template) -> TemplateOut:
    return TemplateOut(
        id=template.id,
        person_id=template.person_id,
        model=template.model,
        quality=round(template.quality, 4),
        box=template.box,
        image_sha256=template.image.sha256 if template.image is not None else None,
        created_at=template.created_at,
    )


def delete_face(runtime: Runtime, person_id: int, template_id: int) -> list[int]:
    """Delete one enrolment photo of a person: the template ``template_id`` and the person's
    other templates of the same photo (made by other models), the photo itself if nothing
    else uses it; the person stays. Returns the template ids removed.

    ``NotFound`` for a template of another person: an id is no licence to reach across.
    """
    with runtime.uow() as uow:
        uow.people.get(person_id)
        template = uow.templates.get(template_id)
        if template.person_id != person_id:
            raise NotFound(f"person {person_id} has no template {template_id}")
        same_photo = [
            t
            for t in uow.templates.list_for_person(person_id)
            if t.id == template_id or (t.image_id is not None and t.image_id == template.image_id)
        ]
        removed = [t.id for t in same_photo]
        for row in same_photo:
            for key in uow.templates.delete(row):
                uow.delete_blob_after_commit(key)
        uow.commit()
    # Every replica, and the snapshot at its next load, drops them (infra/sync.py).
    runtime.loaded_gallery_do(lambda g: g.remove_templates(removed))
    logger.info("person %s: templates %s deleted", person_id, removed)
    return removed


def enrolment_face(runtime: Runtime, person_id: int, template_id: int) -> bytes:
    """The face of one enrolment photo, cut from the photo by its stored face box (JPEG):
    in a whole frame the face is small. ``NotFound`` for another person's template."""
    with runtime.uow() as uow:
        template = uow.templates.get(template_id)
        if template.person_id != person_id or template.image is None:
            raise NotFound(f"person {person_id} has no photo for template {template_id}")
        sha256, box = template.image.sha256, Box(*template.box)
    photo = decode_image(runtime.blobs.get(sha256), max_pixels=runtime.settings.max_image_pixels)
    return encode_jpeg(crop_face(photo, box, margin=FACE_MARGIN))


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
