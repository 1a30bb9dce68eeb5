"""Recognise every face in an image; nothing is stored."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, File, Form, UploadFile

from facewatch.server.deps import Multipart, RecognizeKey, RuntimeDep
from facewatch.server.routers.people import ERRORS
from facewatch.server.schemas import FaceOut, RecognizeOut
from facewatch.server.services.recognition import recognize
from facewatch.server.uploads import read_upload
from facewatch.vision.image import decode_image

router = APIRouter(prefix="/api/v1", tags=["recognition"])


@router.post(
    "/recognize",
    response_model=RecognizeOut,
    responses={**ERRORS, 413: ERRORS[400], 415: ERRORS[400]},
    dependencies=[Multipart],
)
def recognize_image(
    image: Annotated[UploadFile, File(description="A photo or frame (JPEG, PNG, WebP...)")],
    runtime: RuntimeDep,
    _: RecognizeKey,
    candidates: Annotated[bool, Form(description="Include the top-k candidates")] = False,
) -> RecognizeOut:
    """Find every face and say who it is: known, uncertain (with a candidate) or unknown."""
    upload = read_upload(image, runtime.settings.max_upload_bytes)
    pixels = decode_image(upload.data, max_pixels=runtime.settings.max_image_pixels)
    settings = runtime.settings
    found = recognize(pixels, runtime.analyzer, runtime.gallery, runtime.thresholds, settings.top_k)
    faces = [
        FaceOut.build(
            r.face.box.as_list(),
            r.face.landmarks.as_list(),
            r.face.quality.score,
            r.match,
            candidates,
        )
        for r in found
    ]
    height, width = pixels.shape[:2]
    return RecognizeOut(faces=faces, width=width, height=height, model=runtime.model_id)
