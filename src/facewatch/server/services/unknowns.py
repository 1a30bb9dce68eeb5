"""Strangers: list and read unknown identities; name, merge, split, "not X", delete; re-cluster.

Faces join identities at ingest (``unknown_ingest``); this module is what operators and
the scheduler do to them afterwards. Every change is one transaction; the in-memory
centroid cache and gallery follow once it has committed.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

import numpy as np
from sqlalchemy import select

from facewatch.errors import Conflict, InvalidInput, NotFound
from facewatch.gallery.clustering import FloatMatrix, carry_over, cluster, pairwise_distances
from facewatch.gallery.gallery import TemplateEntry
from facewatch.server.infra.runtime import Runtime
from facewatch.server.schemas import DetectionOut, Page
from facewatch.server.schemas_unknowns import (
    NamedOut,
    NameUnknown,
    NotRule,
    NotRuleOut,
    ReclusterOut,
    UnknownDetail,
    UnknownOut,
)
from facewatch.server.services.detections import detection_out
from facewatch.server.services.models import spec_of
from facewatch.server.services.people import person_out
from facewatch.server.services.unknown_ingest import assign_unknowns, centroid_cache
from facewatch.store.embeddings import embedding_from_bytes, embedding_to_bytes
from facewatch.store.models import Detection, IdentityExclusion, Person, UnknownIdentity
from facewatch.store.repositories.unknowns import ClusterFace, Exclusion, IdentityStats
from facewatch.store.unit_of_work import UnitOfWork
from facewatch.types import Embedding, MatchStatus

logger = logging.getLogger(__name__)

RECENT_FACES = 20
_NEAR_DUPLICATE = 0.05
"""Two faces this close add nothing as two templates: keep the better one."""


# --- reading ---------------------------------------------------------------------------
def list_unknowns(
    runtime: Runtime,
    *,
    since: datetime | None = None,
    camera_id: str | None = None,
    offset: int = 0,
    limit: int = 50,
) -> Page[UnknownOut]:
    """Unnamed strangers, last seen first, with their counts, dates and cameras."""
    with runtime.uow() as uow:
        rows, total = uow.unknowns.list(
            since=since, camera_id=camera_id, offset=offset, limit=limit
        )
        stats = uow.unknowns.stats(row.id for row in rows)
        items = [_out(uow, row, stats[row.id]) for row in rows]
    return Page[UnknownOut](items=items, total=total, offset=offset, limit=limit)


def get_unknown(runtime: Runtime, unknown_id: str) -> UnknownDetail:
    """One stranger (named or not) with their latest faces."""
    with runtime.uow() as uow:
        identity = uow.unknowns.get(unknown_id)
        stats = uow.unknowns.stats([unknown_id])[unknown_id]
        recent = uow.unknowns.detections(unknown_id, limit=RECENT_FACES)
        base = _out(uow, identity, stats)
        return UnknownDetail(**base.model_dump(), recent=[detection_out(row) for row in recent])


@dataclass(frozen=True, slots=True)
class Whereabouts:
    """Where the faces of a stranger that no longer exists went (merged, re-clustered)."""

    unknown_id: str | None
    person_id: int | None


def find_whereabouts(runtime: Runtime, gone_id: str) -> Whereabouts | None:
    """Where the faces of stranger ``gone_id``, who no longer exists, are now (its events
    still name it); ``None`` when nothing of it is left (deleted as not a face, purged)."""
    with runtime.uow() as uow:
        found = uow.unknowns.whereabouts(gone_id)
    return Whereabouts(*found) if found else None


def list_sightings(runtime: Runtime, unknown_id: str, limit: int = 500) -> list[DetectionOut]:
    """The faces of a stranger (named or not), newest first, at most ``limit``."""
    with runtime.uow() as uow:
        uow.unknowns.get(unknown_id)
        return [detection_out(row) for row in uow.unknowns.detections(unknown_id, limit=limit)]


def _out(uow: UnitOfWork, identity: UnknownIdentity, stats: IdentityStats) -> UnknownOut:
    return UnknownOut(
        id=identity.id,
        detections=stats.detections,
        first_seen=stats.first_seen,
        last_seen=stats.last_seen,
        cameras=stats.cameras,
        curated=identity.curated,
        person_id=identity.person_id,
        cover_detection_id=_cover(uow, identity.id),
    )


def _cover(uow: UnitOfWork, unknown_id: str) -> int | None:
    best = max(
        (row for row in uow.unknowns.detections(unknown_id, limit=50) if row.crop_image_id),
        key=lambda row: row.quality,
        default=None,
    )
    return None if best is None else best.id


# --- naming ----------------------------------------------------------------------------
def name_unknown(runtime: Runtime, unknown_id: str, body: NameUnknown) -> NamedOut:
    """Make a stranger a person: their best faces become templates, their detections theirs."""
    model = runtime.model_id
    with runtime.uow() as uow:
        identity = _unnamed(uow, unknown_id)
        person = _target_person(uow, body)
        if person.id in uow.unknowns.excluded_people(unknown_id):
            raise Conflict(f"{unknown_id} is marked 'not person {person.id}'")
        rows = uow.unknowns.detections(unknown_id)
        entries = _templates_from(uow, person, _best_faces(rows, model, _templates(runtime)))
        for row in rows:
            row.person_id, row.status = person.id, MatchStatus.KNOWN.value
        identity.person_id = person.id
        uow.commit()
        out = NamedOut(
            person=person_out(uow, person), templates_added=len(entries), detections=len(rows)
        )
    runtime.loaded_gallery_do(lambda gallery: gallery.add(entries))
    centroid_cache(runtime).drop([unknown_id])
    logger.info("%s named as person %s (%s templates)", unknown_id, out.person.id, len(entries))
    return out


def _templates(runtime: Runtime) -> int:
    return runtime.settings.unknown_name_templates


def _target_person(uow: UnitOfWork, body: NameUnknown) -> Person:
    if body.person_id is not None:
        return uow.people.get(body.person_id)
    assert body.name is not None  # the schema requires one of the two
    return uow.people.add(body.name, body.category, body.notes)


def _best_faces(rows: Sequence[Detection], model: str, count: int) -> list[Detection]:
    """The sharpest, most frontal faces (by quality), skipping near-duplicates."""
    usable = [r for r in rows if r.embedding is not None and r.model == model]
    chosen: list[Detection] = []
    vectors: list[Embedding] = []
    for row in sorted(usable, key=lambda r: (-r.quality, r.id)):
        vector = embedding_from_bytes(row.embedding or b"")
        if vectors and _nearest(vector, vectors) < _NEAR_DUPLICATE:
            continue
        chosen.append(row)
        vectors.append(vector)
        if len(chosen) == count:
            break
    return chosen


def _templates_from(
    uow: UnitOfWork, person: Person, rows: Sequence[Detection]
) -> list[TemplateEntry]:
    entries = []
    for row in rows:
        vector = embedding_from_bytes(row.embedding or b"")
        template = uow.templates.add(
            person_id=person.id,
            embedding=vector,
            model=row.model or "",
            quality=row.quality,
            box=row.box,
            image_id=row.crop_image_id,
        )
        entries.append(TemplateEntry(template.id, person.id, person.name, vector))
    return entries


# --- merge and split -------------------------------------------------------------------
def merge_unknowns(runtime: Runtime, unknown_id: str, other_id: str) -> UnknownOut:
    """Move every face of ``other_id`` into ``unknown_id``; ``other_id`` goes."""
    if unknown_id == other_id:
        raise InvalidInput("an identity cannot be merged with itself")
    with runtime.uow() as uow:
        identity, other = _unnamed(uow, unknown_id), _unnamed(uow, other_id)
        if uow.unknowns.exclusions_between(unknown_id, other_id):
            raise Conflict(f"{unknown_id} and {other_id} are marked as different people")
        if uow.unknowns.share_a_frame(unknown_id, other_id):
            raise Conflict(f"{unknown_id} and {other_id} were seen together in one frame")
        total = identity.faces + other.faces
        centroid = (
            embedding_from_bytes(identity.centroid) * identity.faces
            + embedding_from_bytes(other.centroid) * other.faces
        ) / max(total, 1)
        identity.centroid = embedding_to_bytes(centroid.astype(np.float32))
        identity.faces = total
        identity.first_seen_at = min(identity.first_seen_at, other.first_seen_at)
        identity.last_seen_at = max(identity.last_seen_at, other.last_seen_at)
        identity.curated = True
        uow.unknowns.move_all(other_id, unknown_id)
        uow.unknowns.repoint_exclusions(other_id, unknown_id)
        uow.unknowns.delete(other, with_detections=False)
        uow.commit()
        out = _out(uow, identity, uow.unknowns.stats([unknown_id])[unknown_id])
    cache = centroid_cache(runtime)
    cache.drop([other_id])
    cache.put(unknown_id, centroid.astype(np.float32))
    logger.info("%s merged into %s", other_id, unknown_id)
    return out


def split_unknown(runtime: Runtime, unknown_id: str, detection_ids: Sequence[int]) -> UnknownOut:
    """Move some faces of a stranger to a new identity, marked "not" the first one."""
    model = runtime.model_id
    moving = set(detection_ids)
    with runtime.uow() as uow:
        identity = _unnamed(uow, unknown_id)
        rows = uow.unknowns.detections(unknown_id)
        _check_split(unknown_id, {row.id for row in rows}, moving)
        leaving = [row for row in rows if row.id in moving]
        staying = [row for row in rows if row.id not in moving]
        new = _identity_of(uow, model, leaving)
        uow.unknowns.move(sorted(moving), new.id)
        _recentre(identity, staying, model)
        identity.curated = True
        uow.unknowns.exclude(Exclusion(None, unknown_id, None, new.id))
        uow.commit()
        out = _out(uow, new, uow.unknowns.stats([new.id])[new.id])
        centroids = {
            unknown_id: embedding_from_bytes(identity.centroid),
            new.id: embedding_from_bytes(new.centroid),
        }
    cache = centroid_cache(runtime)
    dim = spec_of(model).dim
    for key, vector in centroids.items():
        # Faces without a vector of the serving model (kept from before a model switch)
        # give no centroid to search by: such an identity takes no new faces.
        if vector.shape == (dim,):
            cache.put(key, vector)
    logger.info("%s split: %s faces to %s", unknown_id, len(moving), out.id)
    return out


def _check_split(unknown_id: str, faces: set[int], moving: set[int]) -> None:
    strangers = sorted(moving - faces)
    if strangers:
        raise InvalidInput(f"detections {strangers} are not faces of {unknown_id}")
    if moving == faces:
        raise InvalidInput("a split must leave at least one face where it was")


def _identity_of(uow: UnitOfWork, model: str, rows: Sequence[Detection]) -> UnknownIdentity:
    """A new curated identity whose centroid and dates are those of ``rows``."""
    vectors = _vectors(rows, model)
    seen = [row.captured_at for row in rows]
    if len(vectors) == 0:
        # Faces with no vector of the serving model (from before a model switch): the
        # identity stays under their model, out of the serving model's centroids.
        model = next((row.model for row in rows if row.model), "none")
    centroid = vectors.mean(axis=0) if len(vectors) else np.zeros(1, np.float32)
    identity = uow.unknowns.add(model, centroid.astype(np.float32), min(seen), faces=len(rows))
    identity.last_seen_at = max(seen)
    identity.curated = True
    return identity


def _recentre(identity: UnknownIdentity, rows: Sequence[Detection], model: str) -> None:
    """Centroid, face count and dates of an identity from the faces it keeps."""
    vectors = _vectors(rows, model)
    if len(vectors):
        identity.centroid = embedding_to_bytes(vectors.mean(axis=0).astype(np.float32))
    identity.faces = len(rows)
    if rows:
        identity.first_seen_at = min(row.captured_at for row in rows)
        identity.last_seen_at = max(row.captured_at for row in rows)


def _vectors(rows: Iterable[Detection], model: str) -> FloatMatrix:
    found = [
        embedding_from_bytes(row.embedding)
        for row in rows
        if row.embedding is not None and row.model == model
    ]
    return np.stack(found) if found else np.zeros((0, 0), np.float32)


# --- "not X" ---------------------------------------------------------------------------
def mark_unknown_not(runtime: Runtime, unknown_id: str, rule: NotRule) -> NotRuleOut:
    """A stranger is not this person (they are never named them) or not that stranger."""
    with runtime.uow() as uow:
        identity = uow.unknowns.get(unknown_id)
        if rule.person_id is not None:
            uow.people.get(rule.person_id)
            if identity.person_id == rule.person_id:
                raise Conflict(f"{unknown_id} was named as person {rule.person_id}")
        if rule.unknown_id is not None:
            if rule.unknown_id == unknown_id:
                raise InvalidInput("an identity cannot be marked 'not' itself")
            uow.unknowns.get(rule.unknown_id)
        uow.unknowns.exclude(Exclusion(None, unknown_id, rule.person_id, rule.unknown_id))
        uow.commit()
    return NotRuleOut(
        detection_id=None,
        unknown_id=unknown_id,
        not_person_id=rule.person_id,
        not_unknown_id=rule.unknown_id,
    )


def mark_detection_not(runtime: Runtime, detection_id: int, rule: NotRule) -> NotRuleOut:
    """A face is not this person or stranger: it leaves them now and never joins them again."""
    stored = Exclusion(detection_id, None, rule.person_id, rule.unknown_id)
    with runtime.uow() as uow:
        row = uow.detections.get(detection_id)
        if rule.person_id is not None:
            uow.people.get(rule.person_id)
        if rule.unknown_id is not None:
            uow.unknowns.get(rule.unknown_id)
        already = uow.unknowns.find_exclusion(stored) is not None
        moved = False
        if not already:  # asked twice (a second click, a retry): the first answer holds
            uow.unknowns.exclude(stored)
            moved = _leave(runtime, uow, row, rule)
            uow.commit()
        moved_to = row.unknown_id if moved else None
    return NotRuleOut(
        detection_id=detection_id,
        unknown_id=None,
        not_person_id=rule.person_id,
        not_unknown_id=rule.unknown_id,
        moved_to=moved_to,
        already=already,
    )


@dataclass(frozen=True, slots=True)
class FaceCorrection:
    """A face an operator said is not someone: whom it is not, and whose it is now."""

    not_people: Mapping[int, str]
    """Id and name of each person the face is not."""
    person_id: int | None
    person_name: str | None
    unknown_id: str | None


def face_corrections(runtime: Runtime, detection_ids: Iterable[int]) -> dict[int, FaceCorrection]:
    """The faces among ``detection_ids`` marked "not" someone, as they are now.

    Events keep whom they named when raised; cards use this to show what was corrected since.
    """
    with runtime.uow() as uow:
        marked = uow.unknowns.people_faces_are_not(detection_ids)
        found = {}
        for face_id, not_people in marked.items():
            row = uow.detections.get(face_id)
            found[face_id] = FaceCorrection(
                not_people={pid: uow.people.get(pid).name for pid in sorted(not_people)},
                person_id=row.person_id,
                person_name=row.person.name if row.person is not None else None,
                unknown_id=row.unknown_id,
            )
        return found


def _leave(runtime: Runtime, uow: UnitOfWork, row: Detection, rule: NotRule) -> bool:
    """Take the face away from the person or stranger it is not; True if it moved."""
    if rule.person_id is not None and row.person_id == rule.person_id:
        row.person_id, row.status, row.unknown_id = None, MatchStatus.UNKNOWN.value, None
    elif rule.unknown_id is not None and row.unknown_id == rule.unknown_id:
        left = uow.unknowns.get(rule.unknown_id)
        row.unknown_id = None
        uow.session.flush()
        _recentre(left, uow.unknowns.detections(left.id), runtime.model_id)
        if uow.unknowns.delete_empty([left.id]):  # that face was all it had
            centroid_cache(runtime).drop([left.id])
    else:
        return False
    forbidden = uow.unknowns.excluded_identities_of_face(row.id)
    assign_unknowns(runtime, uow, [row], [forbidden])
    return True


@dataclass(frozen=True, slots=True)
class Correction:
    """A "not this person" rule about a person: the face or stranger it was made about."""

    id: int
    detection_id: int | None
    unknown_id: str | None
    face: DetectionOut | None
    """The face the rule is about (a face rule), or the stranger's best face."""
    created_at: datetime


