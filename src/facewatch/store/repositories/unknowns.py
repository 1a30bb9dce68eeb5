"""Unknown identities (strangers), the faces that joined them, and operators' "not X" rules."""

from __future__ import annotations

import builtins
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import NamedTuple

from sqlalchemy import delete, func, or_, select, update
from sqlalchemy.orm import Session, joinedload

from facewatch.errors import NotFound
from facewatch.store.embeddings import embedding_from_bytes, embedding_to_bytes
from facewatch.store.models import Detection, EventRecord, IdentityExclusion, UnknownIdentity
from facewatch.store.repositories.common import Page, check_page
from facewatch.store.repositories.images import ImageRepository
from facewatch.types import Embedding


def new_unknown_id() -> str:
    """A fresh stranger id: ``unknown-`` and 12 hex digits (the events' format)."""
    return f"unknown-{uuid.uuid4().hex[:12]}"


class CentroidRow(NamedTuple):
    """What the assignment cache needs of one identity."""

    unknown_id: str
    data: bytes
    """The centroid as stored, decoded by ``centroid`` (only if the reader needs it)."""
    active: bool
    """False once named: it takes no new faces."""
    updated_at: datetime

    @property
    def centroid(self) -> Embedding:
        return embedding_from_bytes(self.data)


class ClusterFace(NamedTuple):
    """One face as re-clustering reads it."""

    detection_id: int
    unknown_id: str
    embedding: Embedding
    frame: tuple[str | None, datetime]
    """Camera and capture time: faces sharing it were in one frame."""


@dataclass(frozen=True, slots=True)
class IdentityStats:
    """Counted from an identity's detections."""

    detections: int
    first_seen: datetime | None
    last_seen: datetime | None
    cameras: list[str]


@dataclass(frozen=True, slots=True)
class Exclusion:
    """A "not X" rule as stored: a subject (face or identity) and an object (person or identity)."""

    detection_id: int | None
    unknown_id: str | None
    person_id: int | None
    other_unknown_id: str | None


