"""Motion gating: a still scene costs no detection, a moving one costs detection where it moves.

Each sampled frame is compared with the one before it as a blurred grey thumbnail (320 px
wide), which ignores sensor noise and compression flicker. The changed pixels are grouped
into regions, padded so a face whose head alone moved lies wholly inside, and merged where
they overlap; the detector then searches only those regions. The whole frame is searched
on the first frame, every ``keepalive`` seconds (so a person standing still is still seen,
and a track carried while nothing moved is checked), and when the regions would cover most
of the frame anyway (one pass over the frame costs less than many over its parts).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import cv2
import numpy as np
import numpy.typing as npt

from facewatch.edge.config import MotionConfig
from facewatch.types import Box, RGBImage

_THUMB_WIDTH = 320
_PIXEL_CHANGE = 25
"""Grey-level difference (0..255) above which a thumbnail pixel counts as changed."""
_MIN_BLOB = 3
"""Changed thumbnail pixels a region needs (fewer: noise, a leaf, a compression block)."""


@dataclass(frozen=True, slots=True)
class Motion:
    """What to search in a frame: all of it, some regions of it, or nothing."""

    full: bool
    """Search the whole frame (first frame, periodic pass, or motion nearly everywhere)."""
    regions: list[Box] = field(default_factory=list)
    """Where to search otherwise, in frame pixels (none: nothing moved)."""

    @property
    def searched(self) -> bool:
        """Whether any detection runs on this frame."""
        return self.full or bool(self.regions)


class MotionGate:
    """Says where a frame differs from the sampled frame before it (see the module's doc).

    ``threshold``: fraction of thumbnail pixels that must change for the frame to count as
    moving at all; ``keepalive``: seconds between whole-frame passes; ``margin``: padding of
    a region on each side, as a fraction of the frame's width; ``max_share``: above this
    fraction of the frame covered by regions, the whole frame is searched instead.
    """

    def __init__(
        self,
        threshold: float,
        keepalive: float,
        *,
        margin: float = 0.05,
        max_share: float = 0.5,
    ) -> None:
        self.threshold = threshold
        self.keepalive = keepalive
        self.margin = margin
        self.max_share = max_share
        self._previous: npt.NDArray[np.uint8] | None = None
        self._last_full: float | None = None

    def check(self, image: RGBImage, position: float) -> Motion:
        """Where the frame at ``position`` (s) should be searched for faces."""
        thumb = _thumbnail(image)
        previous, self._previous = self._previous, thumb
        if self._last_full is None or position - self._last_full >= self.keepalive:
            return self._full(position)
        if previous is None or previous.shape != thumb.shape:
            return self._full(position)
        changed = cv2.absdiff(thumb, previous) > _PIXEL_CHANGE
        if np.count_nonzero(changed) < max(self.threshold * changed.size, _MIN_BLOB):
            return Motion(full=False)
        height, width = image.shape[:2]
        regions = self._regions(changed, width / thumb.shape[1], width, height)
        covered = sum(region.area for region in regions)
        if covered >= self.max_share * width * height:
            return self._full(position)
        return Motion(full=False, regions=regions)

    def moved(self, image: RGBImage, position: float) -> bool:
        """Whether the frame at ``position`` (s) should be searched at all."""
        return self.check(image, position).searched

    def _full(self, position: float) -> Motion:
        self._last_full = position
        return Motion(full=True)

    def _regions(
        self, changed: npt.NDArray[np.bool_], scale: float, width: int, height: int
    ) -> list[Box]:
        """Boxes (frame pixels) around the changed blobs, padded, merged where they touch."""
        mask = cv2.dilate(changed.astype(np.uint8), np.ones((3, 3), np.uint8))
        count, _, stats, _ = cv2.connectedComponentsWithStats(mask, connectivity=8)
        pad = self.margin * width
        boxes = []
        for left, top, wide, tall, area in stats[1:count]:
            if area < _MIN_BLOB:
                continue
            boxes.append(
                Box(
                    round(left * scale - pad),
                    round(top * scale - pad),
                    round((left + wide) * scale + pad),
                    round((top + tall) * scale + pad),
                ).clip(width, height)
            )
        return merge_boxes(boxes)


def create_motion_gate(config: MotionConfig) -> MotionGate | None:
    """The gate a camera's motion settings describe (None: gating off)."""
    if not config.enabled:
        return None
    return MotionGate(
        config.threshold,
        config.keepalive,
        margin=config.margin,
        max_share=config.max_share,
    )


def merge_boxes(boxes: list[Box]) -> list[Box]:
    """The union boxes of every group of overlapping boxes (repeated until none overlap)."""
    merged = list(boxes)
    changed = True
    while changed:
        changed = False
        out: list[Box] = []
        for box in merged:
            for n, other in enumerate(out):
                if _overlap(box, other):
                    out[n] = Box(
                        min(box.left, other.left),
                        min(box.top, other.top),
                        max(box.right, other.right),
                        max(box.bottom, other.bottom),
                    )
                    changed = True
                    break
            else:
                out.append(box)
        merged = out
    return merged


def _overlap(a: Box, b: Box) -> bool:
    return a.left < b.right and b.left < a.right and a.top < b.bottom and b.top < a.bottom


def _thumbnail(image: RGBImage) -> npt.NDArray[np.uint8]:
    height, width = image.shape[:2]
    scale = min(_THUMB_WIDTH / width, 1.0)
    size = (max(round(width * scale), 1), max(round(height * scale), 1))
    grey = cv2.cvtColor(image, cv2.COLOR_RGB2GRAY)  # first: a third of the pixels to average
    small = cv2.resize(grey, size, interpolation=cv2.INTER_AREA)
    return np.asarray(cv2.GaussianBlur(small, (5, 5), 0), dtype=np.uint8)
