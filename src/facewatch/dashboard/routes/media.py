"""Enrolment photos and face crops for the pages, to logged-in users only."""

from __future__ import annotations

from fastapi import APIRouter, Response

from facewatch.dashboard.auth import Viewer
from facewatch.dashboard.web import DashboardRoute, image_response
from facewatch.errors import NotFound
from facewatch.server.deps import RuntimeDep
from facewatch.server.services import people
from facewatch.server.services.detections import detection_crop
from facewatch.store.blobs import is_blob_key

router = APIRouter(route_class=DashboardRoute, include_in_schema=False)

# Content-addressed: the bytes behind a key never change, so the browser may keep them,
# but only for this user (private) since they are faces.
CACHE = "private, max-age=86400, immutable"
BRIEFLY = "private, max-age=300"


@router.get("/media/{sha256}")
def get_media(sha256: str, runtime: RuntimeDep, _: Viewer) -> Response:
    """The stored image with this SHA-256 (a photo or a crop)."""
    if not is_blob_key(sha256):
        raise NotFound("no such image")
    with runtime.uow() as uow:
        image = uow.images.get_by_sha256(sha256)
        if image is None:
            raise NotFound("no such image")
        content_type = image.content_type
    data = runtime.blobs.get(sha256)  # NotFound if the blob is missing
    return image_response(data, content_type, CACHE)


@router.get("/media/detections/{detection_id}")
def get_detection_crop(detection_id: int, runtime: RuntimeDep, _: Viewer) -> Response:
    """The face crop of a detection (event cards know the detection, not the image)."""
    crop = detection_crop(runtime, detection_id)
    # The crop goes when its person is deleted: cache it briefly only.
    return image_response(crop.data, crop.content_type, BRIEFLY)


@router.get("/media/people/{person_id}/faces/{template_id}")
def get_enrolment_face(
    person_id: int, template_id: int, runtime: RuntimeDep, _: Viewer
) -> Response:
    """An enrolment photo cut to its face (the person page shows these)."""
    face = people.enrolment_face(runtime, person_id, template_id)
    # The photo may be deleted from the person page: cache it briefly only.
    return image_response(face, "image/jpeg", BRIEFLY)
