"""Detections: every face a camera saw, when, and who it was (or that it was nobody known)."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Select, select
from sqlalchemy.orm import InstrumentedAttribute, Session, joinedload

from facewatch.errors import InvalidInput, NotFound
from facewatch.store.embeddings import box_to_list, embedding_to_bytes
from facewatch.store.models import Camera, Detection, Image, Person, utcnow
from facewatch.store.repositories.common import Page, check_text, fetch_page, flush_or_conflict
from facewatch.types import Box, Candidate, Embedding, Landmarks, MatchStatus


class DetectionRepository:
    """Reads and writes the ``detections`` table."""

    def __init__(self, session: Session) -> None:
        self._session = session

    def add(
        self,
        *,
        captured_at: datetime,
        status: MatchStatus,
        confidence: float,
        box: Box | Sequence[int],
        quality: float,
        camera_id: str | None = None,
        person_id: int | None = None,
        distance: float | None = None,
        landmarks: Landmarks | None = None,
        candidates: Sequence[Candidate] = (),
        embedding: Embedding | None = None,
        model: str | None = None,
        crop_image_id: int | None = None,
        track_id: str | None = None,
        edge_id: str | None = None,
        idempotency_key: str | None = None,
        face_index: int = 0,
        request_sha256: str | None = None,
        received_at: datetime | None = None,
        latitude: float | None = None,
        longitude: float | None = None,
    ) -> Detection:
        """Store one detection; ``Conflict`` if (idempotency_key, face_index) is stored already.

        ``NotFound`` if the camera, person or crop image does not exist. Timestamps must
        be timezone-aware. After a ``Conflict`` the unit of work must end (the database's
        unique constraint found the clash, see ``flush_or_conflict``).
        """
        camera, person, crop = self._references(camera_id, person_id, crop_image_id)
        detection = Detection(
            captured_at=_aware("captured_at", captured_at),
            received_at=_aware("received_at", received_at or utcnow()),
            camera_id=camera_id,
            person_id=person_id,
            status=_status(status),
            distance=None if distance is None else float(distance),
            confidence=float(confidence),
            box=box_to_list(box),
            landmarks=None if landmarks is None else landmarks.as_list(),
            quality=float(quality),
            candidates=[_candidate_dict(candidate) for candidate in candidates],
            embedding=None if embedding is None else embedding_to_bytes(embedding),
            model=None if model is None else check_text(Detection.model, model),
            crop_image_id=crop_image_id,
            track_id=_optional_text(Detection.track_id, track_id),
            edge_id=_optional_text(Detection.edge_id, edge_id),
            idempotency_key=_optional_text(Detection.idempotency_key, idempotency_key),
            face_index=face_index,
            request_sha256=request_sha256,
            latitude=latitude,
            longitude=longitude,
        )
        # Set alongside the ids: the row holds them, so reading them back costs no query.
        detection.camera, detection.person, detection.crop_image = camera, person, crop
        self._session.add(detection)
        flush_or_conflict(self._session, _duplicate(idempotency_key, face_index))
        return detection

    def get(self, detection_id: int) -> Detection:
        """The detection with this id (camera, person, crop loaded); ``NotFound`` if none."""
        detection = self._session.scalar(
            _with_relations(select(Detection)).filter_by(id=detection_id)
        )
        if detection is None:
            raise NotFound(f"detection {detection_id} not found")
        return detection

    def by_idempotency_keys(self, keys: Collection[str]) -> dict[str, list[Detection]]:
        """``by_idempotency_key`` for many keys in one query; keys with no rows are left out."""
        found: dict[str, list[Detection]] = {}
        if not keys:
            return found
        statement = (
            _with_relations(select(Detection))
            .where(Detection.idempotency_key.in_(set(keys)))
            .order_by(Detection.idempotency_key, Detection.face_index)
        )
        for row in self._session.scalars(statement):
            assert row.idempotency_key is not None
            found.setdefault(row.idempotency_key, []).append(row)
        return found

    def by_idempotency_key(self, key: str) -> list[Detection]:
        """The detections stored under idempotency ``key``, by face index (a retry's answer)."""
        statement = (
            _with_relations(select(Detection))
            .where(Detection.idempotency_key == key)
            .order_by(Detection.face_index)
        )
        return list(self._session.scalars(statement))

    def query(
        self,
        *,
        person_id: int | None = None,
        camera_id: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        unknown_only: bool = False,
        status: MatchStatus | None = None,
        offset: int = 0,
        limit: int = 100,
    ) -> Page[Detection]:
        """Detections newest first, filtered; ``since`` is inclusive, ``until`` exclusive.

        ``unknown_only`` keeps the faces that were not named (no person).
        """
        statement = _with_relations(select(Detection)).order_by(
            Detection.captured_at.desc(), Detection.id.desc()
        )
        if person_id is not None:
            statement = statement.where(Detection.person_id == person_id)
        if camera_id is not None:
            statement = statement.where(Detection.camera_id == camera_id)
        if since is not None:
            statement = statement.where(Detection.captured_at >= _aware("since", since))
        if until is not None:
            statement = statement.where(Detection.captured_at < _aware("until", until))
        if unknown_only:
            statement = statement.where(Detection.person_id.is_(None))
        if status is not None:
            statement = statement.where(Detection.status == _status(status))
        return fetch_page(self._session, statement, offset, limit)

    def last_for_person(self, person_id: int) -> Detection | None:
        """The latest detection of ``person_id`` with its camera loaded, if any."""
        statement = (
            _with_relations(select(Detection))
            .where(Detection.person_id == person_id)
            .order_by(Detection.captured_at.desc(), Detection.id.desc())
            .limit(1)
        )
        return self._session.scalar(statement)

    def _references(
        self, camera_id: str | None, person_id: int | None, crop_image_id: int | None
    ) -> tuple[Camera | None, Person | None, Image | None]:
        """The camera, person and crop a detection refers to; ``NotFound`` for a missing one.

        Rows the session holds already (the caller's camera, a crop just added) cost no query.
        """
        camera = person = crop = None
        if camera_id is not None and (camera := self._session.get(Camera, camera_id)) is None:
            raise NotFound(f"camera {camera_id!r} not found")
        if person_id is not None and (person := self._session.get(Person, person_id)) is None:
            raise NotFound(f"person {person_id} not found")
        if crop_image_id is not None and (crop := self._session.get(Image, crop_image_id)) is None:
            raise NotFound(f"image {crop_image_id} not found")
        return camera, person, crop


def _with_relations(statement: Select[Detection]) -> Select[Detection]:
    """Load camera, person and crop in the same query: callers render all three."""
    return statement.options(
        joinedload(Detection.camera), joinedload(Detection.person), joinedload(Detection.crop_image)
    )


def _aware(field: str, value: datetime) -> datetime:
    if value.tzinfo is None or value.utcoffset() is None:
        raise InvalidInput(f"{field} must be a timezone-aware timestamp")
    return value


def _optional_text(column: InstrumentedAttribute[Any], value: str | None) -> str | None:
    return None if value is None else check_text(column, value)


def _status(value: MatchStatus | str) -> str:
    try:
        return MatchStatus(value).value
    except ValueError:
        choices = ", ".join(status.value for status in MatchStatus)
        raise InvalidInput(f"status must be one of {choices}, not {value!r}") from None


def _candidate_dict(candidate: Candidate) -> dict[str, object]:
    # No name: a person's name is kept sealed under their key only (store/person_keys.py);
    # readers look it up by id, as it is now.
    return {"person_id": candidate.person_id, "distance": candidate.distance}


def _duplicate(key: str | None, face_index: int) -> str:
    return f"face {face_index} of idempotency key {key!r} is already stored"
