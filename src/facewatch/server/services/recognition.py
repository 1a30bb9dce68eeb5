"""Recognise every face in an image against the gallery (open-set); stores nothing.

``recognize`` and ``match_faces`` serve the synchronous callers (ingest, the CLI, the
dashboard's search); ``Recognizer`` is ``POST /api/v1/recognize``'s path on the event
loop, with a bound on the images it holds at once.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial

import numpy as np
from starlette.concurrency import run_in_threadpool

from facewatch.errors import Overloaded
from facewatch.gallery.gallery import Gallery
from facewatch.gallery.matching import Thresholds, assign
from facewatch.server.infra.runtime import Runtime
from facewatch.server.infra.workers import Analyzer, Client, analyze_while_connected
from facewatch.types import Box, Face, Match, RGBImage
from facewatch.vision.image import decode_image

INLINE_DECODE_BYTES = 256 * 1024
"""Uploads up to this size (face crops, small frames) are decoded on the event loop."""


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


@dataclass(frozen=True, slots=True)
class Recognition:
    """Every face of one image with its verdict, the image's size and the model that judged."""

    faces: list[RecognizedFace]
    width: int
    height: int
    model: str


class Recognizer:
    """Recognise uploads on the event loop: decode, analyse (awaited, no thread waits), match.

    At most ``settings.recognize_queue_size`` images are held at once; one more is refused
    with ``Overloaded`` (503, Retry-After) instead of queued. Synchronous routes are bounded
    by the thread pool; this path holds no thread while it waits, so it needs its own bound.
    Used from the event loop only (the count needs no lock).
    """

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        self.capacity = runtime.settings.recognize_queue_size
        self._held = 0

    @property
    def held(self) -> int:
        """Images being recognised now."""
        return self._held

    async def recognize(self, data: bytes, face_box: Box | None, client: Client) -> Recognition:
        """Every face in the image ``data`` (``face_box``: where the client found the face);
        given up if the client goes away (``ClientDisconnect``)."""
        if self._held >= self.capacity:
            raise Overloaded(
                f"the server is recognising {self._held} images already; retry in a moment"
            )
        self._held += 1
        try:
            return await self._recognize(data, face_box, client)
        finally:
            self._held -= 1

    async def _recognize(self, data: bytes, face_box: Box | None, client: Client) -> Recognition:
        settings = self.runtime.settings
        decode = partial(decode_image, data, max_pixels=settings.max_image_pixels)
        # A face crop is decoded on the event loop, a large photo in the thread pool.
        pixels = decode() if len(data) <= INLINE_DECODE_BYTES else await run_in_threadpool(decode)
        serving = self.runtime.serving()  # one model's analyzer and gallery, even across a switch
        faces = await analyze_while_connected(client, serving.analyzer, pixels, face_box)
        found = match_faces(faces, serving.gallery, serving.thresholds, settings.top_k)
        height, width = pixels.shape[:2]
        return Recognition(found, int(width), int(height), serving.model_id)
