"""Recognise every face in an image against the gallery (open-set); stores nothing."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from facewatch.gallery.gallery import Gallery
from facewatch.gallery.matching import Thresholds, assign
from facewatch.server.services.workers import Analyzer
from facewatch.types import Box, Face, Match, RGBImage


@dataclass(frozen=True, slots=True)
class RecognizedFace:
    """A face and the open-set verdict on it."""

    face: Face
    match: Match


def recognize(
    image: RGBImage,
    analyzer: Analyzer,
    gallery: Gallery,
    thresholds: Thresholds,
    top_k: int,
    face_box: Box | None = None,
) -> list[RecognizedFace]:
    """Detect, embed and match every face; no person is given to two faces of the image.

    ``face_box``: where the client found the face (``FaceAnalyzer`` checks it, cheaply).
    """
    faces = analyzer.analyze(image, face_box=face_box)
    return match_faces(faces, gallery, thresholds, top_k)


def match_faces(
    faces: list[Face], gallery: Gallery, thresholds: Thresholds, top_k: int
) -> list[RecognizedFace]:
    """Match already embedded faces of one image against the gallery."""
    if not faces:
        return []
    embeddings = np.stack([_embedding(face) for face in faces])
    candidates = gallery.nearest_people(embeddings, top_k)
    matches = assign(candidates, thresholds)
    return [RecognizedFace(face, match) for face, match in zip(faces, matches, strict=True)]


def _embedding(face: Face) -> np.ndarray:
    if face.embedding is None:
        raise ValueError("face was analysed without an embedding")
    return face.embedding
