"""Embedding models of the install: which one serves, and what a re-embed still has to do.

Templates and detections each record the model that made their embedding. Changing the
embedder adds templates of the new model beside the old ones (same person, same photo) and
keeps the new vectors of detections in ``pending_embeddings`` until the switch, so the old
model answers, unchanged, until the new one covers everyone.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

import numpy as np
from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session, aliased
from sqlalchemy.sql.expression import Exists

from facewatch.store.embeddings import embedding_from_bytes, embedding_to_bytes
from facewatch.store.models import (
    Detection,
    Image,
    ModelState,
    PendingEmbedding,
    Person,
    Template,
    UnknownIdentity,
    utcnow,
)
from facewatch.types import Embedding

SERVING_KEY = "serving_model"
TARGET_KEY = "target_model"
_FAILED_PREFIX = "reembed_failed:"
CURSOR_PREFIX = "reembed_cursor:"
"""Key prefix of a re-embed's saved position in ``model_state`` (per target model)."""


class TemplateToEmbed(NamedTuple):
    """A template of the old model whose photo the new model must embed."""

    template_id: int
    person_id: int
    image_sha256: str
    box: list[int]


class CropToEmbed(NamedTuple):
    """A detection of the old model whose stored crop the new model must embed."""

    detection_id: int
    crop_sha256: str
    box: list[int]


