"""Recognise every face in an image; nothing is stored."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, File, Form, Request, UploadFile

from facewatch.server.deps import FaceBoxForm, Multipart, RecognizeKey, RuntimeDep
from facewatch.server.routers.people import ERRORS
from facewatch.server.schemas import FaceOut, RecognizeOut, face_box_hint
from facewatch.server.services.recognition import Recognizer
from facewatch.server.uploads import read_upload

router = APIRouter(prefix="/api/v1", tags=["recognition"])


async def get_recognizer(request: Request, runtime: RuntimeDep) -> Recognizer:
    """The app's recognizer (made on first use: it holds the bound of the route)."""
    recognizer: Recognizer | None = getattr(request.app.state, "recognizer", None)
    if recognizer is None or recognizer.runtime is not runtime:
        recognizer = request.app.state.recognizer = Recognizer(runtime)
    return recognizer


RecognizerDep = Annotated[Recognizer, Depends(get_recognizer)]


@router.post(
    "/recognize",
    response_model=RecognizeOut,
    responses={**ERRORS, 413: ERRORS[400], 415: ERRORS[400], 503: ERRORS[400]},
    dependencies=[Multipart],
)
async def recognize_image(
    request: Request,
    image: Annotated[UploadFile, File(description="A photo or frame (JPEG, PNG, WebP...)")],
    recognizer: RecognizerDep,
    _: RecognizeKey,
    candidates: Annotated[bool, Form(description="Include the top-k candidates")] = False,
    face_box: FaceBoxForm = None,
) -> RecognizeOut:
    """Find every face and say who it is: known, uncertain (with a candidate) or unknown."""
    # async: the analysis worker's answer is awaited, so no thread sits waiting for it.
    upload = read_upload(image, recognizer.runtime.settings.max_upload_bytes)
    found = await recognizer.recognize(upload.data, face_box_hint(face_box), request)
    faces = [
        FaceOut.build(
            r.face.box.as_list(),
            r.face.landmarks.as_list(),
            r.face.quality.score,
            r.match,
            candidates,
        )
        for r in found.faces
    ]
    return RecognizeOut(faces=faces, width=found.width, height=found.height, model=found.model)