def person_corrections(runtime: Runtime, person_id: int) -> list[Correction]:
    """The "not this person" rules about a person, newest first."""
    with runtime.uow() as uow:
        uow.people.get(person_id)
        statement = (
            select(IdentityExclusion)
            .where(IdentityExclusion.person_id == person_id)
            .order_by(IdentityExclusion.created_at.desc(), IdentityExclusion.id.desc())
        )
        return [_correction(uow, rule) for rule in uow.session.scalars(statement)]


def _correction(uow: UnitOfWork, rule: IdentityExclusion) -> Correction:
    face_id = rule.detection_id
    if face_id is None and rule.unknown_id is not None:
        face_id = _cover(uow, rule.unknown_id)
    face = uow.detections.get(face_id) if face_id is not None else None
    return Correction(
        id=rule.id,
        detection_id=rule.detection_id,
        unknown_id=rule.unknown_id,
        face=detection_out(face) if face is not None else None,
        created_at=rule.created_at,
    )


def undo_correction(runtime: Runtime, person_id: int, rule_id: int) -> None:
    """Delete a "not this person" rule: look-alikes of its face may be named them again.

    The face it was made about stays where it went; every replica reads the rules at
    ingest, so the change holds at once everywhere.
    """
    with runtime.uow() as uow:
        rule = uow.session.get(IdentityExclusion, rule_id)
        if rule is None or rule.person_id != person_id:
            raise NotFound(f"person {person_id} has no correction {rule_id}")
        uow.session.delete(rule)
        uow.commit()
    logger.info("'not person %s' rule %s undone", person_id, rule_id)


