"""Motion gating: a still scene costs no detection."""

from __future__ import annotations

import cv2
import numpy as np
import numpy.typing as npt

from facewatch.types import RGBImage

_THUMB_WIDTH = 160
_PIXEL_CHANGE = 25
"""Grey-level difference (0..255) above which a thumbnail pixel counts as changed."""


class MotionGate:
    """Says whether a frame differs enough from the last frame that went through.

    Frames are compared as blurred 160 px wide grey thumbnails, which ignores sensor noise
    and compression flicker. A frame is let through anyway ``keepalive`` seconds after the
    last one, so a person standing still is still seen now and then.
    """

    def __init__(self, threshold: float, keepalive: float) -> None:
        self.threshold = threshold
        self.keepalive = keepalive
        self._last: npt.NDArray[np.uint8] | None = None
        self._last_position = 0.0

    def moved(self, image: RGBImage, position: float) -> bool:
        """Whether the frame at ``position`` (s) should be searched for faces."""
        thumb = _thumbnail(image)
        due = position - self._last_position >= self.keepalive
        if self._last is None or due or self._changed(thumb) >= self.threshold:
            self._last, self._last_position = thumb, position
            return True
        return False

    def _changed(self, thumb: npt.NDArray[np.uint8]) -> float:
        assert self._last is not None
        if thumb.shape != self._last.shape:
            return 1.0
        diff = cv2.absdiff(thumb, self._last)
        return float(np.count_nonzero(diff > _PIXEL_CHANGE)) / diff.size


def _thumbnail(image: RGBImage) -> npt.NDArray[np.uint8]:
    height, width = image.shape[:2]
    scale = _THUMB_WIDTH / width
    small = cv2.resize(image, (_THUMB_WIDTH, max(round(height * scale), 1)))
    grey = cv2.cvtColor(small, cv2.COLOR_RGB2GRAY)
    return np.asarray(cv2.GaussianBlur(grey, (5, 5), 0), dtype=np.uint8)
