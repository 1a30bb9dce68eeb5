"""Typed containers shared by every stage (vision, gallery, edge, server). No I/O here."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import TypeAlias

import numpy as np
import numpy.typing as npt

RGBImage: TypeAlias = npt.NDArray[np.uint8]
"""An H x W x 3 uint8 array in RGB order."""

Embedding: TypeAlias = npt.NDArray[np.float32]
"""A 1-d float32 face descriptor."""

Point: TypeAlias = tuple[float, float]


@dataclass(frozen=True, slots=True)
class Box:
    """An axis-aligned box in pixels; ``right`` and ``bottom`` are exclusive."""

    left: int
    top: int
    right: int
    bottom: int

    @property
    def width(self) -> int:
        return self.right - self.left

    @property
    def height(self) -> int:
        return self.bottom - self.top

    @property
    def area(self) -> int:
        return max(self.width, 0) * max(self.height, 0)

    def as_list(self) -> list[int]:
        """The wire form: ``[left, top, right, bottom]``."""
        return [self.left, self.top, self.right, self.bottom]

    def clip(self, width: int, height: int) -> Box:
        """The part of the box inside a ``width`` x ``height`` image."""
        return Box(
            max(0, min(self.left, width)),
            max(0, min(self.top, height)),
            max(0, min(self.right, width)),
            max(0, min(self.bottom, height)),
        )

    def moved(self, dx: int, dy: int) -> Box:
        """The same box ``dx`` px to the right and ``dy`` px down."""
        return Box(self.left + dx, self.top + dy, self.right + dx, self.bottom + dy)

    def scaled(self, factor: float) -> Box:
        """The box in an image scaled by ``factor`` (rounded to whole pixels)."""
        return Box(
            round(self.left * factor),
            round(self.top * factor),
            round(self.right * factor),
            round(self.bottom * factor),
        )

    def iou(self, other: Box) -> float:
        """Intersection over union with another box."""
        inter = Box(
            max(self.left, other.left),
            max(self.top, other.top),
            min(self.right, other.right),
            min(self.bottom, other.bottom),
        )
        if inter.width <= 0 or inter.height <= 0:
            return 0.0
        union = self.area + other.area - inter.area
        return inter.area / union if union else 0.0


@dataclass(frozen=True, slots=True)
class DetectedFace:
    """What a detector returns: a box and the detector's own confidence score."""

    box: Box
    score: float


@dataclass(frozen=True, slots=True)
class Landmarks:
    """Five facial points, in dlib's 5-point order (two points per eye, then the nose)."""

    points: tuple[Point, ...]

    @property
    def eye_a(self) -> Point:
        """Centre of the eye whose points come first (the subject's left eye)."""
        (x0, y0), (x1, y1) = self.points[0], self.points[1]
        return ((x0 + x1) / 2, (y0 + y1) / 2)

    @property
    def eye_b(self) -> Point:
        """Centre of the other eye (the subject's right eye)."""
        (x0, y0), (x1, y1) = self.points[2], self.points[3]
        return ((x0 + x1) / 2, (y0 + y1) / 2)

    @property
    def nose(self) -> Point:
        return self.points[4]

    def as_list(self) -> list[list[float]]:
        return [[round(x, 1), round(y, 1)] for x, y in self.points]


@dataclass(frozen=True, slots=True)
class Quality:
    """How usable a face is for recognition; ``score`` in [0, 1], higher is better."""

    score: float
    size: int
    """Shorter side of the face box, in pixels."""
    sharpness: float
    """Variance of the Laplacian of the aligned grey chip."""
    yaw: float
    """Estimated left-right head turn in degrees (0 is frontal)."""
    roll: float
    """In-plane tilt of the eye line in degrees."""


@dataclass(slots=True)
class Face:
    """One face found in an image, carried through every stage of the pipeline."""

    box: Box
    detector_score: float
    landmarks: Landmarks
    chip: RGBImage
    """The aligned RGB chip the embedder reads (its ``align``; side: its ``chip_size``)."""
    quality: Quality
    embedding: Embedding | None = None


class MatchStatus(StrEnum):
    """The open-set verdict for one face."""

    KNOWN = "known"
    UNKNOWN = "unknown"
    UNCERTAIN = "uncertain"


@dataclass(frozen=True, slots=True)
class Candidate:
    """One enrolled person and the distance of their nearest template to a face."""

    person_id: int
    name: str
    distance: float


@dataclass(frozen=True, slots=True)
class Match:
    """The decision for one face: who (if anyone), how far, how sure, and the runners-up."""

    status: MatchStatus
    person_id: int | None
    name: str | None
    distance: float | None
    """Distance to the best candidate (named or not); ``None`` with an empty gallery."""
    confidence: float
    """In [0, 1]: how sure the verdict is: for a known or uncertain face, that ``person_id``
    is this face; for an unknown face, that it is nobody enrolled."""
    candidates: tuple[Candidate, ...] = field(default=())