# --- delete ----------------------------------------------------------------------------
def delete_unknown(runtime: Runtime, unknown_id: str) -> None:
    """Forget a stranger: the identity, every detection of it, and their crops."""
    with runtime.uow() as uow:
        identity = uow.unknowns.get(unknown_id)
        if identity.person_id is not None:
            raise Conflict(
                f"{unknown_id} was named as person {identity.person_id}: delete the person"
            )
        for sha in uow.unknowns.delete(identity, with_detections=True):
            uow.delete_blob_after_commit(sha)
        uow.commit()
    centroid_cache(runtime).drop([unknown_id])
    logger.info("%s deleted with its detections", unknown_id)


def _unnamed(uow: UnitOfWork, unknown_id: str) -> UnknownIdentity:
    identity = uow.unknowns.get(unknown_id)
    if identity.person_id is not None:
        raise Conflict(f"{unknown_id} was named as person {identity.person_id} already")
    return identity


# --- re-clustering ---------------------------------------------------------------------
def recluster(runtime: Runtime) -> ReclusterOut:
    """Cluster the newest strangers' faces again: identities merge and split, ids persist.

    Identities an operator named, merged or split keep their faces; faces of one frame and
    faces under a "not" rule never end together.
    """
    started = time.perf_counter()
    with runtime.uow() as uow:
        if not uow.unknowns.any_unnamed():  # before loading any model (a fresh server)
            return _report([], [], {}, started)
    model = runtime.model_id
    settings = runtime.settings
    with runtime.uow() as uow:
        faces = uow.unknowns.faces_to_recluster(model, settings.unknown_recluster_max_faces)
        if not faces:
            return _report(faces, [], {}, started)
        old = [face.unknown_id for face in faces]
        apart = _cannot_link(uow, faces)
        labels = cluster(
            np.stack([face.embedding for face in faces]),
            runtime.recognition.cluster_threshold,
            frames=[face.frame for face in faces],
            cannot_link=apart,
        )
        names = _names(uow, model, faces, labels, carry_over(old, labels))
        moved = _apply(uow, model, faces, old, labels, names)
        uow.commit()
    centroid_cache(runtime).clear()
    report = _report(faces, labels, names, started, moved)
    logger.info("re-clustering: %s", report.model_dump())
    return report


