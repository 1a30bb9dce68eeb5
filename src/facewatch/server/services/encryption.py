"""Key rotation: re-encrypt every embedding and face image with the current key.

``facewatch admin rotate-key`` runs ``rotate_key`` after ``encryption_key`` was set to a
new key and the old one moved to ``encryption_old_keys`` (docs/security.md). It also
encrypts what was stored in clear before a key was first configured. Each batch commits on
its own, so an interrupted rotation resumes where it stopped; until it has finished, the
old keys must stay configured.

Blobs are renamed too (their names are keyed hashes): the new blob is written first, the
image row repointed and committed, and only then the old blob deleted.

What is sealed under a person's key stays as it is (those keys are rewrapped instead, as
the values of ``person_keys.key``); an embedding of a person's template or detection that
is not yet (stored in clear, or with the install's key before its person had one) is moved
under that person's key; names' keyed hashes are made again with the current key.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import asdict, dataclass

from sqlalchemy import LargeBinary, select, type_coerce, update
from sqlalchemy.orm import InstrumentedAttribute

from facewatch.errors import ConfigurationError
from facewatch.security.crypto import Keyring, person_key_id
from facewatch.server.infra.runtime import Runtime
from facewatch.store.encryption import BLOB_PURPOSE, KeyedBytes, ProtectedBlobStore, keyring_of
from facewatch.store.models import (
    Detection,
    Image,
    Person,
    PersonKeyRecord,
    Template,
    UnknownIdentity,
)
from facewatch.store.person_keys import person_keys_of
from facewatch.store.unit_of_work import UnitOfWork

logger = logging.getLogger(__name__)

BATCH = 500
Progress = Callable[[str, int], None]
"""Told (what, how many done) as the rotation goes."""

Column = InstrumentedAttribute[bytes] | InstrumentedAttribute[bytes | None]
# (column, purpose bound into its envelopes) of every encrypted column.
ENCRYPTED_COLUMNS: tuple[tuple[Column, str], ...] = (
    (Template.embedding, "templates.embedding"),
    (Detection.embedding, "detections.embedding"),
    (UnknownIdentity.centroid, "unknown_identities.centroid"),
    (PersonKeyRecord.key, "person_keys.key"),
)


@dataclass(frozen=True, slots=True)
class RotationReport:
    """What one rotation re-encrypted."""

    key_id: str
    embeddings: int
    blobs: int
    unchanged: int

    def as_dict(self) -> dict[str, object]:
        return asdict(self)


def rotate_key(runtime: Runtime, progress: Progress | None = None) -> RotationReport:
    """Re-encrypt every value and blob not sealed with the current key; the counts."""
    keyring = keyring_of(runtime.db.engine)
    if keyring is None or not isinstance(runtime.blobs, ProtectedBlobStore):
        raise ConfigurationError("no encryption key is configured: set FACEWATCH_ENCRYPTION_KEY")
    told = progress or (lambda _what, _done: None)
    embeddings, unchanged = 0, 0
    for column, purpose in ENCRYPTED_COLUMNS:
        done, kept = _rotate_column(runtime, keyring, column, purpose, told)
        embeddings, unchanged = embeddings + done, unchanged + kept
    _rotate_name_tokens(runtime, keyring)
    blobs, kept = _rotate_blobs(runtime, runtime.blobs, keyring, told)
    report = RotationReport(keyring.current_id, embeddings, blobs, unchanged + kept)
    with runtime.uow() as uow:
        uow.audit.add("encryption.key_rotated", details=report.as_dict())
        uow.commit()
    logger.info("encryption key rotated: %s", report.as_dict())
    return report


def _rotate_column(
    runtime: Runtime,
    keyring: Keyring,
    column: Column,
    purpose: str,
    told: Progress,
) -> tuple[int, int]:
    model = column.class_
    key = model.id
    raw = type_coerce(column, LargeBinary)  # the stored bytes, not opened
    owner = getattr(model, "person_id", None) if model is not PersonKeyRecord else None
    last: object = None
    done = kept = 0
    while True:
        with runtime.uow() as uow:
            person = owner if owner is not None else key
            statement = (
                select(key, raw, person).where(column.is_not(None)).order_by(key).limit(BATCH)
            )
            if last is not None:
                statement = statement.where(key > last)
            rows = uow.session.execute(statement).all()
            for row_id, stored, person_id in rows:
                stored = bytes(stored)
                mine = person_id if owner is not None else None
                if person_key_id(stored) is not None or (
                    mine is None and keyring.is_current(stored)
                ):
                    kept += 1
                    continue
                value = _for_person(uow, mine, keyring.open(stored, purpose))
                uow.session.execute(update(model).where(key == row_id).values({column.key: value}))
                done += 1
            uow.commit()
        if rows:
            last = rows[-1][0]
            told(purpose, done)
        if len(rows) < BATCH:
            return done, kept


def _for_person(uow: UnitOfWork, person_id: int | None, plain: bytes) -> bytes:
    """``plain``, to be sealed under person ``person_id``'s key if they have one."""
    if person_id is None:
        return plain
    key = person_keys_of(uow.session.get_bind().engine).for_person(
        uow.session.connection(), person_id
    )
    return plain if key is None else KeyedBytes(plain, key)


def _rotate_name_tokens(runtime: Runtime, keyring: Keyring) -> None:
    """Make every name's keyed hash again with the current key."""
    with runtime.uow() as uow:
        for person_id, name, token in uow.session.execute(
            select(Person.id, Person.name, Person.name_key)
        ).all():
            if token != keyring.name_token(name):
                uow.session.execute(
                    update(Person)
                    .where(Person.id == person_id)
                    .values(name_key=keyring.name_token(name))
                )
        uow.commit()


def _rotate_blobs(
    runtime: Runtime, blobs: ProtectedBlobStore, keyring: Keyring, told: Progress
) -> tuple[int, int]:
    done = kept = 0
    last = 0
    while True:
        with runtime.uow() as uow:
            rows = uow.session.execute(
                select(Image.id, Image.sha256)
                .where(Image.id > last)
                .order_by(Image.id)
                .limit(BATCH)
            ).all()
        for image_id, old_key in rows:
            if _rotate_blob(runtime, blobs, keyring, image_id, old_key):
                done += 1
            else:
                kept += 1
        if rows:
            last = rows[-1][0]
            told("blobs", done)
        if len(rows) < BATCH:
            return done, kept


def _rotate_blob(
    runtime: Runtime, blobs: ProtectedBlobStore, keyring: Keyring, image_id: int, old_key: str
) -> bool:
    """Seal one blob with the current key under its new name; False if nothing to do."""
    stored = blobs.get_stored(old_key)
    plain = keyring.open(stored, BLOB_PURPOSE)
    new_key = keyring.blob_name(plain)
    if new_key == old_key:
        # Named by the current key, hence sealed with it too (both derive from one key).
        return False
    blobs.put_as(new_key, plain)  # written first: the row never points to a missing blob
    with runtime.uow() as uow:
        uow.session.execute(update(Image).where(Image.id == image_id).values(sha256=new_key))
        uow.commit()
    blobs.delete(old_key)
    return True
