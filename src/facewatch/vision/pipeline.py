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
CROP_SIDE = 160
"""Images whose shorter side is at most this are taken for face crops (see ``FaceAnalyzer``)."""
_CROP_PASSES = ((0.25, 128), (0.15, 160))
"""Per pass over a face crop: the replicated border (fraction of the shorter side) and the
shorter side (px, before the border) the crop is scaled to; the detector runs at that scale.
Measured on 282 crops (benchmarks/results.md, "Face crops: one scaled pass"): more faces
found than one plain pass plus a 4x padded retry, at about 60% of its CPU."""


class FaceAnalyzer:
    """Finds every face in an image and describes it (box, landmarks, chip, quality, embedding).

    Safe to share between threads: each model (detector, landmarker, embedder) holds its own
    lock, because dlib and OpenCV objects are not documented as thread-safe. One thread at a
    time runs a given model, while different threads may run different models side by side
    (for instance one detecting while another embeds).

    Face crops (an edge agent sends crops with a ~40% margin; 150 x 150 aligned chips) are
    small images that one face nearly fills, with little context around it. An image whose
    shorter side is at most ``crop_side`` is taken for one: it gets a replicated border and
    is scaled so that the face is about the detector's native size, then searched at that
    scale only (a second pass at a slightly larger scale, then the detector's own pass on the
    image as it is, if nothing is found). That is both cheaper and surer than searching the
    upsampled crop at every scale. Larger images whose
    shorter side is at most ``small_image_side`` get one padded retry when nothing is found.
    """

    def __init__(
        self,
        detector: FaceDetector,
        landmarker: Landmarker,
        embedder: Embedder,
        *,
        small_image_side: int = SMALL_IMAGE_SIDE,
        crop_side: int = CROP_SIDE,
    ) -> None:
        self._detector = detector
        self._landmarker = landmarker
        self._embedder = embedder
        self.small_image_side = small_image_side
        self.crop_side = crop_side

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
        """The detector's faces; face crops and small images as the class says."""
        shorter = min(image.shape[:2])
        if shorter <= self.crop_side:
            return self._detect_crop(image)
        found = self._detector.detect(image)
        if found or shorter > self.small_image_side:
            return found
        scale = 2.0 if shorter <= _RETRY_UPSCALE_SIDE else 1.0
        return self._detect_transformed(image, _RETRY_PADDING, scale, native_scale=False)

    def _detect_crop(self, image: RGBImage) -> list[DetectedFace]:
        """A face crop, bordered and scaled to the detector's native face size per pass.

        When neither pass finds a face, the detector has its own go at the image as it is
        (a small photo with a small face in it is not a crop).
        """
        shorter = min(image.shape[:2])
        for padding, side in _CROP_PASSES:
            found = self._detect_transformed(image, padding, side / shorter, native_scale=True)
            if found:
                return found
        return self._detector.detect(image)

    def _detect_transformed(
        self, image: RGBImage, padding: float, scale: float, *, native_scale: bool
    ) -> list[DetectedFace]:
        """Detect on a copy with a replicated border and scaled; boxes in ``image``'s frame."""
        # Tight crops lack the context around the face that detectors were trained with.
        height, width = image.shape[:2]
        pad = round(min(height, width) * padding)
        larger = _pad_and_scale(image, pad, scale)
        found = [
            DetectedFace(_unmap_box(face.box, pad, scale).clip(width, height), face.score)
            for face in self._detector.detect(larger, native_scale=native_scale)
        ]
        logger.debug(
            "%dx%d image, border %d, scale %.2f: %d faces", width, height, pad, scale, len(found)
        )
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
        shrink = scale < 1.0
        interpolation = cv2.INTER_AREA if shrink else cv2.INTER_LINEAR
        padded = cv2.resize(padded, None, fx=scale, fy=scale, interpolation=interpolation)
    return np.ascontiguousarray(padded, dtype=np.uint8)


def _unmap_box(box: Box, pad: int, scale: float) -> Box:
    """Map a box found in the padded, scaled image back to the original image."""
    return Box(
        round(box.left / scale) - pad,
        round(box.top / scale) - pad,
        round(box.right / scale) - pad,
        round(box.bottom / scale) - pad,
    )
