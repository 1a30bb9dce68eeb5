"""dlib's HOG + linear SVM frontal face detector: no extra model file, CPU only."""

from __future__ import annotations

import logging

import dlib

from facewatch.types import DetectedFace, RGBImage
from facewatch.vision._dlib import from_rectangle
from facewatch.vision.detectors.base import FaceDetector
from facewatch.vision.detectors.limits import upsamples_within

logger = logging.getLogger(__name__)


class HogDetector(FaceDetector):
    """dlib ``get_frontal_face_detector``; finds frontal faces of about 80 px and up per pass.

    Each upsampling doubles the image side, so it finds faces half as big at about four
    times the cost. ``upsample=None`` upsamples once for images of at most
    ``auto_upsample_pixels`` pixels and not at all above.
    """

    name = "hog"

    def __init__(
        self,
        *,
        upsample: int | None = None,
        auto_upsample_pixels: int = 1_000_000,
        adjust_threshold: float = 0.0,
    ) -> None:
        super().__init__()
        if upsample is not None and upsample < 0:
            raise ValueError(f"upsample must be >= 0, not {upsample}")
        self.upsample = upsample
        self.auto_upsample_pixels = auto_upsample_pixels
        self.adjust_threshold = adjust_threshold
        self._detector: dlib.fhog_object_detector | None = None

    def upsample_for(self, image: RGBImage) -> int:
        """How many times ``image`` is upsampled before detection (``_run`` keeps it within
        ``detectors.limits``)."""
        if self.upsample is not None:
            return self.upsample
        height, width = image.shape[:2]
        return 1 if height * width <= self.auto_upsample_pixels else 0

    def _load(self) -> None:
        self._detector = dlib.get_frontal_face_detector()

    def _detect(self, image: RGBImage) -> list[DetectedFace]:
        return self._run(image, self.upsample_for(image))

    def _detect_native(self, image: RGBImage) -> list[DetectedFace]:
        return self._run(image, 0)

    def _run(self, image: RGBImage, times: int) -> list[DetectedFace]:
        assert self._detector is not None
        times = upsamples_within(image.shape[0], image.shape[1], times)  # within the limits
        rects, scores, _ = self._detector.run(image, times, self.adjust_threshold)
        logger.debug("hog: %d faces (upsample %d)", len(rects), times)
        return [
            DetectedFace(from_rectangle(rect), float(score))
            for rect, score in zip(rects, scores, strict=True)
        ]
