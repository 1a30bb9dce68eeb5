"""The whole vision pipeline for one image: detect, landmarks, align, quality, embed."""

from __future__ import annotations

import logging

import cv2
import numpy as np

from facewatch.config import Settings
from facewatch.types import Box, DetectedFace, Face, RGBImage
from facewatch.vision.align import align_face
from facewatch.vision.detectors import FaceDetector, create_detector
from facewatch.vision.embedders import Embedder, create_embedder
from facewatch.vision.image import ensure_rgb
from facewatch.vision.landmarks import Landmarker
from facewatch.vision.quality import assess_quality

logger = logging.getLogger(__name__)

SMALL_IMAGE_SIDE = 300
"""Images whose shorter side is at most this get a second detection pass when none is found."""
_RETRY_PADDING = 0.25
"""Border added around a small image on retry, as a fraction of its shorter side."""
_RETRY_UPSCALE_SIDE = 100
"""Small images up to this shorter side are also doubled in size on retry."""


class FaceAnalyzer:
    """Finds every face in an image and describes it (box, landmarks, chip, quality, embedding).

    Safe to share between threads: each model (detector, landmarker, embedder) holds its own
    lock, because dlib and OpenCV objects are not documented as thread-safe. One thread at a
    time runs a given model, while different threads may run different models side by side
    (for instance one detecting while another embeds).

    Tight face crops (an edge agent sends crops with ~40% margin, or 150 x 150 aligned
    chips) can leave too little context around the face for a detector; when nothing is
    found in an image whose shorter side is at most ``small_image_side``, detection is
    retried once on a copy with a replicated 25% border, doubled in size when tiny.
    """

    def __init__(
        self,
        detector: FaceDetector,
        landmarker: Landmarker,
        embedder: Embedder,
        *,
        small_image_side: int = SMALL_IMAGE_SIDE,
    ) -> None:
        self._detector = detector
        self._landmarker = landmarker
        self._embedder = embedder
        self.small_image_side = small_image_side

    @property
    def detector(self) -> FaceDetector:
        return self._detector

    @property
    def landmarker(self) -> Landmarker:
        return self._landmarker

    @property
    def embedder(self) -> Embedder:
        return self._embedder

    @property
    def embedding_dim(self) -> int:
        """Length of the embeddings this analyzer makes."""
        return self._embedder.dim

    @property
    def model_id(self) -> str:
        """The embedding model id stored next to every embedding this analyzer makes."""
        return self._embedder.model_id

    def warm_up(self) -> None:
        """Load every model now (at start-up) instead of on the first request."""
        self._detector.load()
        self._landmarker.load()
        self._embedder.load()

    def analyze(self, image: RGBImage, *, embed: bool = True) -> list[Face]:
        """Every face in ``image``, left to right; ``embed=False`` skips the embeddings."""
        image = ensure_rgb(image)
        detections = self.detect(image)
        faces = sorted(
            (self._describe(image, detection) for detection in detections),
            key=lambda face: (face.box.left, face.box.top),
        )
        if embed and faces:
            vectors = self._embedder.embed([face.chip for face in faces])
            for face, vector in zip(faces, vectors, strict=True):
                face.embedding = vector
        logger.debug("analyzed %dx%d image: %d faces", image.shape[1], image.shape[0], len(faces))
        return faces

    def detect(self, image: RGBImage) -> list[DetectedFace]:
        """The detector's faces, with one padded retry for small images that gave none."""
        found = self._detector.detect(image)
        if found or min(image.shape[:2]) > self.small_image_side:
            return found
        return self._detect_padded(image)

    def _detect_padded(self, image: RGBImage) -> list[DetectedFace]:
        """Detect again with a replicated border, and at 2x for tiny images."""
        # Tight crops lack the context around the face that detectors were trained with.
        height, width = image.shape[:2]
        pad = round(min(height, width) * _RETRY_PADDING)
        scale = 2.0 if min(height, width) <= _RETRY_UPSCALE_SIDE else 1.0
        larger = _pad_and_scale(image, pad, scale)
        found = [
            DetectedFace(_unmap_box(face.box, pad, scale).clip(width, height), face.score)
            for face in self._detector.detect(larger)
        ]
        logger.debug("retry on a %dx%d image: %d faces", width, height, len(found))
        return [face for face in found if face.box.area > 0]

    def _describe(self, image: RGBImage, detection: DetectedFace) -> Face:
        landmarks = self._landmarker.locate(image, detection.box)
        chip = align_face(image, detection.box, landmarks)
        return Face(
            box=detection.box,
            detector_score=detection.score,
            landmarks=landmarks,
            chip=chip,
            quality=assess_quality(detection.box, landmarks, chip),
        )


def create_analyzer(settings: Settings) -> FaceAnalyzer:
    """The analyzer ``settings`` describe; models load on first use (or ``warm_up``)."""
    return FaceAnalyzer(create_detector(settings), Landmarker(), create_embedder(settings))


def _pad_and_scale(image: RGBImage, pad: int, scale: float) -> RGBImage:
    padded = cv2.copyMakeBorder(image, pad, pad, pad, pad, cv2.BORDER_REPLICATE)
    if scale != 1.0:
        padded = cv2.resize(padded, None, fx=scale, fy=scale, interpolation=cv2.INTER_LINEAR)
    return np.ascontiguousarray(padded, dtype=np.uint8)


def _unmap_box(box: Box, pad: int, scale: float) -> Box:
    """Map a box found in the padded, scaled image back to the original image."""
    return Box(
        round(box.left / scale) - pad,
        round(box.top / scale) - pad,
        round(box.right / scale) - pad,
        round(box.bottom / scale) - pad,
    )
