"""Images (enrolment photos and face crops): one row per distinct blob, keyed by sha256."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import delete, exists, or_, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session
from sqlalchemy.sql import ColumnElement

from facewatch.errors import NotFound
from facewatch.store.blobs import check_blob_key
from facewatch.store.models import CameraHealth, Detection, Image, Template, utcnow
from facewatch.store.repositories.common import check_text


class ImageRepository:
    """Reads and writes the ``images`` table."""

    def __init__(self, session: Session) -> None:
        self._session = session

    def get(self, image_id: int) -> Image:
        """The image with this id; ``NotFound`` if there is none."""
        image = self._session.get(Image, image_id)
        if image is None:
            raise NotFound(f"image {image_id} not found")
        return image

    def get_by_sha256(self, sha256: str) -> Image | None:
        """The image whose blob key is ``sha256``, if any."""
        return self._session.scalar(select(Image).where(Image.sha256 == sha256))

    def get_or_add(
        self, sha256: str, content_type: str, width: int, height: int, size_bytes: int
    ) -> Image:
        """The image row of blob ``sha256``, added if new (safe against concurrent adds).

        Tries the insert first: a blob is stored because it is new (a face crop nearly
        always is), so a new image costs one statement, and a known one two.
        """
        check_blob_key(sha256)
        check_text(Image.content_type, content_type)
        image = self._insert_ignoring_duplicates(
            sha256=sha256,
            content_type=content_type,
            width=width,
            height=height,
            size_bytes=size_bytes,
            created_at=utcnow(),
        )
        if image is None:  # stored before, or by a concurrent transaction
            image = self.get_by_sha256(sha256)
        assert image is not None
        return image

    def _insert_ignoring_duplicates(self, **values: object) -> Image | None:
        """INSERT ... ON CONFLICT DO NOTHING RETURNING: the new row, or ``None`` if the blob
        has one already (a concurrent add of the same blob wins quietly)."""
        dialect = self._session.get_bind().dialect.name
        insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
        statement = (
            insert(Image)
            .values(**values)
            .on_conflict_do_nothing(index_elements=[Image.sha256])
            .returning(Image)
        )
        # An ORM insert: the returned row joins the session like a loaded one.
        return self._session.scalar(statement)

    def delete_unreferenced(self, image_ids: Iterable[int]) -> list[str]:
        """Delete those of ``image_ids`` no template or detection refers to; their sha256s.

        The caller deletes the blobs once the transaction commits
        (``UnitOfWork.delete_blob_after_commit``).
        """
        ids = {image_id for image_id in image_ids if image_id is not None}
        if not ids:
            return []
        orphans = select(Image.id, Image.sha256).where(Image.id.in_(ids), ~_is_referenced())
        rows = self._session.execute(orphans).all()
        if rows:
            self._session.execute(delete(Image).where(Image.id.in_([row.id for row in rows])))
        return sorted(row.sha256 for row in rows)


def _is_referenced() -> ColumnElement[bool]:
    """True for an image that a template, a detection or a camera's snapshot refers to."""
    return or_(
        exists().where(Template.image_id == Image.id),
        exists().where(Detection.crop_image_id == Image.id),
        exists().where(CameraHealth.snapshot_image_id == Image.id),
    )
