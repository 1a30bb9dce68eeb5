"""Face candidates: a fast detector with a low threshold, run on a downscaled frame.

False candidates are cheap (the server re-detects every crop, and a track that never yields
a usable face sends nothing), missed faces are not: the defaults lean towards recall.
"""

from __future__ import annotations

import logging

import cv2
import numpy as np

from facewatch.edge.config import DetectorConfig
from facewatch.edge.types import FaceCandidate
from facewatch.errors import ConfigurationError
from facewatch.types import Box, RGBImage
from facewatch.vision.detectors import (
    FaceDetector,
    HaarDetector,
    HogDetector,
    UltraLightOnnxDetector,
)

logger = logging.getLogger(__name__)


class CandidateDetector:
    """Runs a ``FaceDetector`` on the frame scaled down to ``width`` and maps boxes back."""

    def __init__(self, detector: FaceDetector, width: int) -> None:
        if width <= 0:
            raise ValueError(f"width must be positive, not {width}")
        self.detector = detector
        self.width = width

    def detect(self, image: RGBImage) -> list[FaceCandidate]:
        """Candidate faces of a full-resolution frame, boxes in full-frame pixels."""
        height, width = image.shape[:2]
        scale = min(self.width / width, 1.0)
        small = image if scale == 1.0 else _resize(image, scale)
        found = self.detector.detect(small)
        candidates = [
            FaceCandidate(_scale_box(face.box, 1.0 / scale).clip(width, height), face.score)
            for face in found
        ]
        return [candidate for candidate in candidates if candidate.box.area > 0]

    def load(self) -> None:
        """Load the model now rather than on the first frame."""
        self.detector.load()


def create_candidate_detector(config: DetectorConfig) -> CandidateDetector:
    """The candidate detector a camera's config describes; its model loads on first use."""
    return CandidateDetector(_face_detector(config), config.width)


def _face_detector(config: DetectorConfig) -> FaceDetector:
    match config.kind:
        case "hog":
            return HogDetector(upsample=config.upsample, adjust_threshold=config.threshold)
        case "haar":
            return HaarDetector(min_neighbors=config.min_neighbors, min_size=config.min_size)
        case "onnx":  # no path: the packaged RFB-640
            return UltraLightOnnxDetector(config.onnx_path, score_threshold=config.onnx_score)
        case other:
            raise ConfigurationError(f"unknown detector kind {other!r}")


def _resize(image: RGBImage, scale: float) -> RGBImage:
    small = cv2.resize(image, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
    return np.ascontiguousarray(small, dtype=np.uint8)


def _scale_box(box: Box, factor: float) -> Box:
    return Box(
        round(box.left * factor),
        round(box.top * factor),
        round(box.right * factor),
        round(box.bottom * factor),
    )
