"""Erasure: deleting a person leaves no trace of them anywhere Facewatch stores data.

``erase_person`` removes, in one transaction:

- the person, their templates (embeddings) and the strangers (unknown identities, with
  their centroids) that were named as them;
- their detections, or, with ``erasure_detections = anonymize``, keeps those as bare
  sightings (time, camera, box) with no person, crop, embedding, identity or candidates;
- the events raised about them (they carry the name);
- their name and id from the candidate lists of every other detection (an uncertain face
  lists the people it resembled);
- every enrolment photo and face crop no other record uses, and, once committed, their
  blobs;
- then, before the request answers, the person from the in-memory gallery and the gallery
  snapshot on disk (``gallery/``, deleted if it holds them: it would otherwise keep their
  name and embeddings until the next clean stop, and for good after a crash).

The audit log keeps that the person was erased, by whom, with counts, and never the name.

What identifies the person (name, notes, embeddings, their name in events) was sealed under
their own key (``facewatch.store.person_keys``), and the key row goes with the person: a
copy of the ciphertext left anywhere (PostgreSQL's dead rows and index pages, a backup) can
no longer be opened. After the commit the key is dropped from memory and its table purged:
on PostgreSQL ``VACUUM FULL person_keys`` writes that small table anew, so no page of any
table file holds the wrapped key; on SQLite deleted rows are overwritten
(``PRAGMA secure_delete``) and the write-ahead log is checkpointed and truncated.
See docs/security.md.
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import String, cast, delete, select, text, update

from facewatch.gallery.gallery import erase_person_from_snapshot
from facewatch.server.infra.runtime import Runtime
from facewatch.store.models import Detection, EventRecord, Template
from facewatch.store.person_keys import key_id_of_person, person_keys_of, purge_erased_keys
from facewatch.store.repositories.images import ImageRepository
from facewatch.store.unit_of_work import UnitOfWork
from facewatch.types import MatchStatus

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class ErasureReport:
    """What erasing one person removed."""

    templates: int
    detections_deleted: int
    detections_anonymized: int
    events: int
    candidate_lists: int
    """Other detections whose candidate lists named the person."""
    images: int
    """Enrolment photos and crops deleted, with their blobs."""

    def as_dict(self) -> dict[str, int]:
        return asdict(self)


def erase_person(runtime: Runtime, person_id: int) -> ErasureReport:
    """Delete a person and every trace of them (see the module docstring)."""
    anonymize = runtime.settings.erasure_detections == "anonymize"
    with runtime.uow() as uow:
        person = uow.people.get(person_id)  # NotFound before anything changes
        key_id = key_id_of_person(uow.session, person_id)
        image_ids = _image_ids(uow, person_id)
        templates = _count(uow, select(Template.id).where(Template.person_id == person_id))
        events = _delete_events(uow, person_id)
        deleted, anonymized = _handle_detections(uow, person_id, anonymize)
        candidate_lists = _scrub_candidates(uow, person_id)
        uow.session.delete(person)  # templates and named strangers cascade
        uow.session.flush()
        freed = ImageRepository(uow.session).delete_unreferenced(image_ids)
        for key in freed:
            uow.delete_blob_after_commit(key)
        report = ErasureReport(templates, deleted, anonymized, events, candidate_lists, len(freed))
        uow.audit.add("person.erased", target=f"person:{person_id}", details=report.as_dict())
        uow.commit()
    if key_id is not None:
        person_keys_of(runtime.db.engine).forget(key_id)
    purge_erased_keys(runtime.db.engine)
    _flush_sqlite_journal(runtime)
    runtime.loaded_gallery_do(lambda g: g.remove_person(person_id))
    erase_person_from_snapshot(_snapshot_folder(runtime), person_id)
    logger.info("person %s erased: %s", person_id, report.as_dict())
    return report


def _snapshot_folder(runtime: Runtime) -> Path:
    """Where a gallery snapshot may be, even with snapshots now off (one from before)."""
    settings = runtime.settings
    return settings.gallery_snapshot_dir or settings.data_dir / "gallery"


def _image_ids(uow: UnitOfWork, person_id: int) -> set[int]:
    photos = select(Template.image_id).where(Template.person_id == person_id)
    crops = select(Detection.crop_image_id).where(Detection.person_id == person_id)
    return {i for i in uow.session.scalars(photos.union(crops)) if i is not None}


def _count(uow: UnitOfWork, statement: Any) -> int:
    return len(list(uow.session.scalars(statement)))


def _delete_events(uow: UnitOfWork, person_id: int) -> int:
    result = uow.session.execute(delete(EventRecord).where(EventRecord.person_id == person_id))
    return int(getattr(result, "rowcount", 0) or 0)


def _handle_detections(uow: UnitOfWork, person_id: int, anonymize: bool) -> tuple[int, int]:
    """Delete the person's detections, or strip them to bare sightings; the two counts."""
    mine = Detection.person_id == person_id
    if not anonymize:
        result = uow.session.execute(delete(Detection).where(mine))
        return int(getattr(result, "rowcount", 0) or 0), 0
    stripped: dict[str, object] = {
        "person_id": None,
        "status": MatchStatus.UNKNOWN.value,
        "candidates": [],
        "embedding": None,
        "model": None,
        "crop_image_id": None,
        "unknown_id": None,
        "landmarks": None,
        "track_id": None,
        "latitude": None,
        "longitude": None,
    }
    result = uow.session.execute(update(Detection).where(mine).values(**stripped))
    return 0, int(getattr(result, "rowcount", 0) or 0)


def _scrub_candidates(uow: UnitOfWork, person_id: int) -> int:
    """Remove the person from the candidate lists of other detections; how many changed."""
    # A coarse text match finds the rows (JSON is serialised alike on both databases),
    # then the exact test runs here: "person_id": 5 must not take "person_id": 51.
    pattern = f'%"person_id": {int(person_id)}%'
    rows = uow.session.scalars(
        select(Detection).where(cast(Detection.candidates, String).like(pattern))
    ).all()
    changed = 0
    for row in rows:
        kept = [c for c in row.candidates if c.get("person_id") != person_id]
        if len(kept) != len(row.candidates):
            row.candidates = kept
            changed += 1
    uow.session.flush()
    return changed


def _flush_sqlite_journal(runtime: Runtime) -> None:
    """On SQLite, fold the write-ahead log into the file and empty it (best effort)."""
    if runtime.db.dialect != "sqlite":
        return
    try:
        with runtime.db.engine.connect() as connection:
            connection.execute(text("PRAGMA wal_checkpoint(TRUNCATE)"))
    except Exception:  # a busy database checkpoints later by itself
        logger.warning("could not checkpoint the SQLite journal after an erasure")
