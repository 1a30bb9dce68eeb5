"""The face-recognition routes of the old API on Facewatch's open-set recognition.

Labels and confidence: a face Facewatch names (KNOWN) gets the person's ID and Facewatch's
confidence that it is them. Any other face gets the label "unknown": a stranger (UNKNOWN)
with Facewatch's confidence that it is nobody enrolled, and a near miss (UNCERTAIN, never
named) with one minus the confidence in its best candidate. So the confidence is always how
sure Facewatch is of the label, in [0, 1] (``facewatch.gallery.matching``): about 0.88 or
more at the thresholds, never an SVM's probability over the enrolled people.
"""

from __future__ import annotations

from datetime import UTC, datetime

from pydantic import TypeAdapter, ValidationError

from facewatch.gallery.matching import Thresholds
from facewatch.server.compat.errors import OldApiRefusal
from facewatch.server.compat.forward import Forwarder
from facewatch.server.compat.schemas import (
    BoundingBoxOut,
    PredictionOut,
    RecognitionOut,
    RecognizedFaceOut,
    SentFaceOut,
    SentOut,
)
from facewatch.server.compat.services.ids import UNKNOWN_LABEL, compat_id
from facewatch.server.infra.runtime import Runtime
from facewatch.server.schemas import Text
from facewatch.server.services.ingest import IngestRequest, ingest
from facewatch.server.services.recognition import RecognizedFace, recognize
from facewatch.store.repositories.cameras import check_camera_id
from facewatch.types import Match, MatchStatus
from facewatch.vision.image import decode_image

_LOCATION = TypeAdapter(Text)
_DIGITS = 4


def get_results(runtime: Runtime, image: bytes, include_predictions: bool) -> RecognitionOut:
    """Every face of the image with its label, box and (if asked) the nearest people."""
    thresholds = runtime.thresholds
    return RecognitionOut(
        faces=[
            face_out(found, thresholds, include_predictions) for found in _recognize(runtime, image)
        ]
    )


def store_results(runtime: Runtime, image: bytes, camera_id: str, location_id: str) -> None:
    """Recognise and store every face as a detection by the camera, at the location."""
    check_camera_id(camera_id)
    location = _location(location_id)
    ingest(runtime, IngestRequest(image=image, camera_id=camera_id, captured_at=datetime.now(UTC)))
    _set_camera_location(runtime, camera_id, location)


def send_results(
    runtime: Runtime,
    image: bytes,
    camera_id: str,
    location_id: str,
    forwarder: Forwarder | None,
) -> SentOut:
    """Recognise every face and forward its label to the external server (nothing stored)."""
    if forwarder is None:
        raise OldApiRefusal(
            "send-results has nowhere to send faces: set compat_forward_url "
            "(FACEWATCH_COMPAT_FORWARD_URL)"
        )
    labels = [top_prediction(found.match).label for found in _recognize(runtime, image)]
    answers = forwarder.send(labels, camera_id, location_id)
    return SentOut(
        faces=[
            SentFaceOut(top_prediction=label, url=forwarder.public_url, response=answer)
            for label, answer in zip(labels, answers, strict=True)
        ]
    )


def face_out(
    found: RecognizedFace, thresholds: Thresholds, include_predictions: bool
) -> RecognizedFaceOut:
    """One face in the old API's shape."""
    box = found.face.box
    return RecognizedFaceOut(
        top_prediction=top_prediction(found.match),
        bounding_box=BoundingBoxOut(left=box.left, top=box.top, right=box.right, bottom=box.bottom),
        all_predictions=all_predictions(found.match, thresholds) if include_predictions else None,
    )


def top_prediction(match: Match) -> PredictionOut:
    """The label of a face and how sure Facewatch is of it (see the module docstring)."""
    if match.status is MatchStatus.KNOWN and match.name is not None:
        return PredictionOut(
            label=compat_id(match.name), confidence=round(match.confidence, _DIGITS)
        )
    # An uncertain face is not named: "unknown", as sure as its best candidate is unlikely.
    sure = match.confidence if match.status is MatchStatus.UNKNOWN else 1.0 - match.confidence
    return PredictionOut(label=UNKNOWN_LABEL, confidence=round(sure, _DIGITS))


def all_predictions(match: Match, thresholds: Thresholds) -> list[PredictionOut]:
    """The nearest enrolled people, nearest first, each with how likely the face is them."""
    return [
        PredictionOut(
            label=compat_id(candidate.name),
            confidence=round(thresholds.similarity(candidate.distance), _DIGITS),
        )
        for candidate in match.candidates
    ]


def _recognize(runtime: Runtime, data: bytes) -> list[RecognizedFace]:
    settings = runtime.settings
    image = decode_image(data, max_pixels=settings.max_image_pixels)
    return recognize(image, *runtime.serving().parts, settings.top_k)


def _location(location_id: str) -> str:
    try:
        return _LOCATION.validate_python(location_id)
    except ValidationError as exc:
        raise OldApiRefusal(f"invalid location_id: {exc.errors()[0]['msg']}") from None


def _set_camera_location(runtime: Runtime, camera_id: str, location: str) -> None:
    """Facewatch keeps the location on the camera: the one it reported last."""
    with runtime.uow() as uow:
        camera = uow.cameras.get(camera_id)
        if camera.location != location:
            uow.cameras.update(camera, location=location)
            uow.commit()
