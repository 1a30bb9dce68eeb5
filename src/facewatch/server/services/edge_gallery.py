"""The gallery copy that edge agents in mode ``local`` download (``GET /api/v1/edge/gallery``).

Every enrolled person of the serving model (id, name, category) and their template
embeddings, with the model id and the open-set thresholds the server decides with, so that
both sides apply the same rule. ``version`` changes whenever the copy would.
"""

from __future__ import annotations

import base64
import hashlib

import numpy as np
from pydantic import BaseModel, Field
from sqlalchemy import select

from facewatch.server.infra.runtime import Runtime
from facewatch.server.infra.sync import read_fingerprint
from facewatch.server.services.models import spec_of
from facewatch.store.models import Person
from facewatch.store.unit_of_work import UnitOfWork


class GalleryThresholds(BaseModel):
    """The server's open-set decision (``facewatch.gallery.matching.thresholds_from``)."""

    match_threshold: float
    unknown_threshold: float
    margin_weight: float
    margin_cap: float


class GalleryPerson(BaseModel):
    id: int
    name: str
    category: str


class GalleryTemplate(BaseModel):
    id: int
    person_id: int
    embedding: str = Field(description="Base64 of the vector: `dim` little-endian float32.")


class EdgeGalleryOut(BaseModel):
    version: str = Field(description="Changes whenever the copy would; pass it as `since`.")
    model_id: str = Field(description="The embedder the templates (and the edge) must use.")
    dim: int
    top_k: int = Field(description="Candidates per face the server weighs.")
    thresholds: GalleryThresholds
    people: list[GalleryPerson]
    templates: list[GalleryTemplate]


def gallery_version(runtime: Runtime) -> str:
    """A short hash of what the copy depends on: the gallery tables' fingerprint, the model
    and the decision settings. Read before the rows, so a change made meanwhile shows as a
    new version on the next poll rather than being missed."""
    model_id = runtime.serving_model
    fingerprint = read_fingerprint(runtime.db, model_id)
    basis = repr((fingerprint, model_id, runtime.thresholds, runtime.settings.top_k))
    return hashlib.sha256(basis.encode()).hexdigest()[:24]


def gallery_copy(runtime: Runtime, version: str) -> EdgeGalleryOut:
    """The copy as of now, labelled ``version`` (read ``gallery_version`` first)."""
    with runtime.uow() as uow:
        return _gallery(runtime, uow, version)


def _gallery(runtime: Runtime, uow: UnitOfWork, version: str) -> EdgeGalleryOut:
    settings, model_id = runtime.settings, runtime.serving_model
    recognition = runtime.recognition
    templates: list[GalleryTemplate] = []
    names: dict[int, str] = {}
    for row in uow.templates.all_for_model(model_id):  # decrypted by the store
        vector = np.asarray(row.embedding, dtype="<f4").tobytes()
        templates.append(
            GalleryTemplate(
                id=row.template_id,
                person_id=row.person_id,
                embedding=base64.b64encode(vector).decode("ascii"),
            )
        )
        names[row.person_id] = row.person_name
    return EdgeGalleryOut(
        version=version,
        model_id=model_id,
        dim=spec_of(model_id).dim,
        top_k=settings.top_k,
        thresholds=GalleryThresholds(
            match_threshold=recognition.match_threshold,
            unknown_threshold=recognition.unknown_threshold,
            margin_weight=recognition.margin_weight,
            margin_cap=recognition.margin_cap,
        ),
        people=[
            GalleryPerson(id=pid, name=names[pid], category=category)
            for pid, category in _categories(uow, names)
        ],
        templates=templates,
    )


def _categories(uow: UnitOfWork, names: dict[int, str]) -> list[tuple[int, str]]:
    """(person id, category) of the people holding templates, by id."""
    if not names:
        return []
    statement = select(Person.id, Person.category).order_by(Person.id)
    return [(pid, cat) for pid, cat in uow.session.execute(statement) if pid in names]