def _cannot_link(uow: UnitOfWork, faces: Sequence[ClusterFace]) -> list[tuple[int, int]]:
    """Pairs of faces (by position) that "not" rules keep apart."""
    members: dict[str, list[int]] = {}
    position = {}
    for n, face in enumerate(faces):
        members.setdefault(face.unknown_id, []).append(n)
        position[face.detection_id] = n
    pairs: list[tuple[int, int]] = []
    for rule in uow.unknowns.identity_exclusions(members):
        if rule.other_unknown_id is None:
            continue
        if rule.detection_id is not None:
            left = [position[rule.detection_id]] if rule.detection_id in position else []
        else:
            left = members.get(rule.unknown_id or "", [])
        right = members.get(rule.other_unknown_id, [])
        pairs += [(a, b) for a in left for b in right]
    return pairs


def _names(
    uow: UnitOfWork,
    model: str,
    faces: Sequence[ClusterFace],
    labels: Sequence[int],
    kept: dict[int, str | None],
) -> dict[int, str]:
    """The identity id of every new cluster: the one it keeps, or a new identity."""
    names: dict[int, str] = {}
    for label, unknown_id in kept.items():
        if unknown_id is None:
            first = min(n for n, lab in enumerate(labels) if lab == label)
            fresh = uow.unknowns.add(model, faces[first].embedding, faces[first].frame[1])
            unknown_id = fresh.id
        names[label] = unknown_id
    return names


