"""The unit of work: one transaction, the repositories working in it, and the blobs it made.

A database transaction cannot roll back files, so the unit remembers the blobs it created
and deletes them again if it does not commit, and it deletes blobs the transaction freed
only once the commit has succeeded. Either way a failed call leaves neither orphan blobs
nor rows pointing to missing blobs::

    with UnitOfWork(db, blobs) as uow:
        key = uow.put_blob(data)
        image = uow.images.get_or_add(key, "image/jpeg", width, height, len(data))
        uow.templates.add(person.id, embedding, model, quality, box, image.id)
        uow.commit()

Leaving the block without ``commit()`` (or with an exception) rolls everything back.
This is the only place in Facewatch that commits.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from types import TracebackType
from typing import Self

from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError

from facewatch.store.blobs import BlobStore, check_blob_key
from facewatch.store.db import Database
from facewatch.store.models import Image
from facewatch.store.repositories import (
    ApiKeyRepository,
    AuditRepository,
    CameraHealthRepository,
    CameraRepository,
    DetectionRepository,
    EventRepository,
    ImageRepository,
    LoginAttemptRepository,
    PersonRepository,
    TemplateRepository,
    UnknownRepository,
    UserRepository,
    UserSessionRepository,
    WebhookDeliveryRepository,
    WebhookRepository,
    ZoneRepository,
)
from facewatch.store.repositories.models import ModelRepository

logger = logging.getLogger(__name__)


class UnitOfWork:
    """A transaction with its repositories and its blob bookkeeping; use it in ``with``."""

    def __init__(self, db: Database, blobs: BlobStore) -> None:
        self.session = db.new_session()
        self.blobs = blobs
        self.people = PersonRepository(self.session)
        self.images = ImageRepository(self.session)
        self.templates = TemplateRepository(self.session)
        self.cameras = CameraRepository(self.session)
        self.camera_health = CameraHealthRepository(self.session)
        self.detections = DetectionRepository(self.session)
        self.api_keys = ApiKeyRepository(self.session)
        self.users = UserRepository(self.session)
        self.user_sessions = UserSessionRepository(self.session)
        self.login_attempts = LoginAttemptRepository(self.session)
        self.zones = ZoneRepository(self.session)
        self.events = EventRepository(self.session)
        self.webhooks = WebhookRepository(self.session)
        self.webhook_deliveries = WebhookDeliveryRepository(self.session)
        self.unknowns = UnknownRepository(self.session)
        self.audit = AuditRepository(self.session)
        self.models = ModelRepository(self.session)
        self._new_blobs: set[str] = set()
        self._blobs_to_delete: set[str] = set()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        # close() rolls back what was not committed but, unlike rollback(), leaves the
        # loaded objects readable after the block.
        self.session.close()
        if self._new_blobs:
            try:
                self._discard_new_blobs()
            finally:
                self.session.close()  # ends the read transaction of the blob check

    def put_blob(self, data: bytes) -> str:
        """Store ``data`` in the blob store; removed again unless this unit commits."""
        key = self.blobs.key_for(data)
        if key not in self._new_blobs and not self.blobs.exists(key):
            self._new_blobs.add(key)
        self.blobs.put(data)
        return key

    def delete_blob_after_commit(self, key: str) -> None:
        """Delete blob ``key`` once this unit commits, if no image row refers to it then."""
        self._blobs_to_delete.add(check_blob_key(key))

    def commit(self) -> None:
        """Commit the transaction, then delete the blobs it freed.

        If the commit fails, the unit rolls back (removing the blobs it created) and the
        error propagates.
        """
        try:
            self.session.commit()
        except BaseException:
            self.rollback()
            raise
        self._new_blobs.clear()
        to_delete, self._blobs_to_delete = self._blobs_to_delete, set()
        self._delete_unused_blobs(to_delete)
        self.session.commit()  # ends the read transaction of the check above

    def rollback(self) -> None:
        """Undo everything since the last commit, including the blobs created since."""
        self.session.rollback()
        self._discard_new_blobs()

    def _discard_new_blobs(self) -> None:
        self._blobs_to_delete.clear()
        created, self._new_blobs = self._new_blobs, set()
        self._delete_unused_blobs(created)

    def _delete_unused_blobs(self, keys: Iterable[str]) -> None:
        """Delete those of ``keys`` no committed image row refers to."""
        wanted = set(keys)
        if not wanted:
            return
        try:
            used = set(self.session.scalars(select(Image.sha256).where(Image.sha256.in_(wanted))))
        except SQLAlchemyError:
            # Better an orphan blob (a later scan removes it) than a row without its blob.
            logger.warning("could not check %s blobs before deleting them; kept", len(wanted))
            return
        for key in wanted - used:
            self._delete_blob(key)

    def _delete_blob(self, key: str) -> None:
        try:
            self.blobs.delete(key)
        except OSError:
            logger.warning("could not delete blob %s; a later scan will", key, exc_info=True)
