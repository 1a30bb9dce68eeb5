"""Enrolment photos of a person."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, File, Form, UploadFile, status
from fastapi.responses import JSONResponse

from facewatch.errors import InvalidInput
from facewatch.server.deps import EnrollKey, Multipart, RuntimeDep
from facewatch.server.routers.people import ERRORS
from facewatch.server.schemas import FacesAdded, RejectedFile
from facewatch.server.services.enrollment import ENROLLED_ELSEWHERE, Upload, add_faces
from facewatch.server.uploads import read_upload

router = APIRouter(prefix="/api/v1/people", tags=["faces"])
MAX_FILES = 100


@router.post(
    "/{person_id}/faces",
    status_code=status.HTTP_201_CREATED,
    response_model=FacesAdded,
    responses={
        **ERRORS,
        413: ERRORS[400],
        415: ERRORS[400],
        422: {"description": "No photo was usable: `detail`, `code` and the FacesAdded lists"},
    },
    dependencies=[Multipart],
)
def add_person_faces(
    person_id: int,
    images: Annotated[list[UploadFile], File(description="One or more photos of the person")],
    runtime: RuntimeDep,
    _: EnrollKey,
    allow_duplicate: Annotated[
        bool, Form(description="Enrol a face even if it is enrolled for another person")
    ] = False,
) -> FacesAdded | JSONResponse:
    """Add photos; each must hold one usable face, else it is refused with a reason."""
    if len(images) > MAX_FILES:
        raise InvalidInput(f"at most {MAX_FILES} photos per request")
    uploads: list[Upload] = []
    unreadable: list[RejectedFile] = []
    for file in images:
        try:
            uploads.append(read_upload(file, runtime.settings.max_upload_bytes))
        except InvalidInput as exc:
            unreadable.append(RejectedFile.of(file.filename or "upload", exc))
    result = add_faces(runtime, person_id, uploads, unreadable, allow_duplicate=allow_duplicate)
    if not result.accepted:
        return _refused(result)
    return result


def _refused(result: FacesAdded) -> JSONResponse:
    """422 when no photo was usable; 409 when a usable one is another person's face."""
    elsewhere = [r for r in result.rejected if r.reason == ENROLLED_ELSEWHERE]
    if elsewhere:
        body = {"detail": elsewhere[0].message, "code": ENROLLED_ELSEWHERE}
        return JSONResponse({**body, **result.model_dump(mode="json")}, status_code=409)
    body = {"detail": "no usable face in any photo", "code": "face_rejected"}
    return JSONResponse({**body, **result.model_dump(mode="json")}, status_code=422)
