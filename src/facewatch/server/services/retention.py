"""Retention: delete what has been kept longer than its time limit, and count it.

Three limits (docs/security.md), each counted from when the server received the data:

- ``retention_unknown_faces_days``: the crop and embedding of every face of nobody
  enrolled are removed (the detection row stays until the detection limit), and every
  unnamed stranger (unknown identity) not seen since is deleted with its centroid;
- ``retention_detections_days``: detections are deleted with their crops;
- ``retention_events_days``: events are deleted with their webhook deliveries.

Blobs no image row needs any more are deleted after each batch commits. The work is done
in batches of ``BATCH`` rows, one transaction each, so that a purge of months of data never
holds a long lock. The server runs ``purge`` every ``retention_interval_seconds`` on one
replica (the scheduler's leader); ``facewatch admin purge`` runs it at once. Each run adds
a ``retention.purged`` entry with its counts to the audit log.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, Select, delete, or_, select, update

from facewatch.server.infra.runtime import Runtime
from facewatch.store.models import Detection, EventRecord, UnknownIdentity, utcnow
from facewatch.store.repositories.images import ImageRepository
from facewatch.store.unit_of_work import UnitOfWork

logger = logging.getLogger(__name__)

BATCH = 500


@dataclass(frozen=True, slots=True)
class PurgeReport:
    """What one purge removed."""

    unknown_faces: int = 0
    """Faces of strangers whose crop and embedding were removed."""
    unknown_identities: int = 0
    """Unnamed strangers (and their centroids) deleted."""
    detections: int = 0
    events: int = 0
    images: int = 0
    """Image rows (crops) no longer used, deleted with their blobs."""

    def as_dict(self) -> dict[str, int]:
        return asdict(self)

    def __add__(self, other: PurgeReport) -> PurgeReport:
        mine, theirs = self.as_dict(), other.as_dict()
        return PurgeReport(**{name: mine[name] + theirs[name] for name in mine})


@dataclass(frozen=True, slots=True)
class Cutoffs:
    """Data received before these times is due (None: kept forever)."""

    unknown_faces: datetime | None
    detections: datetime | None
    events: datetime | None

    @classmethod
    def at(
        cls, now: datetime, unknown_days: float, detection_days: float, event_days: float
    ) -> Cutoffs:
        """The cutoffs ``now`` of limits in days (0: no limit)."""

        def before(days: float) -> datetime | None:
            return now - timedelta(days=days) if days > 0 else None

        return cls(before(unknown_days), before(detection_days), before(event_days))


def cutoffs(runtime: Runtime, now: datetime | None = None) -> Cutoffs:
    """The cutoffs of the configured retention limits, at ``now`` (default: now)."""
    settings = runtime.settings
    return Cutoffs.at(
        now or utcnow(),
        settings.retention_unknown_faces_days,
        settings.retention_detections_days,
        settings.retention_events_days,
    )


def purge(runtime: Runtime, now: datetime | None = None) -> PurgeReport:
    """Remove everything older than its retention limit; the counts (also audited)."""
    due = cutoffs(runtime, now)
    report = PurgeReport()
    if due.events is not None:
        report += PurgeReport(events=_purge_events(runtime, due.events))
    if due.detections is not None:
        report += _purge_detections(runtime, due.detections)
    if due.unknown_faces is not None:
        report += _purge_unknown_faces(runtime, due.unknown_faces)
        report += PurgeReport(unknown_identities=_purge_strangers(runtime, due.unknown_faces))
    with runtime.uow() as uow:
        uow.audit.add("retention.purged", details=report.as_dict())
        uow.commit()
    if any(report.as_dict().values()):
        logger.info("retention purge: %s", report.as_dict())
    return report


def _purge_events(runtime: Runtime, before: datetime) -> int:
    total = 0
    while True:
        with runtime.uow() as uow:
            ids = _batch(uow, select(EventRecord.id).where(EventRecord.created_at < before))
            if ids:
                uow.session.execute(delete(EventRecord).where(EventRecord.id.in_(ids)))
                uow.commit()
        total += len(ids)
        if len(ids) < BATCH:
            return total


def _purge_detections(runtime: Runtime, before: datetime) -> PurgeReport:
    report = PurgeReport()
    while True:
        with runtime.uow() as uow:
            rows = uow.session.execute(
                select(Detection.id, Detection.crop_image_id, Detection.unknown_id)
                .where(Detection.received_at < before)
                .order_by(Detection.id)
                .limit(BATCH)
            ).all()
            if rows:
                ids = [row.id for row in rows]
                uow.session.execute(delete(Detection).where(Detection.id.in_(ids)))
                images = _free_images(uow, [row.crop_image_id for row in rows])
                strangers = uow.unknowns.delete_empty(r.unknown_id for r in rows if r.unknown_id)
                uow.commit()
                report += PurgeReport(
                    detections=len(ids), images=images, unknown_identities=strangers
                )
        if len(rows) < BATCH:
            return report


def _purge_unknown_faces(runtime: Runtime, before: datetime) -> PurgeReport:
    still_kept: ColumnElement[bool] = or_(
        Detection.crop_image_id.is_not(None), Detection.embedding.is_not(None)
    )
    due = (
        select(Detection.id, Detection.crop_image_id)
        .where(Detection.person_id.is_(None), Detection.received_at < before, still_kept)
        .order_by(Detection.id)
        .limit(BATCH)
    )
    report = PurgeReport()
    while True:
        with runtime.uow() as uow:
            rows = uow.session.execute(due).all()
            if rows:
                ids = [row.id for row in rows]
                uow.session.execute(
                    update(Detection)
                    .where(Detection.id.in_(ids))
                    .values(crop_image_id=None, embedding=None)
                )
                images = _free_images(uow, [row.crop_image_id for row in rows])
                uow.commit()
                report += PurgeReport(unknown_faces=len(ids), images=images)
        if len(rows) < BATCH:
            return report


def _purge_strangers(runtime: Runtime, before: datetime) -> int:
    """Delete unnamed strangers last seen before ``before`` (their faces keep no identity)."""
    with runtime.uow() as uow:
        result = uow.session.execute(
            delete(UnknownIdentity).where(
                UnknownIdentity.person_id.is_(None), UnknownIdentity.last_seen_at < before
            )
        )
        uow.commit()
    return int(getattr(result, "rowcount", 0) or 0)


def _batch(uow: UnitOfWork, statement: Select[str]) -> list[str]:
    return list(uow.session.scalars(statement.limit(BATCH)))


def _free_images(uow: UnitOfWork, image_ids: Sequence[int | None]) -> int:
    """Delete the image rows nothing uses any more; their blobs go after the commit."""
    freed = ImageRepository(uow.session).delete_unreferenced(i for i in image_ids if i)
    for key in freed:
        uow.delete_blob_after_commit(key)
    return len(freed)