class UnknownRepository:
    """Reads and writes ``unknown_identities``, their detections and ``identity_exclusions``."""

    def __init__(self, session: Session) -> None:
        self._session = session

    # --- identities -------------------------------------------------------------------
    def add(
        self, model: str, centroid: Embedding, seen_at: datetime, faces: int = 1
    ) -> UnknownIdentity:
        """A new identity with one face's (or a group's) centroid."""
        identity = UnknownIdentity(
            id=new_unknown_id(),
            model=model,
            centroid=embedding_to_bytes(centroid),
            faces=faces,
            first_seen_at=seen_at,
            last_seen_at=seen_at,
            curated=False,
        )
        self._session.add(identity)
        self._session.flush()
        return identity

    def get(self, unknown_id: str) -> UnknownIdentity:
        """The identity with this id; ``NotFound`` if there is none."""
        identity = self._session.get(UnknownIdentity, unknown_id)
        if identity is None:
            raise NotFound(f"unknown identity {unknown_id!r} not found")
        return identity

    def whereabouts(self, gone_id: str) -> tuple[str | None, int | None] | None:
        """Where the faces of an identity that no longer exists are now, found through
        the events it raised (they keep its id): the stranger and person of its latest
        event's detection; ``None`` when no such detection is left (deleted, purged)."""
        statement = (
            select(Detection.unknown_id, Detection.person_id)
            .join(EventRecord, EventRecord.detection_id == Detection.id)
            .where(EventRecord.unknown_id == gone_id)
            .where(or_(Detection.unknown_id.is_not(None), Detection.person_id.is_not(None)))
            .order_by(EventRecord.occurred_at.desc())
            .limit(1)
        )
        row = self._session.execute(statement).first()
        return (row.unknown_id, row.person_id) if row else None

    def find(self, unknown_id: str) -> UnknownIdentity | None:
        """The identity with this id, or ``None`` (it was merged away or deleted)."""
        return self._session.get(UnknownIdentity, unknown_id)

    def list(
        self,
        *,
        since: datetime | None = None,
        camera_id: str | None = None,
        named: bool = False,
        offset: int = 0,
        limit: int = 50,
    ) -> Page[UnknownIdentity]:
        """Identities, last seen first; ``since`` and ``camera_id`` filter on their faces."""
        check_page(offset, limit)
        statement = select(UnknownIdentity).where(
            UnknownIdentity.person_id.is_not(None) if named else UnknownIdentity.person_id.is_(None)
        )
        if since is not None:
            statement = statement.where(UnknownIdentity.last_seen_at >= since)
        if camera_id is not None:
            seen_there = select(Detection.id).where(
                Detection.unknown_id == UnknownIdentity.id, Detection.camera_id == camera_id
            )
            statement = statement.where(seen_there.exists())
        total = self._session.scalar(select(func.count()).select_from(statement.subquery()))
        ordered = statement.order_by(UnknownIdentity.last_seen_at.desc(), UnknownIdentity.id)
        items = list(self._session.scalars(ordered.offset(offset).limit(limit)))
        return items, total or 0

    def any_unnamed(self) -> bool:
        """True if at least one stranger has not been named."""
        statement = select(UnknownIdentity.id).where(UnknownIdentity.person_id.is_(None))
        return self._session.scalar(statement.limit(1)) is not None

    def centroids(
        self, model: str, changed_since: datetime | None = None
    ) -> builtins.list[CentroidRow]:
        """Every identity of ``model`` (or those changed since a moment) with its centroid."""
        statement = select(
            UnknownIdentity.id,
            UnknownIdentity.centroid,
            UnknownIdentity.person_id,
            UnknownIdentity.updated_at,
        ).where(UnknownIdentity.model == model)
        if changed_since is not None:
            statement = statement.where(UnknownIdentity.updated_at >= changed_since)
        return [
            CentroidRow(uid, data, person_id is None, updated)
            for uid, data, person_id, updated in self._session.execute(statement)
        ]

    def stats(self, unknown_ids: Iterable[str]) -> dict[str, IdentityStats]:
        """Detections count, first and last seen and cameras of each identity."""
        ids = list(set(unknown_ids))
        if not ids:
            return {}
        totals = (
            select(
                Detection.unknown_id,
                func.count(),
                func.min(Detection.captured_at),
                func.max(Detection.captured_at),
            )
            .where(Detection.unknown_id.in_(ids))
            .group_by(Detection.unknown_id)
        )
        cameras = (
            select(Detection.unknown_id, Detection.camera_id)
            .where(Detection.unknown_id.in_(ids), Detection.camera_id.is_not(None))
            .distinct()
        )
        seen: dict[str, set[str]] = {}
        for uid, camera_id in self._session.execute(cameras):
            if uid is not None and camera_id is not None:
                seen.setdefault(uid, set()).add(camera_id)
        found = {
            uid: IdentityStats(count, _utc(first), _utc(last), sorted(seen.get(uid, ())))
            for uid, count, first, last in self._session.execute(totals)
            if uid is not None
        }
        empty = IdentityStats(0, None, None, [])
        return {uid: found.get(uid, empty) for uid in ids}

    def delete(self, identity: UnknownIdentity, *, with_detections: bool) -> builtins.list[str]:
        """Delete an identity (and its detections if asked); the sha256 of freed crops.

        The caller deletes those blobs after the commit.
        """
        image_ids: set[int] = set()
        if with_detections:
            crops = select(Detection.crop_image_id).where(Detection.unknown_id == identity.id)
            image_ids = {i for i in self._session.scalars(crops) if i is not None}
            self._session.execute(delete(Detection).where(Detection.unknown_id == identity.id))
        self._session.delete(identity)
        self._session.flush()
        return ImageRepository(self._session).delete_unreferenced(image_ids)

    def delete_empty(self, unknown_ids: Iterable[str]) -> int:
        """Delete those of the unnamed identities that no detection belongs to any more."""
        ids = list(set(unknown_ids))
        if not ids:
            return 0
        used = select(Detection.id).where(Detection.unknown_id == UnknownIdentity.id)
        statement = delete(UnknownIdentity).where(
            UnknownIdentity.id.in_(ids), UnknownIdentity.person_id.is_(None), ~used.exists()
        )
        result = self._session.execute(statement)
        return int(getattr(result, "rowcount", 0) or 0)

    # --- faces ------------------------------------------------------------------------
    def detections(self, unknown_id: str, limit: int | None = None) -> builtins.list[Detection]:
        """The detections of an identity, newest first (camera, crop loaded)."""
        statement = (
            select(Detection)
            .options(joinedload(Detection.camera), joinedload(Detection.crop_image))
            .where(Detection.unknown_id == unknown_id)
            .order_by(Detection.captured_at.desc(), Detection.id.desc())
        )
        if limit is not None:
            statement = statement.limit(limit)
        return list(self._session.scalars(statement))

    def embeddings(self, unknown_id: str, model: str) -> builtins.list[Embedding]:
        """The embeddings of an identity's faces made by ``model``."""
        statement = select(Detection.embedding).where(
            Detection.unknown_id == unknown_id,
            Detection.model == model,
            Detection.embedding.is_not(None),
        )
        return [_vector(data) for data in self._session.scalars(statement)]

    def share_a_frame(self, a: str, b: str) -> bool:
        """True if a face of ``a`` and a face of ``b`` were seen in one frame (same camera,
        same capture time): then they are two people."""
        frames = [
            {
                (camera_id, captured_at)
                for camera_id, captured_at in self._session.execute(
                    select(Detection.camera_id, Detection.captured_at).where(
                        Detection.unknown_id == unknown_id
                    )
                )
            }
            for unknown_id in (a, b)
        ]
        return not frames[0].isdisjoint(frames[1])

    def move(self, detection_ids: Sequence[int], unknown_id: str | None) -> None:
        """Give those detections to another identity (``None``: to no identity)."""
        for start in range(0, len(detection_ids), 500):
            chunk = list(detection_ids[start : start + 500])
            self._session.execute(
                update(Detection).where(Detection.id.in_(chunk)).values(unknown_id=unknown_id)
            )

    def move_all(self, from_id: str, to_id: str) -> None:
        """Give every detection of one identity to another."""
        self._session.execute(
            update(Detection).where(Detection.unknown_id == from_id).values(unknown_id=to_id)
        )

    def faces_to_recluster(self, model: str, limit: int) -> builtins.list[ClusterFace]:
        """The newest ``limit`` faces of unnamed identities no operator curated."""
        statement = (
            select(
                Detection.id,
                Detection.unknown_id,
                Detection.embedding,
                Detection.camera_id,
                Detection.captured_at,
            )
            .join(UnknownIdentity, UnknownIdentity.id == Detection.unknown_id)
            .where(
                UnknownIdentity.person_id.is_(None),
                UnknownIdentity.curated.is_(False),
                UnknownIdentity.model == model,
                Detection.model == model,
                Detection.embedding.is_not(None),
            )
            .order_by(Detection.captured_at.desc(), Detection.id.desc())
            .limit(limit)
        )
        return [
            ClusterFace(did, uid, _vector(data), (camera_id, _aware(captured)))
            for did, uid, data, camera_id, captured in self._session.execute(statement)
            if uid is not None
        ]

    def track_identity(self, camera_id: str, track_id: str, since: datetime) -> str | None:
        """The identity of the latest face of a camera's track seen since ``since``."""
        statement = (
            select(Detection.unknown_id)
            .where(
                Detection.camera_id == camera_id,
                Detection.track_id == track_id,
                Detection.captured_at >= since,
                Detection.unknown_id.is_not(None),
            )
            .order_by(Detection.captured_at.desc())
            .limit(1)
        )
        return self._session.scalar(statement)

    # --- "not X" ----------------------------------------------------------------------
    def find_exclusion(self, rule: Exclusion) -> IdentityExclusion | None:
        """The stored "not X" rule identical to ``rule``, if there is one."""
        return self._session.scalar(
            select(IdentityExclusion).filter_by(
                detection_id=rule.detection_id,
                unknown_id=rule.unknown_id,
                person_id=rule.person_id,
                other_unknown_id=rule.other_unknown_id,
            )
        )

    def exclude(self, rule: Exclusion) -> IdentityExclusion:
        """Store a "not X" rule (an identical one is not stored twice)."""
        existing = self.find_exclusion(rule)
        if existing is not None:
            return existing
        row = IdentityExclusion(
            detection_id=rule.detection_id,
            unknown_id=rule.unknown_id,
            person_id=rule.person_id,
            other_unknown_id=rule.other_unknown_id,
        )
        self._session.add(row)
        self._session.flush()
        return row

    def exclusions_between(self, a: str, b: str) -> bool:
        """True if identity ``a`` is marked "not ``b``" or the other way round."""
        pair = or_(
            (IdentityExclusion.unknown_id == a) & (IdentityExclusion.other_unknown_id == b),
            (IdentityExclusion.unknown_id == b) & (IdentityExclusion.other_unknown_id == a),
        )
        return self._session.scalar(select(IdentityExclusion.id).where(pair).limit(1)) is not None

    def people_faces_are_not(self, detection_ids: Iterable[int]) -> dict[int, set[int]]:
        """For each of these faces marked "not" someone, the people it is marked not."""
        ids = list(set(detection_ids))
        if not ids:
            return {}
        statement = select(IdentityExclusion.detection_id, IdentityExclusion.person_id).where(
            IdentityExclusion.detection_id.in_(ids), IdentityExclusion.person_id.is_not(None)
        )
        found: dict[int, set[int]] = {}
        for face, person in self._session.execute(statement):
            if face is not None and person is not None:
                found.setdefault(face, set()).add(person)
        return found

    def excluded_people(self, unknown_id: str) -> set[int]:
        """People that an identity, or one of its faces, is marked "not"."""
        faces = select(Detection.id).where(Detection.unknown_id == unknown_id)
        statement = select(IdentityExclusion.person_id).where(
            IdentityExclusion.person_id.is_not(None),
            or_(
                IdentityExclusion.unknown_id == unknown_id,
                IdentityExclusion.detection_id.in_(faces),
            ),
        )
        return {pid for pid in self._session.scalars(statement) if pid is not None}

    def negatives(
        self, person_ids: Iterable[int], model: str
    ) -> dict[int, builtins.list[Embedding]]:
        """For each person, the embeddings that must not be named them: faces marked "not
        them", and the centroids of identities marked "not them"."""
        ids = list(set(person_ids))
        if not ids:
            return {}
        # One query: each rule joins the face or the identity it was made about, when that
        # is of ``model`` (the two columns are read with their own types, hence no UNION).
        statement = (
            select(IdentityExclusion.person_id, Detection.embedding, UnknownIdentity.centroid)
            .outerjoin(
                Detection,
                (Detection.id == IdentityExclusion.detection_id)
                & (Detection.model == model)
                & Detection.embedding.is_not(None),
            )
            .outerjoin(
                UnknownIdentity,
                (UnknownIdentity.id == IdentityExclusion.unknown_id)
                & (UnknownIdentity.model == model),
            )
            .where(IdentityExclusion.person_id.in_(ids))
        )
        found: dict[int, builtins.list[Embedding]] = {}
        for person_id, face, centroid in self._session.execute(statement):
            if person_id is None:
                continue
            for data in (face, centroid):
                if data is not None:
                    found.setdefault(person_id, []).append(_vector(data))
        return found

    def identity_exclusions(self, unknown_ids: Iterable[str]) -> builtins.list[Exclusion]:
        """The rules between identities, or between a face and an identity, touching these."""
        ids = list(set(unknown_ids))
        if not ids:
            return []
        faces = select(Detection.id).where(Detection.unknown_id.in_(ids))
        statement = select(IdentityExclusion).where(
            IdentityExclusion.other_unknown_id.is_not(None),
            or_(
                IdentityExclusion.other_unknown_id.in_(ids),
                IdentityExclusion.unknown_id.in_(ids),
                IdentityExclusion.detection_id.in_(faces),
            ),
        )
        return [
            Exclusion(r.detection_id, r.unknown_id, r.person_id, r.other_unknown_id)
            for r in self._session.scalars(statement)
        ]

    def excluded_identities_of_face(self, detection_id: int) -> set[str]:
        """The identities one face is marked "not"."""
        statement = select(IdentityExclusion.other_unknown_id).where(
            IdentityExclusion.detection_id == detection_id,
            IdentityExclusion.other_unknown_id.is_not(None),
        )
        return {uid for uid in self._session.scalars(statement) if uid is not None}

    def repoint_exclusions(self, from_id: str, to_id: str) -> None:
        """After a merge: rules about ``from_id`` now hold for ``to_id`` (none about itself)."""
        for column in (IdentityExclusion.unknown_id, IdentityExclusion.other_unknown_id):
            self._session.execute(
                update(IdentityExclusion).where(column == from_id).values({column.key: to_id})
            )
        self._session.execute(
            delete(IdentityExclusion).where(
                IdentityExclusion.unknown_id == to_id, IdentityExclusion.other_unknown_id == to_id
            )
        )


def _vector(data: bytes | None) -> Embedding:
    if data is None:  # the queries select non-null embeddings only
        raise ValueError("a face without an embedding")
    return embedding_from_bytes(data)


def _aware(moment: datetime) -> datetime:
    """SQLite forgets the zone of aggregated and raw-selected times; they are all UTC."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _utc(moment: datetime | None) -> datetime | None:
    return None if moment is None else _aware(moment)
