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

import logging
from typing import Annotated

from fastapi import APIRouter, Query, Response, status

from facewatch.server.deps import GalleryKey, RuntimeDep
from facewatch.server.routers.people import ERRORS
from facewatch.server.services.audit import record
from facewatch.server.services.edge_gallery import EdgeGalleryOut, gallery_copy, gallery_version

logger = logging.getLogger(__name__)
router = APIRouter(prefix="/api/v1/edge", tags=["edge"])


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
    out = gallery_copy(runtime, version)
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
