"""Search by photo: for every face of the photo, who it is, who it looks like (people and
strangers), and when and where such a face was seen."""

from __future__ import annotations

import base64
from dataclasses import dataclass
from typing import Annotated

from fastapi import APIRouter, File, Request, Response, UploadFile

from facewatch.dashboard.auth import AnyUserForm, Viewer
from facewatch.dashboard.web import DashboardRoute, render
from facewatch.errors import InvalidInput
from facewatch.server.deps import RuntimeDep
from facewatch.server.infra.runtime import Runtime
from facewatch.server.schemas_unknowns import IdentityHit, SightingOut
from facewatch.server.services.recognition import RecognizedFace, recognize
from facewatch.server.services.search import SearchQuery, search_by_face
from facewatch.server.uploads import read_upload
from facewatch.types import MatchStatus, RGBImage
from facewatch.vision.image import crop_face, decode_image, encode_jpeg

router = APIRouter(route_class=DashboardRoute, include_in_schema=False)
SIGHTINGS = 24


@dataclass(frozen=True, slots=True)
class FaceResult:
    """One face of the searched photo: the verdict, who it looks like, and the nearest
    sightings of such a face (of enrolled people and of strangers)."""

    crop_data_url: str
    status: MatchStatus
    person_id: int | None
    name: str | None
    distance: float | None
    identities: list[IdentityHit]
    sightings: list[SightingOut]
    scanned: int
    truncated: bool


@router.get("/search")
def show_search(request: Request, _: Viewer) -> Response:
    """The upload form."""
    return render(request, "search.html", {"results": None})


@router.post("/search")
def search_by_photo(
    request: Request,
    runtime: RuntimeDep,
    _: AnyUserForm,
    photo: Annotated[UploadFile, File()],
) -> Response:
    """Recognise each face of the photo and list who it looks like and where it was seen."""
    try:
        upload = read_upload(photo, runtime.settings.max_upload_bytes)
        image = decode_image(upload.data, max_pixels=runtime.settings.max_image_pixels)
    except InvalidInput as exc:
        return render(request, "search.html", {"results": None, "error": exc.message}, 400)
    settings = runtime.settings
    faces = recognize(image, *runtime.serving().parts, settings.top_k)
    faces.sort(key=lambda face: (face.face.box.left, face.face.box.top))  # left to right
    results = [_result(runtime, image, face) for face in faces]
    return render(request, "search.html", {"results": results, "filename": upload.filename})


def _result(runtime: Runtime, image: RGBImage, recognized: RecognizedFace) -> FaceResult:
    match = recognized.match
    # An uncertain face still points at its best candidate: the page shows it as possible.
    person_id = match.person_id if match.status is not MatchStatus.UNKNOWN else None
    assert recognized.face.embedding is not None  # analysed with embeddings
    found = search_by_face(runtime, recognized.face.embedding, SearchQuery(limit=SIGHTINGS))
    return FaceResult(
        crop_data_url=_data_url(crop_face(image, recognized.face.box)),
        status=match.status,
        person_id=person_id,
        name=match.name if person_id is not None else None,
        distance=match.distance,
        identities=found.identities,
        sightings=found.sightings,
        scanned=found.scanned,
        truncated=found.truncated,
    )


def _data_url(crop: RGBImage) -> str:
    """The crop inline in the page: the searched photo is never stored."""
    return "data:image/jpeg;base64," + base64.b64encode(encode_jpeg(crop, quality=85)).decode()
