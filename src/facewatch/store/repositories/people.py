"""People: who is enrolled, in which category, with what notes.

Names and notes are sealed under each person's key (``facewatch.store.person_keys``): the
database can neither sort nor search them, so listing reads every name (opened with keys
kept in memory) and sorts and filters here; a name is found by its keyed hash
(``Person.name_key``), which also keeps names unique.
"""

from __future__ import annotations

import builtins
import logging
import unicodedata
from typing import TypedDict, Unpack

from sqlalchemy import select
from sqlalchemy.orm import Session

from facewatch.errors import Conflict, InvalidInput, NotFound
from facewatch.store.models import NAME_MAX_CHARS, Detection, Person, Template
from facewatch.store.person_keys import name_tokens
from facewatch.store.repositories.common import Page, check_page, check_text, flush_or_conflict
from facewatch.store.repositories.images import ImageRepository

logger = logging.getLogger(__name__)


class PersonChanges(TypedDict, total=False):
    """The fields ``PersonRepository.update`` may change; absent keys stay as they are."""

    name: str
    category: str
    notes: str


class PersonRepository:
    """Reads and writes the ``people`` table."""

    def __init__(self, session: Session) -> None:
        self._session = session

    def add(self, name: str, category: str = "authorized", notes: str = "") -> Person:
        """Enrol a new person; ``Conflict`` if the name is taken."""
        check_text(Person.notes, notes)
        person = Person(name=_check_name(name), category=_check_category(category), notes=notes)
        self._raise_if_name_taken(person.name)
        self._warn_if_near_duplicate(person.name)
        self._session.add(person)
        flush_or_conflict(self._session, _name_taken(person.name))
        return person

    def get(self, person_id: int) -> Person:
        """The person with this id; ``NotFound`` if there is none."""
        person = self._session.get(Person, person_id)
        if person is None:
            raise NotFound(f"person {person_id} not found")
        return person

    def get_by_name(self, name: str) -> Person | None:
        """The person with exactly this name, if any."""
        tokens = name_tokens(self._session, normalise_name(name))
        return self._session.scalar(select(Person).where(Person.name_key.in_(tokens)))

    def list(
        self,
        query: str | None = None,
        category: str | None = None,
        offset: int = 0,
        limit: int = 100,
    ) -> Page[Person]:
        """People by name, ignoring case; ``query`` matches any part of the name, ignoring case."""
        check_page(offset, limit)
        names = select(Person.id, Person.name)
        if category is not None:
            names = names.where(Person.category == category)
        pattern = query.lower() if query else ""
        found = sorted(
            (name.lower(), person_id)
            for person_id, name in self._session.execute(names)
            if pattern in name.lower()
        )
        page = [person_id for _, person_id in found[offset : offset + limit]]
        people = {p.id: p for p in self._session.scalars(select(Person).where(Person.id.in_(page)))}
        return [people[person_id] for person_id in page], len(found)

    def update(self, person: Person, **changes: Unpack[PersonChanges]) -> Person:
        """Change some fields of ``person``; ``Conflict`` if the new name is taken."""
        new_name = _check_name(changes["name"]) if "name" in changes else person.name
        if new_name != person.name:
            # Checked before assigning: the query would otherwise autoflush the clash.
            self._raise_if_name_taken(new_name, besides=person)
            self._warn_if_near_duplicate(new_name, besides=person)
            person.name = new_name
        if "category" in changes:
            person.category = _check_category(changes["category"])
        if "notes" in changes:
            person.notes = check_text(Person.notes, changes["notes"])
        flush_or_conflict(self._session, _name_taken(person.name))
        return person

    def delete(self, person: Person) -> builtins.list[str]:
        """Delete ``person`` with their templates and detections (ON DELETE CASCADE).

        Returns the sha256 of every image (enrolment photo or detection crop) no longer
        used by anything, whose row is deleted too; the caller deletes those blobs after
        the commit (``UnitOfWork.delete_blob_after_commit``).
        """
        image_ids = self._image_ids_of(person.id)
        self._session.delete(person)
        self._session.flush()
        return ImageRepository(self._session).delete_unreferenced(image_ids)

    def _image_ids_of(self, person_id: int) -> set[int]:
        photos = select(Template.image_id).where(Template.person_id == person_id)
        crops = select(Detection.crop_image_id).where(Detection.person_id == person_id)
        rows = self._session.scalars(photos.union(crops))
        return {image_id for image_id in rows if image_id is not None}

    def _warn_if_near_duplicate(self, name: str, besides: Person | None = None) -> None:
        """Log people whose names differ from ``name`` only in case (likely the same one)."""
        folded = name.lower()
        others = [
            person_id
            for person_id, other in self._session.execute(select(Person.id, Person.name))
            if other.lower() == folded and (besides is None or person_id != besides.id)
        ]
        if others:
            logger.warning("a new name differs only in case from person %s", others[0])

    def _raise_if_name_taken(self, name: str, besides: Person | None = None) -> None:
        other = self.get_by_name(name)
        if other is not None and other is not besides:
            raise Conflict(_name_taken(name))


def normalise_name(name: str) -> str:
    """A name as stored: Unicode NFKC (look-alike compatibility forms folded), invisible
    format characters (zero-width spaces and joiners, direction marks) removed, spaces
    collapsed; two names that look the same are then the same string."""
    folded = unicodedata.normalize("NFKC", name)
    visible = "".join(ch for ch in folded if unicodedata.category(ch) != "Cf")
    return " ".join(visible.split())


def _check_name(name: str) -> str:
    check_text(Person.name, name)
    name = normalise_name(name)
    if not name:
        raise InvalidInput("name must not be empty")
    if len(name) > NAME_MAX_CHARS:
        raise InvalidInput(f"name is longer than {NAME_MAX_CHARS} characters")
    return name


def _check_category(category: str) -> str:
    check_text(Person.category, category)
    if not category.strip():
        raise InvalidInput("category must not be empty")
    return category


def _name_taken(name: str) -> str:
    return f"a person named {name!r} already exists"
