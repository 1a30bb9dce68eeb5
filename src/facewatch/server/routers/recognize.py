"""Recognise every face in an image; nothing is stored."""

from __future__ import annotations

from functools import partial
from typing import Annotated

from fastapi import APIRouter, File, Form, Request, UploadFile
from starlette.concurrency import run_in_threadpool

from facewatch.server.deps import FaceBoxForm, Multipart, RecognizeKey, RuntimeDep
from facewatch.server.routers.people import ERRORS
from facewatch.server.schemas import FaceOut, RecognizeOut, face_box_hint
from facewatch.server.services.recognition import match_faces
from facewatch.server.services.workers import analyze_while_connected
from facewatch.server.uploads import read_upload
from facewatch.vision.image import decode_image

router = APIRouter(prefix="/api/v1", tags=["recognition"])

INLINE_DECODE_BYTES = 256 * 1024
"""Uploads up to this size (face crops, small frames) are decoded on the event loop."""


@router.post(
    "/recognize",
    response_model=RecognizeOut,
    responses={**ERRORS, 413: ERRORS[400], 415: ERRORS[400]},
    dependencies=[Multipart],
)
async def recognize_image(
    request: Request,
    image: Annotated[UploadFile, File(description="A photo or frame (JPEG, PNG, WebP...)")],
    runtime: RuntimeDep,
    _: RecognizeKey,
    candidates: Annotated[bool, Form(description="Include the top-k candidates")] = False,
    face_box: FaceBoxForm = None,
) -> RecognizeOut:
    """Find every face and say who it is: known, uncertain (with a candidate) or unknown."""
    # async: a face crop is decoded on the event loop (a large photo in the thread pool) and
    # the analysis worker's answer is awaited, so no thread sits waiting for it.
    settings = runtime.settings
    hint = face_box_hint(face_box)
    upload = read_upload(image, settings.max_upload_bytes)
    decode = partial(decode_image, upload.data, max_pixels=settings.max_image_pixels)
    pixels = (
        decode() if len(upload.data) <= INLINE_DECODE_BYTES else await run_in_threadpool(decode)
    )
    serving = runtime.serving()  # one model's analyzer and gallery, even across a switch
    analysed = await analyze_while_connected(request, serving.analyzer, pixels, hint)
    found = match_faces(analysed, serving.gallery, serving.thresholds, settings.top_k)
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
    return RecognizeOut(faces=faces, width=width, height=height, model=serving.model_id)
