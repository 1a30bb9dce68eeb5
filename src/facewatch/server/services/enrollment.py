"""Enrolment: photos of a person become templates, one usable face per photo or a reason.

The gate refuses only what costs recognition (``facewatch.vision.quality``, calibrated on
LFW): a photo whose largest face has twice the area of every other enrols that face, and a
face blurred but still recognisable is enrolled; the answer warns of both.

With ``enrolment_jitter`` on a template is the mean embedding of ten slightly moved copies
of the face (``vision/augment.py``), which names more people right with one enrolment photo
each, at a lower match threshold (docs/accuracy.md); recognition itself is unchanged.

A photo already enrolled for someone else (the same file, or a face within
``DUPLICATE_FACE_DISTANCE`` of another person's template) is refused, naming them, unless
the caller says ``allow_duplicate``: otherwise recognition would meet two people at
distance 0 and could only guess between them.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass

import numpy as np

from facewatch.config import Settings
from facewatch.errors import FaceRejected, InvalidInput
from facewatch.gallery.gallery import TemplateEntry
from facewatch.server.infra.runtime import Runtime
from facewatch.server.schemas import EnrolledFile, EnrolmentWarning, FacesAdded, RejectedFile
from facewatch.store.models import Template
from facewatch.types import Embedding, Face, RGBImage
from facewatch.vision.augment import enrolment_template
from facewatch.vision.embedders import Embedder, create_embedder
from facewatch.vision.image import decode_image, image_format
from facewatch.vision.pipeline import FaceAnalyzer
from facewatch.vision.quality import (
    MIN_ENROLMENT_SHARPNESS,
    WARN_ENROLMENT_SHARPNESS,
    enrolment_face,
    enrolment_problem,
)

logger = logging.getLogger(__name__)

_MESSAGES = {
    "no_face": "no face found in the photo",
    "several_faces": (
        "the photo holds several faces of similar size; enrol from a photo in which the "
        "person's face is by far the largest"
    ),
    "too_small": "the face is too small (under {min_size} px)",
    "too_blurry": "the face is too blurry",
    "not_frontal": "the face is turned too far from the camera",
    "duplicate": "this photo is already enrolled for this person",
    "enrolled_for_another_person": (
        "this face is already enrolled for person {other_id} ({other_name}); "
        "send allow_duplicate=true to enrol it for this person too"
    ),
}
ENROLLED_ELSEWHERE = "enrolled_for_another_person"
DUPLICATE_FACE_DISTANCE = 0.25
"""A face this near another person's template is the same face: with EdgeFace, a copy of
the same photo re-encoded or halved lands at 0.15-0.19 and another photo of the same person
at 0.73 (knn_examples' obama.jpg); dlib's copies land within a few hundredths."""


_WARNINGS = {
    "other_faces_ignored": (
        "the photo holds {others} other, much smaller face(s): the largest face was enrolled"
    ),
    "blurry": (
        "the face is blurry: it was enrolled, but a sharper photo would be recognised better"
    ),
}


@dataclass(frozen=True, slots=True)
class Upload:
    """One uploaded or read file: a name for messages and its bytes."""

    filename: str
    data: bytes


@dataclass(slots=True)
class _Accepted:
    upload: Upload
    face: Face
    template: Embedding
    sha256: str
    content_type: str
    width: int
    height: int
    warnings: list[EnrolmentWarning]


def add_faces(
    runtime: Runtime,
    person_id: int,
    uploads: list[Upload],
    unreadable: list[RejectedFile] | None = None,
    *,
    allow_duplicate: bool = False,
) -> FacesAdded:
    """Add every usable photo as a template; say why each other photo was refused.

    All accepted photos are stored in one transaction; a failure stores none of them.
    A face enrolled for another person is refused unless ``allow_duplicate``.
    """
    with runtime.uow() as uow:
        uow.people.get(person_id)  # NotFound before any heavy work
        known = uow.templates.image_hashes_for_person(person_id)
    accepted: list[_Accepted] = []
    rejected: list[RejectedFile] = list(unreadable or [])
    for upload in uploads:
        try:
            candidate = _examine(runtime, upload)
        except InvalidInput as exc:
            rejected.append(RejectedFile.of(upload.filename, exc))
            continue
        if candidate.sha256 in known:
            rejected.append(_reject(upload, "duplicate", runtime))
            continue
        other = None if allow_duplicate else _enrolled_elsewhere(runtime, person_id, candidate)
        if other is not None:
            rejected.append(_reject(upload, ENROLLED_ELSEWHERE, runtime, *other))
            continue
        known.add(candidate.sha256)
        accepted.append(candidate)
    templates = _store(runtime, person_id, accepted)
    return FacesAdded(accepted=templates, rejected=rejected)


def _enrolled_elsewhere(
    runtime: Runtime, person_id: int, candidate: _Accepted
) -> tuple[int, str] | None:
    """Another person this photo or face is enrolled for (id, name), if any."""
    with runtime.uow() as uow:
        for other_id, name in uow.templates.people_with_photo(candidate.sha256):
            if other_id != person_id:
                return other_id, name
    query = np.asarray(candidate.template, dtype=np.float32)[np.newaxis, :]
    (nearest,) = runtime.gallery.nearest_people(query, 2)
    for found in nearest:
        if found.person_id != person_id and found.distance <= DUPLICATE_FACE_DISTANCE:
            return found.person_id, found.name
    return None


def _examine(runtime: Runtime, upload: Upload) -> _Accepted:
    settings = runtime.settings
    image = decode_image(upload.data, max_pixels=settings.max_image_pixels)
    faces = runtime.analyzer.analyze(image)
    if not faces:
        raise FaceRejected(_MESSAGES["no_face"], code="no_face")
    chosen = enrolment_face([f.box for f in faces], min_size=settings.min_face_size)
    if chosen is None:
        raise FaceRejected(_MESSAGES["several_faces"], code="several_faces")
    face = faces[chosen]
    problem = enrolment_problem(
        face.quality,
        min_size=settings.min_face_size,
        min_sharpness=_min_sharpness(settings),
        max_yaw=settings.max_yaw,
    )
    if problem is not None:
        raise FaceRejected(_message(problem, runtime), code=problem)
    return _Accepted(
        upload=upload,
        face=face,
        template=_template(runtime, image, face),
        sha256=runtime.blobs.key_for(upload.data),  # keyed (HMAC) when encryption is on
        content_type=image_format(upload.data),
        width=int(image.shape[1]),
        height=int(image.shape[0]),
        warnings=_warnings(face, len(faces) - 1),
    )


def _min_sharpness(settings: Settings) -> float:
    """The blur gate: ``min_sharpness`` when set, else the figure calibrated on LFW."""
    if "min_sharpness" in settings.model_fields_set:
        return settings.min_sharpness
    return MIN_ENROLMENT_SHARPNESS


def _warnings(face: Face, others: int) -> list[EnrolmentWarning]:
    """What the answer says of an accepted photo that is not ideal."""
    found = []
    if others:
        message = _WARNINGS["other_faces_ignored"].format(others=others)
        found.append(EnrolmentWarning(code="other_faces_ignored", message=message))
    if face.quality.sharpness < WARN_ENROLMENT_SHARPNESS:
        found.append(EnrolmentWarning(code="blurry", message=_WARNINGS["blurry"]))
    return found


def _template(runtime: Runtime, image: RGBImage, face: Face) -> Embedding:
    """The template of an accepted face: its embedding, or the jittered copies' mean."""
    if face.embedding is None:
        raise RuntimeError("enrolment faces are analysed with embeddings")
    if not runtime.settings.enrolment_jitter:
        return face.embedding
    return enrolment_template(_embedder(runtime), image, face)


_own_embedders: dict[tuple[str, str], Embedder] = {}
_own_embedders_lock = threading.Lock()


def _embedder(runtime: Runtime) -> Embedder:
    """The embedder for the jittered copies: the analyzer's when it runs in this process.

    When analysis runs in worker processes, which only analyse whole images, enrolment
    keeps one embedder of the same model here (loaded on the first enrolment; enrolment is
    rare, so one thread is enough).
    """
    analyzer = runtime.analyzer
    if isinstance(analyzer, FaceAnalyzer):
        return analyzer.embedder
    settings = runtime.settings
    key = (settings.embedder, str(settings.model_cache_dir))
    with _own_embedders_lock:
        if key not in _own_embedders:
            _own_embedders[key] = create_embedder(
                settings.model_copy(update={"embedder_threads": 1})
            )
        return _own_embedders[key]


def _store(runtime: Runtime, person_id: int, accepted: list[_Accepted]) -> list[EnrolledFile]:
    if not accepted:
        return []
    model_id = runtime.model_id
    with runtime.uow() as uow:
        person = uow.people.get(person_id)
        rows: list[Template] = []
        for item in accepted:
            uow.put_blob(item.upload.data)
            image = uow.images.get_or_add(
                item.sha256, item.content_type, item.width, item.height, len(item.upload.data)
            )
            rows.append(
                uow.templates.add(
                    person_id=person_id,
                    embedding=item.template,
                    model=model_id,
                    quality=item.face.quality.score,
                    box=item.face.box.as_list(),
                    image_id=image.id,
                )
            )
        uow.commit()
        out = [_template_out(row, item) for row, item in zip(rows, accepted, strict=True)]
        name = person.name
    entries = [
        TemplateEntry(t.id, person_id, name, item.template)
        for t, item in zip(out, accepted, strict=True)
    ]
    runtime.loaded_gallery_do(lambda g: g.add(entries))
    logger.info("person %s: %s templates added", person_id, len(out))
    return out


def _template_out(row: Template, item: _Accepted) -> EnrolledFile:
    return EnrolledFile(
        id=row.id,
        person_id=row.person_id,
        model=row.model,
        quality=round(row.quality, 4),
        box=row.box,
        image_sha256=item.sha256,
        created_at=row.created_at,
        file=item.upload.filename,
        warnings=item.warnings,
    )


def _reject(
    upload: Upload,
    reason: str,
    runtime: Runtime,
    other_id: int | None = None,
    other_name: str = "",
) -> RejectedFile:
    message = _message(reason, runtime, other_id=other_id, other_name=other_name)
    return RejectedFile.of(upload.filename, FaceRejected(message, code=reason))


def _message(reason: str, runtime: Runtime, **details: object) -> str:
    return _MESSAGES[reason].format(min_size=runtime.settings.min_face_size, **details)
