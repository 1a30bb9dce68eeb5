"""/face-recognition: recognise the faces of an image; store or forward the results."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, File, Form, Request, UploadFile

from facewatch.server.compat.auth import IngestAccess, RecognizeAccess
from facewatch.server.compat.fields import (
    CAMERA_ID,
    IMAGE_TO_RECOGNISE,
    INCLUDE_PREDICTIONS,
    LOCATION_ID,
    optional_boolean,
    required_file,
    required_text,
)
from facewatch.server.compat.forward import Forwarder
from facewatch.server.compat.routers.common import UPLOAD_ERRORS, compat_router
from facewatch.server.compat.schemas import RecognitionOut, SentOut
from facewatch.server.compat.services import recognition
from facewatch.server.deps import RuntimeDep
from facewatch.server.uploads import read_upload

router = compat_router()

ImageField = Annotated[UploadFile | str | None, File(description=IMAGE_TO_RECOGNISE.help)]
CameraField = Annotated[str | None, Form(description=CAMERA_ID.help)]
LocationField = Annotated[str | None, Form(description=LOCATION_ID.help)]
PredictionsField = Annotated[
    str | None, Form(description=f"{INCLUDE_PREDICTIONS.help} true/1 or false/0.")
]


def get_forwarder(runtime: RuntimeDep) -> Forwarder | None:
    """The forwarder of send-results, if a URL is configured (tests may override this)."""
    url = runtime.settings.compat_forward_url
    return Forwarder(url) if url else None


@router.post(
    "/face-recognition/get-results", response_model=RecognitionOut, responses=UPLOAD_ERRORS
)
def post_get_results(
    request: Request,
    runtime: RuntimeDep,
    _: RecognizeAccess,
    image: ImageField = None,
    include_predictions: PredictionsField = None,
) -> RecognitionOut:
    """Every face: label ('unknown' for strangers), confidence in [0, 1] and box."""
    file = required_file(IMAGE_TO_RECOGNISE, image)
    with_predictions = optional_boolean(INCLUDE_PREDICTIONS, include_predictions, request)
    upload = read_upload(file, runtime.settings.max_upload_bytes)
    return recognition.get_results(runtime, upload.data, with_predictions)


@router.post("/face-recognition/store-results", responses=UPLOAD_ERRORS)
def post_store_results(
    request: Request,
    runtime: RuntimeDep,
    _: IngestAccess,
    image: ImageField = None,
    camera_id: CameraField = None,
    location_id: LocationField = None,
) -> None:
    """Recognise the faces and store each as a detection by the camera at the location."""
    file = required_file(IMAGE_TO_RECOGNISE, image)
    camera = required_text(CAMERA_ID, camera_id, request)
    location = required_text(LOCATION_ID, location_id, request)
    upload = read_upload(file, runtime.settings.max_upload_bytes)
    recognition.store_results(runtime, upload.data, camera, location)


@router.post("/face-recognition/send-results", response_model=SentOut, responses=UPLOAD_ERRORS)
def post_send_results(
    request: Request,
    runtime: RuntimeDep,
    _: IngestAccess,
    forwarder: Annotated[Forwarder | None, Depends(get_forwarder)],
    image: ImageField = None,
    camera_id: CameraField = None,
    location_id: LocationField = None,
) -> SentOut:
    """Recognise the faces and forward each label to the configured external URL."""
    file = required_file(IMAGE_TO_RECOGNISE, image)
    camera = required_text(CAMERA_ID, camera_id, request)
    location = required_text(LOCATION_ID, location_id, request)
    upload = read_upload(file, runtime.settings.max_upload_bytes)
    return recognition.send_results(runtime, upload.data, camera, location, forwarder)


@router.post("/face-recognition/dry-run")
def post_dry_run(
    request: Request,
    _: RecognizeAccess,
    image: ImageField = None,
    include_predictions: PredictionsField = None,
) -> None:
    """Receive an image and do nothing with it (measures the upload)."""
    required_file(IMAGE_TO_RECOGNISE, image)
    optional_boolean(INCLUDE_PREDICTIONS, include_predictions, request)