class ModelRepository:
    """Reads and writes ``model_state`` and ``pending_embeddings``; counts per model."""

    def __init__(self, session: Session) -> None:
        self._session = session

    # --- the serving model ---------------------------------------------------------------
    def serving(self) -> str | None:
        """The model recorded as serving, if one was."""
        row = self._session.get(ModelState, SERVING_KEY)
        model = None if row is None else row.value.get("model")
        return model if isinstance(model, str) else None

    def set_serving(self, model: str) -> None:
        """Record ``model`` as the one that serves (committed by the caller)."""
        self._put(SERVING_KEY, {"model": model})

    def target(self) -> str | None:
        """The model the newest configuration asks for (recorded by each server's start)."""
        row = self._session.get(ModelState, TARGET_KEY)
        model = None if row is None else row.value.get("model")
        return model if isinstance(model, str) else None

    def set_target(self, model: str) -> None:
        """Record the model the configuration asks for (committed by the caller)."""
        self._put(TARGET_KEY, {"model": model})

    # --- what each model covers ----------------------------------------------------------
    def template_counts(self) -> dict[str, int]:
        """Templates per model."""
        rows = self._session.execute(
            select(Template.model, func.count()).group_by(Template.model)
        ).all()
        return {model: count for model, count in rows}

    def detection_counts(self) -> dict[str, int]:
        """Detections with an embedding, per model."""
        rows = self._session.execute(
            select(Detection.model, func.count())
            .where(Detection.embedding.is_not(None), Detection.model.is_not(None))
            .group_by(Detection.model)
        ).all()
        return {model: count for model, count in rows if model}

    def people_without(self, target: str) -> list[tuple[int, str]]:
        """People who have templates, but none of model ``target`` (id, name)."""
        of_target = select(Template.person_id).where(Template.model == target)
        rows = self._session.execute(
            select(Person.id, Person.name)
            .where(Person.id.in_(select(Template.person_id)), Person.id.not_in(of_target))
            .order_by(Person.id)
        ).all()
        return [(pid, name) for pid, name in rows]

    def templates_to_embed(
        self, source: str, target: str, after: int, limit: int
    ) -> list[TemplateToEmbed]:
        """Templates of ``source`` with a photo and no ``target`` template of the same person
        and photo, nor a recorded failure for ``target``; by id, after ``after``."""
        failed = self.failures(target)
        query = (
            select(Template.id, Template.person_id, Image.sha256, Template.box)
            .join(Image, Image.id == Template.image_id)
            .where(Template.model == source, Template.id > after, ~self._twin_exists(target))
            .order_by(Template.id)
            .limit(limit)
        )
        if failed:
            query = query.where(Template.id.not_in(list(failed)))
        return [TemplateToEmbed(*row) for row in self._session.execute(query).all()]

    def count_templates_to_embed(self, source: str, target: str) -> int:
        """How many templates ``templates_to_embed`` would still give, in all."""
        return len(self._template_ids_to_embed(source, target))

    def templates_without_photo(self, model: str) -> list[tuple[int, int]]:
        """Templates of ``model`` enrolled from an embedding alone (template id, person id)."""
        rows = self._session.execute(
            select(Template.id, Template.person_id)
            .where(Template.model == model, Template.image_id.is_(None))
            .order_by(Template.id)
        ).all()
        return [(tid, pid) for tid, pid in rows]

    def crops_to_embed(self, source: str, target: str, after: int, limit: int) -> list[CropToEmbed]:
        """Detections of ``source`` with a crop and no pending ``target`` vector; by id."""
        query = (
            select(Detection.id, Image.sha256, Detection.box)
            .join(Image, Image.id == Detection.crop_image_id)
            .where(
                Detection.model == source,
                Detection.embedding.is_not(None),
                Detection.id > after,
                ~self._pending_exists(target),
            )
            .order_by(Detection.id)
            .limit(limit)
        )
        return [CropToEmbed(*row) for row in self._session.execute(query).all()]

    def count_crops_to_embed(self, source: str, target: str, after: int = 0) -> int:
        """How many detections ``crops_to_embed`` would still give after ``after``."""
        query = (
            select(func.count())
            .select_from(Detection)
            .where(
                Detection.model == source,
                Detection.embedding.is_not(None),
                Detection.crop_image_id.is_not(None),
                Detection.id > after,
                ~self._pending_exists(target),
            )
        )
        return int(self._session.scalar(query) or 0)

    def pending_count(self, target: str) -> int:
        """Detection vectors of ``target`` waiting for the switch."""
        query = select(func.count()).where(PendingEmbedding.model == target)
        return int(self._session.scalar(query) or 0)

    # --- writing a re-embed's results ------------------------------------------------------
    def add_pending(self, detection_id: int, model: str, embedding: Embedding) -> None:
        """Keep a detection's vector of ``model`` until that model serves."""
        self._session.merge(
            PendingEmbedding(
                detection_id=detection_id, model=model, embedding=embedding_to_bytes(embedding)
            )
        )

    def record_failure(self, target: str, template_id: int, reason: str) -> None:
        """A template whose photo holds no face for ``target``: listed, never dropped."""
        failed = self.failures(target)
        failed[template_id] = reason
        self._put(_FAILED_PREFIX + target, {str(k): v for k, v in failed.items()})

    def failures(self, target: str) -> dict[int, str]:
        """Templates the ``target`` model could not embed, with the reason."""
        row = self._session.get(ModelState, _FAILED_PREFIX + target)
        if row is None:
            return {}
        return {int(k): str(v) for k, v in row.value.items()}

    def apply_pending(self, target: str, batch: int = 500) -> int:
        """Move the pending vectors of ``target`` into their detections; how many moved."""
        moved = 0
        while True:
            rows = self._session.scalars(
                select(PendingEmbedding).where(PendingEmbedding.model == target).limit(batch)
            ).all()
            if not rows:
                return moved
            detections = {
                d.id: d
                for d in self._session.scalars(
                    select(Detection).where(Detection.id.in_([r.detection_id for r in rows]))
                )
            }
            for row in rows:
                detection = detections.get(row.detection_id)
                if detection is not None:
                    detection.embedding, detection.model = row.embedding, target
                    moved += 1
                self._session.delete(row)
            self._session.flush()

    def recentre_unknowns(self, source: str, target: str) -> tuple[int, int]:
        """Give each stranger of ``source`` a ``target`` centroid from its re-embedded faces.

        Returns (identities moved to ``target``, identities left without any re-embedded
        face, which keep their ``source`` centroid and stop taking new faces).
        """
        moved = left = 0
        identities = self._session.scalars(
            select(UnknownIdentity).where(UnknownIdentity.model == source)
        ).all()
        for identity in identities:
            vectors = [
                embedding_from_bytes(data)
                for data in self._session.scalars(
                    select(Detection.embedding).where(
                        Detection.unknown_id == identity.id,
                        Detection.model == target,
                        Detection.embedding.is_not(None),
                    )
                )
                if data is not None
            ]
            if not vectors:
                left += 1
                continue
            centroid = np.mean(np.stack(vectors), axis=0).astype(np.float32)
            identity.centroid, identity.model = embedding_to_bytes(centroid), target
            identity.faces = len(vectors)
            moved += 1
        self._session.flush()
        return moved, left

    def cursor_state(self, key: str) -> dict[str, object]:
        """A re-embed's saved position (empty if none)."""
        row = self._session.get(ModelState, key)
        return {} if row is None else dict(row.value)

    def set_cursor_state(self, key: str, value: dict[str, object]) -> None:
        """Save a re-embed's position (committed by the caller)."""
        self._put(key, value)

    def abandon_reembeds(self, keep: str) -> int:
        """Forget every re-embed toward a model other than ``keep``: its pending detection
        vectors, saved position and failures (a switch back and forth must not leave vectors
        of detections behind, nor resume from a position whose pending rows are gone).
        Returns the pending vectors dropped; committed by the caller."""
        dropped = self._session.execute(
            delete(PendingEmbedding).where(PendingEmbedding.model != keep)
        )
        for prefix in (CURSOR_PREFIX, _FAILED_PREFIX):
            self._session.execute(
                delete(ModelState).where(
                    ModelState.key.startswith(prefix, autoescape=True),
                    ModelState.key != prefix + keep,
                )
            )
        self._session.flush()
        return int(getattr(dropped, "rowcount", 0) or 0)

    # --- helpers -----------------------------------------------------------------------------
    def _template_ids_to_embed(self, source: str, target: str) -> Sequence[int]:
        query = select(Template.id).where(
            Template.model == source,
            Template.image_id.is_not(None),
            ~self._twin_exists(target),
        )
        failed = self.failures(target)
        return [tid for tid in self._session.scalars(query) if tid not in failed]

    @staticmethod
    def _twin_exists(target: str) -> Exists:
        """A ``target`` template of the same person and photo as the outer ``Template``."""
        twin = aliased(Template)
        return (
            select(twin.id)
            .where(
                twin.model == target,
                twin.person_id == Template.person_id,
                twin.image_id == Template.image_id,
            )
            .exists()
        )

    @staticmethod
    def _pending_exists(target: str) -> Exists:
        return (
            select(PendingEmbedding.detection_id)
            .where(PendingEmbedding.detection_id == Detection.id, PendingEmbedding.model == target)
            .exists()
        )

    def _put(self, key: str, value: dict[str, object]) -> None:
        row = self._session.get(ModelState, key)
        if row is None:
            self._session.add(ModelState(key=key, value=value, updated_at=utcnow()))
        else:
            row.value = value
            row.updated_at = utcnow()
        self._session.flush()
