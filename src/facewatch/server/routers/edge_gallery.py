"""The gallery copy of edge agents in mode ``local``: ``GET /api/v1/edge/gallery``.

An agent that recognises on site keeps a copy of the gallery: every enrolled person of the
current embedder (id, name, category) and their template embeddings, with the model id and
the open-set thresholds the server decides with, so that both sides apply the same rule.
Photos never leave the server; embeddings are read through the store, which decrypts them
when encryption at rest is on (they travel in the clear, so serve the API over TLS).

The answer carries a ``version`` (also the ``ETag``): the agent polls with
``?since=<version>`` and gets ``304 Not Modified`` while nothing changed, so a poll costs one
small aggregate query. The route needs a key with scope ``gallery`` (``admin`` implies it):
an ``ingest`` key alone cannot download biometric templates, so a crops-mode agent that is
stolen gives away no gallery. Every copy sent is recorded in the audit log
(``gallery.copied``, by the key that took it).
"""

from __future__ import annotations

import base64
import hashlib
import logging
from typing import Annotated

import numpy as np
from fastapi import APIRouter, Depends, Query, Response, status
from pydantic import BaseModel, Field
from sqlalchemy import select

from facewatch.server.deps import RuntimeDep, require
from facewatch.server.routers.people import ERRORS
from facewatch.server.security import Scope
from facewatch.server.services.audit import record
from facewatch.server.services.models import spec_of
from facewatch.server.services.runtime import Runtime
from facewatch.server.services.sync import read_fingerprint
from facewatch.store.models import ApiKey, Person
from facewatch.store.unit_of_work import UnitOfWork

logger = logging.getLogger(__name__)

router = APIRouter(prefix="/api/v1/edge", tags=["edge"])

GalleryKey = Annotated[ApiKey, Depends(require(Scope.GALLERY))]


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


@router.get(
    "/gallery",
    response_model=EdgeGalleryOut,
    responses={**ERRORS, 304: {"description": "Unchanged since `since`."}},
)
def get_edge_gallery(
    runtime: RuntimeDep,
    key: GalleryKey,
    response: Response,
    since: Annotated[
        str | None, Query(max_length=64, description="The version the agent holds")
    ] = None,
) -> EdgeGalleryOut | Response:
    """The gallery for on-site recognition (people and embeddings, no photos); 304 if unchanged."""
    version = gallery_version(runtime)
    if since == version:
        return Response(status_code=status.HTTP_304_NOT_MODIFIED, headers={"ETag": version})
    with runtime.uow() as uow:
        out = _gallery(runtime, uow, version)
    response.headers["ETag"] = version
    # Templates are biometric data: the audit log keeps who took a copy of which version
    # (a poll answered 304 took nothing and is not recorded).
    details = {"templates": len(out.templates), "people": len(out.people)}
    record(runtime, "gallery.copied", target=f"gallery:{version}", details=details)
    logger.info(
        "edge gallery %s sent to key %s: %s templates of %s people",
        version,
        key.prefix,
        len(out.templates),
        len(out.people),
    )
    return out


def gallery_version(runtime: Runtime) -> str:
    """A short hash of what the copy depends on: the gallery tables' fingerprint, the model
    and the decision settings. Read before the rows, so a change made meanwhile shows as a
    new version on the next poll rather than being missed."""
    model_id = runtime.serving_model
    fingerprint = read_fingerprint(runtime.db, model_id)
    basis = repr((fingerprint, model_id, runtime.thresholds, runtime.settings.top_k))
    return hashlib.sha256(basis.encode()).hexdigest()[:24]


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
