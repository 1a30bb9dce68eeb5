"""Face candidates: a fast detector with a low threshold, run on a downscaled frame.

False candidates are cheap (the server re-detects every crop, and a track that never yields
a usable face sends nothing), missed faces are not: the defaults lean towards recall.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

import cv2
import numpy as np

from facewatch.edge.config import DetectorConfig
from facewatch.edge.types import FaceCandidate
from facewatch.types import Box, RGBImage
from facewatch.vision.detectors import FaceDetector
from facewatch.vision.detectors.factory import DetectorOptions, build_detector

logger = logging.getLogger(__name__)


class CandidateDetector:
    """Runs a ``FaceDetector`` on the frame scaled down to ``width`` and maps boxes back.

    ``native``: the detector looks at the scaled frame at its own size (the Ultra-Light
    network, whose cost then follows the pixels searched) rather than at its model size.
    """

    def __init__(self, detector: FaceDetector, width: int, *, native: bool = False) -> None:
        if width <= 0:
            raise ValueError(f"width must be positive, not {width}")
        self.detector = detector
        self.width = width
        self.native = native

    def detect(self, image: RGBImage, regions: Sequence[Box] | None = None) -> list[FaceCandidate]:
        """Candidate faces of a full-resolution frame, boxes in full-frame pixels.

        ``regions`` (frame pixels): search only these parts of the frame, each at the scale
        the whole frame would be searched at (None: the whole frame).
        """
        height, width = image.shape[:2]
        scale = min(self.width / width, 1.0)
        if regions is None:
            return self._search(image, scale, Box(0, 0, width, height))
        found: list[FaceCandidate] = []
        for region in regions:
            found.extend(self._search(image, scale, region.clip(width, height)))
        return found

    def _search(self, image: RGBImage, scale: float, region: Box) -> list[FaceCandidate]:
        if region.area <= 0:
            return []
        height, width = image.shape[:2]
        whole = region == Box(0, 0, width, height)
        part = image if whole else image[region.top : region.bottom, region.left : region.right]
        small = np.ascontiguousarray(part) if scale == 1.0 else _resize(part, scale)
        found = self.detector.detect(small, native_scale=self.native)
        candidates = [
            FaceCandidate(
                face.box.scaled(1.0 / scale).moved(region.left, region.top).clip(width, height),
                face.score,
            )
            for face in found
        ]
        return [candidate for candidate in candidates if candidate.box.area > 0]

    def load(self) -> None:
        """Load the model now rather than on the first frame."""
        self.detector.load()


def create_candidate_detector(config: DetectorConfig) -> CandidateDetector:
    """The candidate detector a camera's config describes; its model loads on first use."""
    return CandidateDetector(_face_detector(config), config.width, native=config.kind == "onnx")


def _face_detector(config: DetectorConfig) -> FaceDetector:
    # No onnx path: the packaged RFB-640; one thread: the cameras run side by side.
    return build_detector(
        DetectorOptions(
            kind=config.kind,
            hog_upsample=config.upsample,
            hog_adjust_threshold=config.threshold,
            haar_min_neighbors=config.min_neighbors,
            haar_min_size=config.min_size,
            onnx_path=config.onnx_path,
            onnx_score=config.onnx_score,
            threads=1,
        )
    )


def _resize(image: RGBImage, scale: float) -> RGBImage:
    small = cv2.resize(image, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
    return np.ascontiguousarray(small, dtype=np.uint8)
