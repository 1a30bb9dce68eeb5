"""Aligned face chips: the face turned upright, scaled and cropped as dlib's ResNet expects."""

from __future__ import annotations

import dlib
import numpy as np

from facewatch.types import Box, Landmarks, RGBImage
from facewatch.vision._dlib import to_shape
from facewatch.vision.image import ensure_rgb

CHIP_SIZE = 150
"""Side of the chips dlib's ResNet embedder reads."""
CHIP_PADDING = 0.25
"""Border around the landmarks, as a fraction of the face; dlib's recognition example uses 0.25."""


def align_face(
    image: RGBImage,
    box: Box,
    landmarks: Landmarks,
    *,
    size: int = CHIP_SIZE,
    padding: float = CHIP_PADDING,
) -> RGBImage:
    """A ``size`` x ``size`` RGB chip of the face, eyes level and at a fixed position."""
    if len(landmarks.points) != 5:
        raise ValueError(f"alignment needs the 5 dlib landmarks, got {len(landmarks.points)}")
    chip = dlib.get_face_chip(ensure_rgb(image), to_shape(box, landmarks), size, padding)
    return np.ascontiguousarray(chip, dtype=np.uint8)
