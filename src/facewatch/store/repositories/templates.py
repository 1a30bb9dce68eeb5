"""Templates: the enrolled faces of each person, one embedding per photo and model."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from typing import NamedTuple

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from facewatch.errors import NotFound
from facewatch.store.embeddings import box_to_list, embedding_from_bytes, embedding_to_bytes
from facewatch.store.models import Image, Person, Template
from facewatch.store.repositories.common import check_text, flush_or_conflict
from facewatch.store.repositories.images import ImageRepository
from facewatch.types import Box, Embedding

GALLERY_BATCH = 2000


class GalleryRow(NamedTuple):
    """What the in-memory gallery needs of one template."""

    template_id: int
    person_id: int
    person_name: str
    embedding: Embedding


class TemplateRepository:
    """Reads and writes the ``templates`` table."""

    def __init__(self, session: Session) -> None:
        self._session = session

    def add(
        self,
        person_id: int,
        embedding: Embedding,
        model: str,
        quality: float,
        box: Box | Sequence[int],
        image_id: int | None = None,
    ) -> Template:
        """Store one enrolled face of person ``person_id`` (``NotFound`` if no such person)."""
        self._check_references(person_id, image_id)
        template = Template(
            person_id=person_id,
            embedding=embedding_to_bytes(embedding),
            model=check_text(Template.model, model),
            quality=float(quality),
            box=box_to_list(box),
            image_id=image_id,
        )
        self._session.add(template)
        flush_or_conflict(self._session, f"person {person_id} was deleted meanwhile")
        return template

    def get(self, template_id: int) -> Template:
        """The template with this id; ``NotFound`` if there is none."""
        template = self._session.get(Template, template_id)
        if template is None:
            raise NotFound(f"template {template_id} not found")
        return template

    def list_for_person(self, person_id: int) -> list[Template]:
        """The templates of one person, oldest first."""
        statement = select(Template).where(Template.person_id == person_id).order_by(Template.id)
        return list(self._session.scalars(statement))

    def count_by_person(self, person_ids: Iterable[int]) -> dict[int, int]:
        """Number of templates of each of ``person_ids`` (0 for those without any)."""
        counts = dict.fromkeys(person_ids, 0)
        if counts:
            statement = (
                select(Template.person_id, func.count())
                .where(Template.person_id.in_(counts))
                .group_by(Template.person_id)
            )
            counts.update({person_id: n for person_id, n in self._session.execute(statement)})
        return counts

    def image_hashes_for_person(self, person_id: int) -> set[str]:
        """The sha256 of every photo a template of ``person_id`` came from."""
        statement = (
            select(Image.sha256)
            .join(Template, Template.image_id == Image.id)
            .where(Template.person_id == person_id)
        )
        return set(self._session.scalars(statement))

    def people_with_photo(self, sha256: str) -> list[tuple[int, str]]:
        """(id, name) of every person with a template from the photo ``sha256``."""
        statement = (
            select(Person.id, Person.name)
            .join(Template, Template.person_id == Person.id)
            .join(Image, Image.id == Template.image_id)
            .where(Image.sha256 == sha256)
            .distinct()
            .order_by(Person.id)
        )
        return [(int(pid), str(name)) for pid, name in self._session.execute(statement)]

    def all_for_model(self, model: str) -> Iterator[GalleryRow]:
        """Every template made by ``model`` with its person's name, streamed in batches."""
        statement = (
            select(Template.id, Template.person_id, Person.name, Template.embedding)
            .join(Person, Person.id == Template.person_id)
            .where(Template.model == model)
            .order_by(Template.id)
            .execution_options(yield_per=GALLERY_BATCH)
        )
        for template_id, person_id, name, data in self._session.execute(statement):
            yield GalleryRow(template_id, person_id, name, embedding_from_bytes(data))

    def delete(self, template: Template) -> list[str]:
        """Delete ``template``; the sha256 of its photo if nothing else uses it any more.

        The photo's image row goes too; delete its blob after the commit
        (``UnitOfWork.delete_blob_after_commit``).
        """
        image_id = template.image_id
        self._session.delete(template)
        self._session.flush()
        return ImageRepository(self._session).delete_unreferenced([image_id] if image_id else [])

    def _check_references(self, person_id: int, image_id: int | None) -> None:
        if self._session.get(Person, person_id) is None:
            raise NotFound(f"person {person_id} not found")
        if image_id is not None:
            ImageRepository(self._session).get(image_id)