def _apply(
    uow: UnitOfWork,
    model: str,
    faces: Sequence[ClusterFace],
    old: Sequence[str],
    labels: Sequence[int],
    names: dict[int, str],
) -> int:
    """Move the faces whose identity changed; recentre and prune the identities touched."""
    moves: dict[str, list[int]] = {}
    touched: set[str] = set()
    for face, before, label in zip(faces, old, labels, strict=True):
        if names[label] != before:
            moves.setdefault(names[label], []).append(face.detection_id)
            touched |= {before, names[label]}
    for target, detection_ids in moves.items():
        uow.unknowns.move(detection_ids, target)
    uow.session.flush()
    for unknown_id in touched:
        identity = uow.unknowns.find(unknown_id)
        if identity is not None:
            _recentre(identity, uow.unknowns.detections(unknown_id), model)
    uow.unknowns.delete_empty(touched)
    return sum(len(ids) for ids in moves.values())


def _report(
    faces: Sequence[ClusterFace],
    labels: Sequence[int],
    names: dict[int, str],
    started: float,
    moved: int = 0,
) -> ReclusterOut:
    old = [face.unknown_id for face in faces]
    before, after = set(old), set(names.values())
    new_of_old: dict[str, set[str]] = {}
    for previous, label in zip(old, labels, strict=True):
        new_of_old.setdefault(previous, set()).add(names[label])
    return ReclusterOut(
        faces=len(faces),
        identities_before=len(before),
        identities_after=len(after),
        merged=len(before - after),
        split=sum(1 for targets in new_of_old.values() if len(targets) > 1),
        created=len(after - before),
        faces_moved=moved,
        seconds=round(time.perf_counter() - started, 3),
    )


def _nearest(vector: Embedding, others: Sequence[Embedding]) -> float:
    return float(pairwise_distances(vector[None, :], np.stack(others)).min())
