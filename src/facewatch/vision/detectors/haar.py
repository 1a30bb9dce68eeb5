"""OpenCV's Viola-Jones Haar cascade: the fastest and least accurate detector, for weak CPUs."""

from __future__ import annotations

import logging
from pathlib import Path

import cv2
import numpy as np

from facewatch.errors import ModelUnavailable
from facewatch.types import Box, DetectedFace, RGBImage
from facewatch.vision.detectors.base import FaceDetector
from facewatch.vision.models import haar_cascade_path, require_file

logger = logging.getLogger(__name__)


class HaarDetector(FaceDetector):
    """``haarcascade_frontalface_default.xml``; the score is the number of merged neighbours.

    ``min_neighbors=10`` rather than OpenCV's 3 to 5: below that, textured clothes and
    backgrounds in the test photos come back as faces.
    """

    name = "haar"

    def __init__(
        self,
        *,
        scale_factor: float = 1.1,
        min_neighbors: int = 10,
        min_size: int = 40,
        cascade_path: Path | None = None,
    ) -> None:
        super().__init__()
        if scale_factor <= 1.0:
            raise ValueError(f"scale_factor must be above 1, not {scale_factor}")
        self.scale_factor = scale_factor
        self.min_neighbors = min_neighbors
        self.min_size = min_size
        self._cascade_path = cascade_path
        self._cascade: cv2.CascadeClassifier | None = None

    def _load(self) -> None:
        path = self._cascade_path or haar_cascade_path()
        try:
            cascade = cv2.CascadeClassifier(str(require_file(path, "Haar cascade")))
        except (cv2.error, SystemError) as exc:  # OpenCV wraps its parse errors in SystemError
            raise ModelUnavailable(f"OpenCV cannot read the Haar cascade {path}: {exc}") from exc
        if cascade.empty():
            raise ModelUnavailable(f"OpenCV cannot read the Haar cascade {path}")
        self._cascade = cascade

    def _detect(self, image: RGBImage) -> list[DetectedFace]:
        assert self._cascade is not None
        grey = cv2.equalizeHist(cv2.cvtColor(image, cv2.COLOR_RGB2GRAY))
        rects, neighbours = self._cascade.detectMultiScale2(
            grey,
            scaleFactor=self.scale_factor,
            minNeighbors=self.min_neighbors,
            minSize=(self.min_size, self.min_size),
        )
        logger.debug("haar: %d faces", len(rects))
        boxes = np.reshape(rects, (-1, 4))
        return [
            DetectedFace(Box(int(x), int(y), int(x + w), int(y + h)), float(n))
            for (x, y, w, h), n in zip(boxes, np.ravel(neighbours), strict=True)
        ]
